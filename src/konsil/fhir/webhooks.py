"""Webhooks: case events to each organization's subscriptions, signed per Standard Webhooks
(https://www.standardwebhooks.com: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<HMAC-SHA256>`),
retried with exponential backoff, every attempt kept in the delivery log. Payloads name the event and the
resources (ids and FHIR references), never PHI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit

from . import egress
from .errors import FhirError
from .models import WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)

# The lifecycle action (cases.lifecycle) -> the event subscribers name.
EVENTS = {
    "submit": "case.submitted", "triage": "case.triaged", "offer": "case.offered", "accept": "case.accepted",
    "request_info": "case.info_requested", "deliver": "opinion.delivered", "amend": "opinion.amended",
    "close": "case.closed",
}
ALL = "*"
PROGRAM_EVENTS = ("determination.issued", "determination.amended")  # programs.ProgramEvent types
BACKOFF_SECONDS = (5, 300, 1800, 7200, 18000, 36000)  # after attempts 1..6; then the delivery has failed
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
TIMEOUT_SECONDS = 10


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for this message."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret: str, headers, body: bytes, *, tolerance: int = 300) -> bool:
    """What a receiver does (used by the tests): a fresh timestamp and one matching v1 signature."""
    msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > tolerance:
        return False
    expected = sign(secret, msg_id, int(stamp), body)
    return any(hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split())


def subscribe(*, actor, organization, url: str, events) -> WebhookSubscription:
    events = sorted(set(events or []))
    known = {*EVENTS.values(), *PROGRAM_EVENTS}
    if not events or any(e != ALL and e not in known for e in events):
        raise FhirError(_("Choose events among: %(names)s.") % {"names": ", ".join(sorted(known))},
                        expression="events")
    if not str(url or "").startswith(("https://", "http://")) or len(url) > 500:
        raise FhirError(_("Give the receiver's http(s) URL."), expression="url")
    try:
        egress.check_url(url)
    except egress.EgressRefused as exc:
        raise FhirError(str(exc), expression="url") from None
    with transaction.atomic():
        sub = WebhookSubscription.objects.create(organization=organization, url=url, events=events,
                                                 secret=new_secret())
        emit(actor=actor, action="webhook.subscribe", obj=sub, detail={"events": events})
    return sub


def payload(event: str, case, status_change) -> dict:
    resources = [f"ServiceRequest/{case.pk}", f"Task/{case.pk}", f"Patient/{case.patient_id}"]
    if event in ("opinion.delivered", "opinion.amended"):
        opinion = case.opinions.filter(signed_at__isnull=False).order_by("-version").first()
        if opinion is not None:
            resources.append(f"DiagnosticReport/{opinion.pk}")
    return {"type": event, "timestamp": status_change.created_at.isoformat(),
            "data": {"case": {"id": str(case.pk), "reference": case.reference, "status": case.status},
                     "resources": resources}}


def on_status_change(sender, instance, created, **kwargs) -> None:
    """post_save of cases.StatusChange (every lifecycle move): one delivery per matching subscription."""
    event = EVENTS.get(instance.action)
    if not created or event is None:
        return
    case = instance.case
    orgs = Q(organization_id=case.network_id) | Q(organization__memberships__user_id=case.requester_id,
                                                 organization__memberships__active=True)
    if case.sponsor_id:
        orgs |= Q(organization_id=case.sponsor_id)
    subs = [s for s in WebhookSubscription.objects.filter(orgs, active=True).distinct()
            if event in s.events or ALL in s.events]
    if not subs:
        return
    body = payload(event, case, instance)
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(subscription=s, event=event, payload=body, next_attempt_at=timezone.now()) for s in subs])
    ids = [str(d.pk) for d in deliveries]
    transaction.on_commit(lambda: [enqueue(i) for i in ids])


def on_program_event(sender, instance, created, **kwargs) -> None:
    """post_save of programs.ProgramEvent (a determination): one delivery per subscription of the sponsor."""
    if not created:
        return
    kind = instance.type
    subs = [s for s in WebhookSubscription.objects.filter(organization_id=instance.program.sponsor_id, active=True)
            if ALL in s.events or kind in s.events]
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(subscription=s, event=kind, payload=instance.payload, next_attempt_at=timezone.now())
         for s in subs])
    ids = [str(d.pk) for d in deliveries]
    if ids:
        transaction.on_commit(lambda: [enqueue(i) for i in ids])


def enqueue(delivery_id: str, *, when=None) -> None:
    from django_tasks import task_backends

    from .tasks import deliver_webhook

    if when is None:
        deliver_webhook.enqueue(delivery_id)
    elif task_backends["default"].supports_defer:
        deliver_webhook.using(run_after=when).enqueue(delivery_id)
    # else: `retry_due` (konsil schedule) picks it up when due


def deliver(delivery_id: str, *, opener=None) -> WebhookDelivery | None:
    """One attempt: POST the signed payload; a 2xx ends it, anything else schedules the next try.

    The request is made outside any transaction (no lock held while a receiver is slow); delivery is at least
    once, receivers deduplicate on `webhook-id`."""
    delivery = WebhookDelivery.objects.select_related("subscription").filter(
        pk=delivery_id, state=WebhookDelivery.State.PENDING).first()
    if delivery is None:
        return None
    sub = delivery.subscription
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    msg_id, stamp = f"msg_{delivery.pk.hex}", int(time.time())
    status, error = None, ""
    if not sub.url.startswith(("https://", "http://")):
        error = "unsupported URL scheme"
    else:
        request = urllib.request.Request(sub.url, data=body, method="POST", headers={  # noqa: S310 - http(s) only
            "content-type": "application/json", "user-agent": "Konsil-Webhooks/1",
            "webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": sign(sub.secret, msg_id, stamp, body)})
        try:
            with (opener or egress.open_guarded)(request, timeout=TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = str(getattr(exc, "reason", exc))[:200]
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(
            pk=delivery_id, state=WebhookDelivery.State.PENDING).first()
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = status, error
        if status is not None and 200 <= status < 300:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.State.DELIVERED, timezone.now(), None)
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.state, delivery.next_attempt_at = WebhookDelivery.State.FAILED, None
        else:
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=BACKOFF_SECONDS[delivery.attempts - 1])
        delivery.save()
    if delivery.state == WebhookDelivery.State.PENDING:
        enqueue(str(delivery.pk), when=delivery.next_attempt_at)
    return delivery


def retry_due() -> int:
    """Enqueue the pending deliveries whose next attempt is due (for backends that cannot defer)."""
    ids = list(WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING,
                                              next_attempt_at__lte=timezone.now()).values_list("pk", flat=True))
    for pk in ids:
        enqueue(str(pk))
    return len(ids)


def replay(*, actor, delivery: WebhookDelivery) -> None:
    """Send a delivery again (from the delivery log), whatever its state."""
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.PENDING,
                                                              next_attempt_at=timezone.now())
        emit(actor=actor, action="webhook.replay", obj=delivery)
        transaction.on_commit(lambda: enqueue(str(delivery.pk)))
