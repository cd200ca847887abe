"""Referral documents sent by URL: checked when the referral arrives, fetched after it commits from the sender's
FHIR server (under the client's registered base URL, through the egress guard, with the client's fetch token),
retried with backoff, then stored as an ordinary record of the case (encrypted, processed, audited).

A URL may be relative ("Binary/123", resolved against the base) or absolute under the base. The answer may be the
raw bytes or a FHIR Binary resource (its `data` decoded). Failures are kept per document with a reason; the
coordinators are told when a document could not be fetched after the last attempt."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urljoin

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.core.errors import DomainError

from . import egress
from .errors import FhirError
from .models import RemoteDocument

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 20
BACKOFF_SECONDS = (60, 300, 1800, 7200)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1


def resolve(client, att: dict, i: int, j: int) -> str:
    """The absolute URL of an attachment sent by reference, or a FhirError naming the attachment."""
    where = f"Bundle.entry[{i}].resource.content[{j}].attachment"
    url = str(att.get("url") or "").strip()
    if not url:
        raise FhirError(_("Send each document inline (attachment.data) or by URL (attachment.url)."),
                        expression=where)
    base = (client.source_base or "").rstrip("/") + "/"
    if base == "/":
        raise FhirError(_("Documents by URL need the sender's FHIR base URL registered with the client; send them "
                          "inline (attachment.data) instead."), code="not-supported", expression=f"{where}.url")
    absolute = urljoin(base, url)
    if not absolute.startswith(base) or len(absolute) > 2000:
        raise FhirError(_("A document URL must be under the sender's registered FHIR base URL."),
                        expression=f"{where}.url")
    try:
        egress.check_url(absolute)
    except egress.EgressRefused as exc:
        raise FhirError(str(exc), expression=f"{where}.url") from None
    return absolute


def plan(*, case, client, items) -> list[RemoteDocument]:
    """Rows for the documents to fetch; their fetch starts once the referral commits."""
    rows = [RemoteDocument.objects.create(case=case, client=client, url=url,
                                          title=str(att.get("title") or "document")[:200],
                                          content_type=str(att.get("contentType") or "")[:100],
                                          next_attempt_at=timezone.now()) for att, url in items]
    ids = [str(r.pk) for r in rows]
    if ids:
        transaction.on_commit(lambda: [_enqueue(i) for i in ids])
    return rows


def _enqueue(doc_id: str, *, when=None) -> None:
    from django_tasks import task_backends

    from .tasks import fetch_remote_document

    if when is None:
        fetch_remote_document.enqueue(doc_id)
    elif task_backends["default"].supports_defer:
        fetch_remote_document.using(run_after=when).enqueue(doc_id)
    # else: `retry_due` (konsil schedule) picks it up when due


def _download(doc: RemoteDocument) -> tuple[bytes, str]:
    headers = {"accept": f"{doc.content_type or '*/*'}, application/fhir+json;q=0.5",
               "user-agent": "Konsil-Referrals/1"}
    if doc.client.fetch_token:
        headers["authorization"] = f"Bearer {doc.client.fetch_token}"
    request = urllib.request.Request(doc.url, headers=headers)  # noqa: S310 - http(s), checked by egress
    limit = settings.KONSIL_MAX_ATTACHMENT_BYTES
    with egress.open_guarded(request, timeout=TIMEOUT_SECONDS) as response:
        body = response.read(3 * limit + 1)
        kind = response.headers.get("content-type", "").split(";")[0].strip()
    if kind in ("application/fhir+json", "application/json"):
        try:
            resource = json.loads(body)
            if resource.get("resourceType") == "Binary":
                return base64.b64decode(resource.get("data") or "", validate=True), resource.get("contentType", "")
        except (ValueError, AttributeError, binascii.Error):
            raise ValueError("the answer is not a FHIR Binary") from None
    if len(body) > limit:
        raise ValueError("the document is too large")
    return body, kind


def fetch(doc_id: str) -> RemoteDocument | None:
    """One attempt (outside any transaction while downloading); idempotent once fetched or failed."""
    doc = RemoteDocument.objects.select_related("client__service_user", "case").filter(
        pk=doc_id, state=RemoteDocument.State.PENDING).first()
    if doc is None:
        return None
    content, kind, error = b"", "", ""
    try:
        content, kind = _download(doc)
        if not content:
            error = "empty document"
    except urllib.error.HTTPError as exc:
        error = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = str(getattr(exc, "reason", exc))[:200]
    with transaction.atomic():
        doc = RemoteDocument.objects.select_for_update().filter(pk=doc_id, state=RemoteDocument.State.PENDING).first()
        if doc is None:
            return None
        doc.attempts += 1
        if not error:
            try:
                with transaction.atomic():
                    from konsil.records.intake import store_record

                    doc.attachment = store_record(actor=doc.client.service_user, case=doc.case, content=content,
                                                  filename=doc.title or "document",
                                                  content_type=doc.content_type or kind)
            except DomainError as exc:
                error = str(exc.message)[:200]
        if not error:
            doc.state, doc.error, doc.next_attempt_at = RemoteDocument.State.FETCHED, "", None
        elif doc.attempts >= MAX_ATTEMPTS or doc.attachment_id:
            doc.state, doc.error, doc.next_attempt_at = RemoteDocument.State.FAILED, error, None
            _tell_coordinators(doc)
        else:
            doc.error = error
            doc.next_attempt_at = timezone.now() + timedelta(seconds=BACKOFF_SECONDS[doc.attempts - 1])
        doc.save()
        emit(actor=doc.client.service_user, action="fhir.referral.fetch", obj=doc.case, patient_id=doc.case.patient_id,
             outcome="success" if doc.state == RemoteDocument.State.FETCHED else "failure",
             detail={"document": str(doc.pk), "attempt": doc.attempts, "error": doc.error[:100]})
    if doc.state == RemoteDocument.State.PENDING:
        _enqueue(str(doc.pk), when=doc.next_attempt_at)
    return doc


def _tell_coordinators(doc: RemoteDocument) -> None:
    from konsil.cases import relations as rel
    from konsil.cases.notify import notify

    notify(doc.case, "remote_document_failed", {rel.COORDINATOR})


def retry_due() -> int:
    ids = list(RemoteDocument.objects.filter(state=RemoteDocument.State.PENDING,
                                             next_attempt_at__lte=timezone.now()).values_list("pk", flat=True))
    for pk in ids:
        _enqueue(str(pk))
    return len(ids)
