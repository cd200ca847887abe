"""Follow-up writes: plan the questionnaires after delivery, send them with a single-use link, remind, record a
non-response, take an answer (link or case page) and rebuild the case's outcome record. Audited, atomic."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.choices import Status
from konsil.core import authz
from konsil.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from . import conf, notify, questionnaires
from .models import CostEntry, FollowUp, FollowUpStatus, Outcome, ProcedureStatus, Respondent

OPEN = (FollowUpStatus.SCHEDULED, FollowUpStatus.SENT)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _language(case) -> str:
    language = case.identity.language if case.identity_id else settings.LANGUAGE_CODE
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _patient_email(case) -> str:
    if case.identity_id and case.identity.email:
        return case.identity.email
    return case.patient.user.email if case.patient.user_id else ""


def _audit(actor, action: str, follow_up: FollowUp, *, outcome: str = "success", **detail) -> None:
    emit(actor=actor, action=action, obj=follow_up, patient_id=follow_up.case.patient_id,
         role=rel.primary_relation(rel.relations(actor, follow_up.case)) if getattr(actor, "is_authenticated", False)
         else (follow_up.respondent if actor != "system" else rel.SYSTEM), outcome=outcome,
         detail={"case": str(follow_up.case_id), "day": follow_up.day, "respondent": follow_up.respondent, **detail})


def plan(case) -> list[FollowUp]:
    """The follow-ups a delivered case is owed (idempotent): each configured day, the patient and the treating
    physician when there is an address to write to."""
    if case.delivered_at is None:
        return []
    created = []
    respondents = [(Respondent.PATIENT, _patient_email(case))]
    if case.treating_physician_email:
        respondents.append((Respondent.PHYSICIAN, case.treating_physician_email))
    for day in conf.days():
        for respondent, email in respondents:
            if FollowUp.objects.filter(case=case, respondent=respondent, day=day).exists():
                continue
            try:
                with transaction.atomic():
                    follow_up = FollowUp.objects.create(
                        case=case, respondent=respondent, day=day, due_at=case.delivered_at + timedelta(days=day),
                        language=_language(case), email=email,
                        questionnaire=questionnaires.canonical(respondent))
                    _audit("system", "followup.plan", follow_up)
            except IntegrityError:
                continue  # planned by a concurrent run
            created.append(follow_up)
    return created


def plan_delivered(now=None) -> int:
    from konsil.cases.models import Case

    cases = Case.objects.filter(status__in=[Status.DELIVERED, Status.CLOSED], delivered_at__isnull=False).exclude(
        follow_ups__day__in=conf.days()).select_related("identity", "patient__user").distinct()
    return sum(len(plan(case)) for case in cases[:500])


def _issue(follow_up: FollowUp, now) -> str:
    secret = secrets.token_urlsafe(32)
    follow_up.token_hash = token_hash(secret)
    return secret


def send_due(now=None) -> int:
    """Send every questionnaire whose day has come (a fresh single-use link each)."""
    now = now or timezone.now()
    sent = 0
    for pk in FollowUp.objects.filter(status=FollowUpStatus.SCHEDULED, due_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            follow_up = FollowUp.objects.select_for_update().select_related("case").filter(
                pk=pk, status=FollowUpStatus.SCHEDULED).first()
            if follow_up is None:
                continue
            secret = _issue(follow_up, now)
            follow_up.status, follow_up.sent_at = FollowUpStatus.SENT, now
            follow_up.expires_at = now + timedelta(days=conf.link_days())
            follow_up.save()
            _audit("system", "followup.send", follow_up, emailed=bool(follow_up.email))
            if follow_up.email:
                transaction.on_commit(lambda f=follow_up, s=secret: notify.send(f, s, reminder=False))
            sent += 1
    return sent


def send_reminders(now=None) -> int:
    """Unanswered after KONSIL_FOLLOW_UP_REMIND_DAYS: a reminder with a new link (the previous one stops)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=conf.remind_days())
    reminded = 0
    candidates = FollowUp.objects.filter(status=FollowUpStatus.SENT, expires_at__gt=now,
                                         reminders_sent__lt=conf.max_reminders()).exclude(email="")
    for follow_up in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            row = FollowUp.objects.select_for_update().select_related("case").filter(
                pk=follow_up, status=FollowUpStatus.SENT).first()
            if row is None or (row.last_reminded_at or row.sent_at) > cutoff:
                continue
            secret = _issue(row, now)
            row.reminders_sent += 1
            row.last_reminded_at = now
            row.save()
            _audit("system", "followup.remind", row, reminder=row.reminders_sent)
            transaction.on_commit(lambda f=row, s=secret: notify.send(f, s, reminder=True))
            reminded += 1
    return reminded


def close_unanswered(now=None) -> int:
    """A questionnaire whose link expired unanswered is recorded as no response (its answers stay unknown)."""
    now = now or timezone.now()
    closed = 0
    for pk in FollowUp.objects.filter(status=FollowUpStatus.SENT, expires_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            row = FollowUp.objects.select_for_update().select_related("case").filter(
                pk=pk, status=FollowUpStatus.SENT).first()
            if row is None:
                continue
            row.status, row.closed_at, row.token_hash = FollowUpStatus.NO_RESPONSE, now, ""
            row.save()
            _audit("system", "followup.no_response", row)
            rebuild_outcome(row.case)
            closed += 1
    return closed


def find_by_secret(secret: str) -> FollowUp:
    """The follow-up a link's secret opens; refusals say why (unknown, answered, expired, replaced)."""
    secret = (secret or "").strip()
    if not secret or len(secret) > 100:
        raise NotFound(_("This link is not valid. Check that you copied all of it."), field="token")
    follow_up = FollowUp.objects.select_related("case__identity", "case__patient").filter(
        token_hash=token_hash(secret)).first()
    if follow_up is None:
        emit(actor="anonymous", action="followup.open", object_type="outcomes.followup", outcome="denied",
             detail={"reason": "unknown"})
        raise NotFound(_("This link is not valid, or it was replaced by a newer one: use the latest e-mail."),
                       field="token", code="link_invalid")
    return check_open(follow_up)


def check_open(follow_up: FollowUp) -> FollowUp:
    if follow_up.status == FollowUpStatus.ANSWERED:
        raise Conflict(_("This questionnaire was already answered. Thank you!"), field="token", code="link_used")
    if follow_up.status != FollowUpStatus.SENT or (follow_up.expires_at and follow_up.expires_at <= timezone.now()):
        raise Conflict(_("This link has expired. The care team may contact you instead."), field="token",
                       code="link_expired")
    return follow_up


def answer(*, follow_up_id, data, actor=None, via: str = "link") -> FollowUp:
    """Record the answers (single use: the link stops working) and rebuild the outcome record."""
    with transaction.atomic():
        follow_up = FollowUp.objects.select_for_update(of=("self",)).select_related("case__identity").filter(
            pk=follow_up_id).first()
        if follow_up is None:
            raise NotFound(_("This questionnaire was not found."))
        if via == "case_page":
            if not (authz.can("followup.answer", actor, follow_up.case)
                    and follow_up.respondent == Respondent.PATIENT):
                raise PermissionDenied(_("Only the patient's side answers this questionnaire here."))
            if follow_up.status == FollowUpStatus.SCHEDULED and follow_up.due_at <= timezone.now():
                follow_up.status, follow_up.sent_at = FollowUpStatus.SENT, timezone.now()
                follow_up.expires_at = timezone.now() + timedelta(days=conf.link_days())
        check_open(follow_up)
        values, errors = questionnaires.clean(follow_up.respondent, data)
        if errors:
            raise ValidationFailed(_("Some answers need your attention."), errors=errors)
        resource = questionnaires.response(follow_up.respondent, values, case_reference=follow_up.case.reference,
                                           language=follow_up.language)
        follow_up.response = json.dumps(resource)
        follow_up.status, follow_up.answered_at, follow_up.answered_via = FollowUpStatus.ANSWERED, timezone.now(), via
        follow_up.answered_by = actor if getattr(actor, "is_authenticated", False) else None
        follow_up.token_hash = ""
        follow_up.save()
        _audit(actor if follow_up.answered_by else "anonymous", "followup.answer", follow_up, via=via)
        rebuild_outcome(follow_up.case)
    return follow_up


# --- the outcome record ------------------------------------------------------------------------------------

CLINICAL_FIELDS = {"followed": "recommendation_followed", "diagnosis_changed": "diagnosis_changed",
                   "plan_changed": "plan_changed", "procedure": "procedure_status", "status": "patient_status"}


def _answered(case) -> list[tuple[FollowUp, dict]]:
    rows = FollowUp.objects.filter(case=case, status=FollowUpStatus.ANSWERED).order_by("answered_at")
    return [(row, questionnaires.answers_of(json.loads(row.response))) for row in rows if row.response]


def price(code: str) -> CostEntry | None:
    return CostEntry.objects.filter(code=code).order_by("-year").first() if code else None


def rebuild_outcome(case) -> Outcome:
    """From the answers (latest first; for the clinical plan the physician's word outranks the patient's; the
    satisfaction is the patient's own) and the cost table. What nobody said stays unknown."""
    outcome, _created = Outcome.objects.select_for_update().get_or_create(case=case)
    answered = _answered(case)
    chosen: dict[str, object] = {}
    for respondent in (Respondent.PATIENT, Respondent.PHYSICIAN):  # the physician's answers, applied last, win
        for row, values in answered:
            if row.respondent != respondent:
                continue
            for link_id, value in values.items():
                if link_id in CLINICAL_FIELDS and value != "unknown":
                    chosen[CLINICAL_FIELDS[link_id]] = value
    for field in CLINICAL_FIELDS.values():
        setattr(outcome, field, chosen.get(field, "unknown"))
    patient_nps = [values["nps"] for row, values in answered
                   if row.respondent == Respondent.PATIENT and "nps" in values]
    outcome.nps = patient_nps[-1] if patient_nps else None
    status = outcome.procedure_status
    outcome.procedure_avoided = {ProcedureStatus.AVOIDED: True, ProcedureStatus.DONE: False,
                                 ProcedureStatus.CHANGED: False}.get(status)
    _price(outcome, case)
    outcome.answers = len(answered)
    outcome.non_responses = FollowUp.objects.filter(case=case, status=FollowUpStatus.NO_RESPONSE).count()
    outcome.last_answer_at = answered[-1][0].answered_at if answered else None
    outcome.save()
    return outcome


def _price(outcome: Outcome, case) -> None:
    proposed = price(case.proposed_cpt)
    alternative = price(outcome.alternative_code)
    outcome.cost_proposed, outcome.cost_alternative = proposed, alternative
    difference = None
    if proposed is not None:
        if outcome.procedure_status == ProcedureStatus.DONE:
            difference = Decimal("0")
        elif outcome.procedure_status == ProcedureStatus.AVOIDED:
            difference = (alternative.amount if alternative else Decimal("0")) - proposed.amount
        elif outcome.procedure_status == ProcedureStatus.CHANGED and alternative is not None:
            difference = alternative.amount - proposed.amount
        if alternative is not None and alternative.currency != proposed.currency:
            difference = None
    outcome.cost_difference = difference
    outcome.cost_currency = proposed.currency if difference is not None else ""


def set_alternative(*, actor, case, code: str) -> Outcome:
    """A coordinator names the CPT code of the care that followed (prices a changed plan)."""
    if not authz.can("outcome.edit_costs", actor) or rel.COORDINATOR not in rel.relations(actor, case):
        raise PermissionDenied(_("Only the case's coordinators record this."))
    code = (code or "").strip().upper()
    if code and not (len(code) == 5 and code.isalnum() and code.isascii()):
        raise ValidationFailed(_("A CPT code is five letters or digits."), field="alternative_code")
    with transaction.atomic():
        outcome, _created = Outcome.objects.select_for_update().get_or_create(case=case)
        outcome.alternative_code = code
        outcome.save(update_fields=["alternative_code", "updated_at"])
        emit(actor=actor, action="outcome.alternative", obj=outcome, patient_id=case.patient_id, role=rel.COORDINATOR,
             detail={"case": str(case.pk), "code": code})
        return rebuild_outcome(case)


def save_cost(*, actor, data: dict, entry: CostEntry | None = None) -> CostEntry:
    """Add or edit one row of the cost table; every row names its public source and year."""
    from django.core.exceptions import ValidationError

    if not authz.can("outcome.edit_costs", actor):
        raise PermissionDenied(_("Only coordinators and organization admins edit the cost table."))
    entry = entry or CostEntry()
    errors = {}
    fields = ("code", "description", "amount", "currency", "source", "source_url", "year")
    for name in fields:
        value = data.get(name, "")
        value = value.strip() if isinstance(value, str) else value
        if name == "code":
            value = str(value).upper()
        setattr(entry, name, value if value != "" or name in ("source_url",) else None)
    entry.currency = (entry.currency or "USD").upper()
    entry.updated_by = actor
    if entry.code and not (len(entry.code) == 5 and entry.code.isalnum() and entry.code.isascii()):
        errors["code"] = [_("A CPT code is five letters or digits.")]
    try:
        entry.full_clean(exclude=["updated_by"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name if name in fields else "code", []).extend(messages)
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)
    with transaction.atomic():
        entry.save()
        emit(actor=actor, action="outcome.cost_save", obj=entry, role="coordinator",
             detail={"code": entry.code, "year": entry.year})
        for outcome in Outcome.objects.filter(case__proposed_cpt=entry.code).select_related("case") | \
                Outcome.objects.filter(alternative_code=entry.code).select_related("case"):
            rebuild_outcome(outcome.case)  # the estimates follow the table
    return entry
