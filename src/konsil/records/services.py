"""Records requests: one click from triage's missing items; audited; the patient's side is told."""

from __future__ import annotations

from datetime import timedelta

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.notify import notify
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed

from .models import RecordsRequest, RequestMethod, RequestStatus

DEFAULT_DUE_DAYS = 5


def _coordinator(actor, case) -> None:
    if rel.COORDINATOR not in rel.relations(actor, case):
        raise PermissionDenied(_("Only the case's coordinators request records."))


def request_missing(
    *, actor, case, items: list[dict], method: str = RequestMethod.PATIENT, facility: str = "",
    destination: str = "", due_days: int = DEFAULT_DUE_DAYS, authorization=None,
) -> list[RecordsRequest]:
    """Open a request for each missing checklist item ({"item", "label"}); items already requested are skipped."""
    _coordinator(actor, case)
    if method not in RequestMethod.values:
        raise ValidationFailed(_("Choose how to request the records."), field="method")
    if method in (RequestMethod.FAX, RequestMethod.EMAIL) and not (destination or "").strip():
        raise ValidationFailed(_("Give the fax number or email address."), field="destination")
    if method != RequestMethod.PATIENT:
        _check_authorization(case, authorization)
    if not isinstance(due_days, int) or not 1 <= due_days <= 60:
        raise ValidationFailed(_("Choose between 1 and 60 days."), field="due_days")
    clean = [{"item": str(i.get("item", ""))[:64], "label": str(i.get("label", ""))[:200]}
             for i in items if isinstance(i, dict) and i.get("item")]
    if not clean:
        raise ValidationFailed(_("Choose at least one missing item."), field="items")
    open_items = set(case.records_requests.filter(status=RequestStatus.REQUESTED).values_list("item", flat=True))
    due_on = timezone.localdate() + timedelta(days=due_days)
    with transaction.atomic():
        created = [
            RecordsRequest.objects.create(
                case=case, item=i["item"], label=i["label"] or i["item"], facility=(facility or "")[:200],
                method=method, destination=(destination or "")[:200], due_on=due_on, requested_by=actor,
                authorization=authorization if method != RequestMethod.PATIENT else None)
            for i in clean if i["item"] not in open_items
        ]
        if not created:
            raise Conflict(_("These records are already requested."), field="items")
        for req in created:
            emit(actor=actor, action="records.request", obj=req, patient_id=case.patient_id, role=rel.COORDINATOR,
                 detail={"item": req.item, "method": req.method})
        notify(case, "records_request", {rel.PATIENT, rel.CAREGIVER, rel.REQUESTER}, actor=actor)
    return created


def _check_authorization(case, authorization) -> None:
    """A facility releases records only with the patient's signed authorization (HIPAA 45 CFR 164.508)."""
    if authorization is not None:
        if authorization.case_id != case.pk or authorization.parent_id is not None:
            raise ValidationFailed(_("Choose a document of this case as the signed authorization."),
                                   field="authorization")
        return
    consent = getattr(case, "consent", None)
    if consent is None or "obtain_records" not in (consent.scope or []):
        raise ValidationFailed(_("Attach the patient's signed authorization, or have the patient sign the consent to "
                                 "obtain records first."), field="authorization")


REMINDER_EVERY = timedelta(days=1)


def send_reminders(now=None) -> int:
    """Overdue requests are chased once a day: the patient's side for uploads, the coordinators for facilities."""
    now = now or timezone.now()
    due = RecordsRequest.objects.filter(status=RequestStatus.REQUESTED, due_on__lt=timezone.localdate(now)).filter(
        models.Q(last_reminded_at__isnull=True) | models.Q(last_reminded_at__lte=now - REMINDER_EVERY),
    ).select_related("case")
    sent = 0
    for req in due:
        with transaction.atomic():
            who = {rel.COORDINATOR} if req.outside else {rel.PATIENT, rel.CAREGIVER, rel.REQUESTER}
            notify(req.case, "records_overdue", who)
            req.reminders_sent += 1
            req.last_reminded_at = now
            req.save(update_fields=["reminders_sent", "last_reminded_at", "updated_at"])
            emit(actor="records", action="records.remind", obj=req, patient_id=req.case.patient_id,
                 detail={"reminders": req.reminders_sent})
        sent += 1
    return sent


def mark_received(*, actor, request: RecordsRequest) -> RecordsRequest:
    _coordinator(actor, request.case)
    if request.status != RequestStatus.REQUESTED:
        raise Conflict(_("This request is no longer open."))
    with transaction.atomic():
        request.status, request.received_at = RequestStatus.RECEIVED, timezone.now()
        request.save(update_fields=["status", "received_at", "updated_at"])
        emit(actor=actor, action="records.received", obj=request, patient_id=request.case.patient_id,
             role=rel.COORDINATOR)
    return request
