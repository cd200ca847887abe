"""Mandated reviews: a payer's care manager refers, the member accepts and consents, the opinion's delivery
issues a structured determination (agree / modify / alternative / against) the payer sees, never the narrative."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.roles import Role
from konsil.audit.services import emit
from konsil.cases.choices import Channel, Urgency
from konsil.core import authz
from konsil.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from . import eligibility, inputs
from .models import Determination, Enrollment, Mandate, Member, Outcome, Program, ProgramEvent, Service

log = logging.getLogger(__name__)


def urgency_for(deadline) -> str:
    """The decision deadline drives the case's urgency: two days or less STAT, a week or less urgent."""
    days = (deadline - timezone.localdate()).days
    return Urgency.STAT if days <= 2 else Urgency.URGENT if days <= 7 else Urgency.ROUTINE


def refer(*, actor, program: Program, data) -> Mandate:
    """Refer a member for a mandated second opinion. Nothing is saved on bad input."""
    from konsil.cases.services import validate_codes

    authz.require("programs.refer", actor, program)
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give the referral's details."), field="member_id")
    def codes():
        found = validate_codes(data.get("diagnoses") or [], optional=False)
        if not found:
            raise ValidationFailed(_("Give at least one ICD-10-CM code."), field="diagnoses")
        return found

    def email():
        address = inputs.text(data, "email", required=False, limit=254)
        if address and "@" not in address:
            raise ValidationFailed(_("Enter a valid email address."), field="email")
        return address

    clean = inputs.collect({  # every field's error at once
        "member_id": lambda: inputs.text(data, "member_id", limit=40),
        "requesting_npi": lambda: inputs.npi(data, "requesting_npi"),
        "requesting_name": lambda: inputs.text(data, "requesting_name", required=False),
        "cpt": lambda: inputs.cpt(data, "cpt"),
        "procedure_text": lambda: inputs.text(data, "procedure_text", limit=2000),
        "diagnoses": codes,
        "deadline": lambda: inputs.day(data, "deadline", required=False),
        "email": email,
    })
    today = timezone.localdate()
    member = Member.objects.filter(program=program, member_id=clean["member_id"]).first()
    deadline = inputs.collect({"deadline": lambda: _deadline(program, clean["cpt"], clean["deadline"], today),
                               "member_id": lambda: _eligible(program, member, today)})["deadline"]
    if Mandate.objects.filter(member=member, cpt=clean["cpt"], state__in=(Mandate.State.INVITED,
                                                                         Mandate.State.IN_PROGRESS)).exists():
        raise Conflict(_("This member already has an open mandated review for this procedure."), code="duplicate")
    with transaction.atomic():
        mandate = Mandate.objects.create(
            program=program, member=member, requesting_npi=clean["requesting_npi"],
            requesting_name=clean["requesting_name"], cpt=clean["cpt"], procedure_text=clean["procedure_text"],
            diagnoses=clean["diagnoses"], deadline=deadline, invite_email=clean["email"], referred_by=actor)
        emit(actor=actor, action="program.mandate_refer", obj=mandate, purpose="payment",
             detail={"program": str(program.pk), "cpt": mandate.cpt, "deadline": deadline.isoformat()})
        if clean["email"]:
            transaction.on_commit(lambda: _invite(mandate))
    return mandate


def _deadline(program: Program, cpt: str, given, today):
    """The decision deadline given, or the mandated procedure's standard one."""
    deadline = given
    if deadline is None:
        mandated = program.mandated_procedures.filter(cpt=cpt).first()
        if mandated is None:
            raise ValidationFailed(_("CPT %(cpt)s is not on this program's list of mandated procedures, so it has "
                                     "no standard decision time: give the decision deadline.") % {"cpt": cpt},
                                   field="deadline", code="not_mandated")
        deadline = today + timezone.timedelta(days=mandated.decision_days)
    if deadline < today:
        raise ValidationFailed(_("The decision deadline cannot be in the past."), field="deadline")
    return deadline


def _eligible(program: Program, member, today) -> None:
    """The referred member is on the program's roster and covered today."""
    if member is None:
        raise ValidationFailed(_("No member of this program has this member id: check it against the roster."),
                               field="member_id", code="not_found")
    result = eligibility.check(program, member_id=member.member_id, birth_date=member.birth_date,
                               family_name=member.family_name, on=today)
    if not result.eligible:
        raise ValidationFailed(result.message, field="member_id", code=result.reason)


def invite_path(mandate: Mandate) -> str:
    from django.urls import reverse

    return reverse("programs:mandate_accept", args=[mandate.invite_token])


def _invite(mandate: Mandate) -> None:
    base = settings.KONSIL_SITE_URL.rstrip("/")
    body = _("Your health plan asks for a second opinion before a planned procedure. Open this link to agree "
             "and send your records: %(link)s") % {"link": base + invite_path(mandate)}
    try:
        send_mail(_("Second opinion requested by %(program)s") % {"program": mandate.program.name}, body,
                  None, [mandate.invite_email])
    except OSError:
        log.warning("mandate invitation mail not sent", extra={"mandate": str(mandate.pk)})


def mandate_by_token(token: str) -> Mandate:
    mandate = Mandate.objects.select_related("program", "member").filter(invite_token=str(token)[:64]).first()
    if mandate is None:
        raise NotFound(_("This invitation does not exist."))
    return mandate


def accept(*, actor, mandate: Mandate, data) -> Mandate:
    """The member accepts the mandated review: a draft case in the program, urgency from the deadline."""
    from konsil.cases import services as cases

    if mandate.state != Mandate.State.INVITED:
        raise Conflict(_("This invitation was already used."), code="used")
    if not getattr(actor, "is_authenticated", False) or not actor.has_role(Role.PATIENT, Role.CAREGIVER):
        raise PermissionDenied(_("Sign in as a patient or caregiver to start a case."))
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give your details."), field="birth_date")
    clean = inputs.collect({"birth_date": lambda: inputs.day(data, "birth_date"),
                            "family_name": lambda: inputs.text(data, "family_name", limit=100),
                            "state": lambda: inputs.text(data, "state", required=False, limit=2).upper()})
    member = mandate.member
    if clean["birth_date"] != member.birth_date or eligibility.fold(clean["family_name"]) != eligibility.fold(
            member.family_name):
        emit(actor=actor, action="program.mandate_accept", obj=mandate, outcome="denied", purpose="payment")
        raise ValidationFailed(_("These details do not match the member the plan referred."), field="birth_date")
    share = str(data.get("share_with_payer", "")).lower() in ("1", "true", "on", "yes")
    patient = {"given_name": member.given_name, "family_name": member.family_name,
               "birth_date": member.birth_date.isoformat(), "sex": member.sex or "unknown",
               "state": clean["state"], "language": actor.preferred_language or "en", "email": actor.email}
    with transaction.atomic():
        mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
        if mandate.state != Mandate.State.INVITED:
            raise Conflict(_("This invitation was already used."), code="used")
        case = cases.create_case(actor=actor, network=mandate.program.network, sponsor=mandate.program.sponsor,
                                 data={"channel": Channel.PAYER, "urgency": urgency_for(mandate.deadline),
                                       "proposed_cpt": mandate.cpt, "proposed_treatment": mandate.procedure_text,
                                       "diagnoses": mandate.diagnoses, "patient": patient})
        enrollment = Enrollment.objects.create(case=case, program=mandate.program, member=member,
                                               service=Service.WRITTEN, eligible=True, reason="eligible",
                                               checked_on=timezone.localdate(), checked_at=timezone.now())
        mandate.case, mandate.state, mandate.share_clinical = case, Mandate.State.IN_PROGRESS, share
        mandate.save(update_fields=["case", "state", "share_clinical", "updated_at"])
        emit(actor=actor, action="program.mandate_accept", obj=mandate, patient_id=case.patient_id,
             detail={"enrollment": str(enrollment.pk), "share_with_payer": share})
    return mandate


def set_recommended_cpt(*, actor, mandate: Mandate, data) -> Mandate:
    """The case's specialist (or a coordinator) names the recommended procedure for the determination."""
    from konsil.cases import relations as rel
    from konsil.cases.models import Case

    case = Case.objects.filter(pk=mandate.case_id).first()
    if case is None or not rel.relations(actor, case) & {rel.SPECIALIST, rel.COORDINATOR}:
        raise PermissionDenied(_("Only the case's specialist or a coordinator records this."))
    value = inputs.cpt(data if isinstance(data, dict) else {}, "recommended_cpt", required=False)
    with transaction.atomic():
        mandate.recommended_cpt = value
        mandate.save(update_fields=["recommended_cpt", "updated_at"])
        emit(actor=actor, action="program.mandate_recommend", obj=mandate, patient_id=case.patient_id,
             detail={"cpt": value})
    return mandate


def set_share(*, actor, mandate: Mandate, share) -> Mandate:
    """The member (or their caregiver) gives or withdraws consent for the payer to read the full report."""
    from konsil.cases import relations as rel
    from konsil.cases.models import Case

    if not isinstance(share, bool):
        raise ValidationFailed(_("Answer yes or no."), field="share_with_payer")
    case = Case.objects.filter(pk=mandate.case_id).first()
    if case is None or not rel.relations(actor, case) & {rel.PATIENT, rel.CAREGIVER}:
        if case is not None:
            emit(actor=actor, action="program.mandate_consent", obj=mandate, patient_id=case.patient_id,
                 outcome="denied", detail={"share_with_payer": share})
        raise PermissionDenied(_("Only the member or their caregiver decides what the plan may read."))
    with transaction.atomic():
        mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
        if mandate.share_clinical != share:
            mandate.share_clinical = share
            mandate.save(update_fields=["share_clinical", "updated_at"])
            emit(actor=actor, action="program.mandate_consent", obj=mandate, patient_id=case.patient_id,
                 detail={"share_with_payer": share})
    return mandate


VERDICTS = {"agree": Outcome.AGREE, "modify": Outcome.MODIFY, "alternative": Outcome.ALTERNATIVE,
            "against": Outcome.AGAINST}


def determine(case) -> Determination | None:
    """On delivery (or amendment) of a mandated review's opinion: the determination and its event."""
    mandate = Mandate.objects.filter(case=case).select_related("program").first()
    if mandate is None:
        return None
    opinion = case.opinions.filter(signed_at__isnull=False).order_by("-version").first()
    if opinion is None or opinion.treatment_verdict not in VERDICTS:
        return None
    outcome = VERDICTS[opinion.treatment_verdict]
    recommended = {Outcome.AGREE: mandate.cpt, Outcome.AGAINST: ""}.get(outcome, mandate.recommended_cpt)
    existing = Determination.objects.filter(mandate=mandate).first()
    determination, _created = Determination.objects.update_or_create(mandate=mandate, defaults={
        "outcome": outcome, "recommended_cpt": recommended, "decided_on": timezone.localdate(),
        "opinion": opinion, "diagnosis_changed": opinion.diagnosis_verdict == "changed"})
    mandate.state = Mandate.State.DETERMINED
    mandate.save(update_fields=["state", "updated_at"])
    kind = "determination.amended" if existing else "determination.issued"
    emit(actor="programs", action=f"program.{kind}", obj=determination, patient_id=case.patient_id,
         purpose="payment", detail={"outcome": outcome, "mandate": str(mandate.pk)})
    publish(mandate.program, kind, determination_payload(determination))
    return determination


def determination_payload(d: Determination) -> dict:
    """What the payer receives: ids, codes and dates, never the narrative, records or messages."""
    m = d.mandate
    return {"mandate": str(m.pk), "case_reference": m.case.reference if m.case else "", "member_id": m.member.member_id,
            "proposed_cpt": m.cpt, "determination": d.outcome, "recommended_cpt": d.recommended_cpt,
            "decided_on": d.decided_on.isoformat(), "deadline": m.deadline.isoformat(),
            "on_time": d.decided_on <= m.deadline}


def publish(program: Program, kind: str, data: dict) -> ProgramEvent:
    """Keep the event in the program's outbox (ids and codes only). The fhir app's webhooks deliver it, signed, to
    the sponsor's subscriptions to this event or to every event (it listens for new ProgramEvent rows, so this
    app does not depend on it)."""
    event = ProgramEvent(program=program, type=kind, payload={})
    event.created_at = timezone.now()
    event.payload = {"id": str(event.pk), "type": kind, "timestamp": event.created_at.isoformat(), "data": data}
    event.save()
    return event
