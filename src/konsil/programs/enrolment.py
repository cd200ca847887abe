"""The member's side: check eligibility, start a case in a program (or as self-pay), record the checks."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.roles import Role
from konsil.audit.services import emit
from konsil.cases.choices import Channel, Delivery
from konsil.core.errors import PermissionDenied, ValidationFailed

from . import eligibility, inputs
from .models import Eligibility, Enrollment, Program, Service

PERSON_FIELDS = ("member_id", "birth_date", "family_name")


def _person(program: Program, data) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give the member's details."), field="member_id")
    checks = {"family_name": lambda: inputs.text(data, "family_name", limit=100),
              "birth_date": lambda: inputs.day(data, "birth_date"),
              "on": lambda: inputs.day(data, "on", required=False),
              "service": lambda: _service(program, data)}
    if program.eligibility == Eligibility.ROSTER:
        checks["member_id"] = lambda: inputs.text(data, "member_id", limit=40)
    else:
        checks["enrolment_code"] = lambda: _code(program, data)
    clean = inputs.collect(checks)
    if clean["birth_date"] > timezone.localdate():
        raise ValidationFailed(_("Enter a real birth date."), field="birth_date")
    return clean


def _service(program: Program, data) -> str:
    value = inputs.text(data, "service", required=False, limit=12) or Service.WRITTEN
    if value not in Service.values:
        raise ValidationFailed(_("Choose one of the options."), field="service")
    return value


def _code(program: Program, data) -> str:
    code = inputs.text(data, "enrolment_code", limit=16).upper().replace(" ", "")
    if code != program.enrolment_code:
        raise ValidationFailed(_("This enrolment code does not match the program."), field="enrolment_code")
    return code


def check(*, actor, program: Program, data) -> eligibility.Result:
    """Check one person's eligibility (member page, API); audited with the outcome, never the details."""
    clean = _person(program, data)
    result = eligibility.check(program, member_id=clean.get("member_id", ""), birth_date=clean["birth_date"],
                               family_name=clean["family_name"], on=clean["on"], service=clean["service"])
    emit(actor=actor if getattr(actor, "is_authenticated", False) else "public", action="program.eligibility",
         obj=result.member or program, purpose="payment",
         detail={"program": str(program.pk), "eligible": result.eligible, "reason": result.reason})
    return result


def record_check(*, enrollment: Enrollment, result: eligibility.Result, actor, when: str) -> Enrollment:
    """Keep the latest check on the enrolment; an ineligible case is offered as self-pay at the program price."""
    enrollment.eligible = result.eligible
    enrollment.reason = result.reason
    enrollment.reason_date = result.date
    enrollment.checked_on = timezone.localdate()
    enrollment.checked_at = timezone.now()
    if result.member is not None:
        enrollment.member = result.member
    if not result.eligible:
        enrollment.price_cents = enrollment.program.self_pay_cents
    enrollment.save()
    emit(actor=actor, action="program.eligibility_recorded", obj=enrollment, patient_id=enrollment.case.patient_id,
         purpose="payment", detail={"when": when, "eligible": result.eligible, "reason": result.reason})
    return enrollment


CHANNELS = {"payer": Channel.PAYER, "employer": Channel.EMPLOYER}
DELIVERY = {Service.WRITTEN: Delivery.WRITTEN, Service.PANEL: Delivery.WRITTEN, Service.VIDEO: Delivery.VIDEO,
            Service.PHONE: Delivery.PHONE}


def start_case(*, actor, program: Program, data) -> Enrollment:
    """A member starts a draft case in the program: eligible, or ineligible and agreeing to self-pay."""
    from konsil.cases import services as cases

    if not getattr(actor, "is_authenticated", False) or not actor.has_role(Role.PATIENT, Role.CAREGIVER):
        raise PermissionDenied(_("Sign in as a patient or caregiver to start a case."))
    clean = _person(program, data)
    patient_extra = inputs.collect({
        "given_name": lambda: inputs.text(data, "given_name", limit=100),
        "sex": lambda: inputs.text(data, "sex", limit=8),
        "state": lambda: inputs.text(data, "state", required=False, limit=2).upper(),
    })
    today = timezone.localdate()
    result = eligibility.check(program, member_id=clean.get("member_id", ""), birth_date=clean["birth_date"],
                               family_name=clean["family_name"], on=today, service=clean["service"])
    self_pay = str(data.get("self_pay", "")).lower() in ("1", "true", "on", "yes")
    if not result.eligible and not self_pay:
        price = format_money(program.self_pay_cents, program.currency)
        raise ValidationFailed(
            _("%(reason)s You can continue as self-pay for %(price)s.") % {"reason": result.message, "price": price},
            field="self_pay", code="not_eligible")
    patient = {"given_name": patient_extra["given_name"], "family_name": clean["family_name"],
               "birth_date": clean["birth_date"].isoformat(), "sex": patient_extra["sex"],
               "state": patient_extra["state"], "language": actor.preferred_language or "en",
               "email": actor.email}
    with transaction.atomic():
        case = cases.create_case(actor=actor, network=program.network, sponsor=program.sponsor if result.eligible
                                 else None, data={"channel": CHANNELS.get(program.sponsor.kind, Channel.PATIENT)
                                                  if result.eligible else Channel.PATIENT,
                                                  "preferred_delivery": DELIVERY[clean["service"]],
                                                  "patient": patient})
        enrollment = Enrollment.objects.create(case=case, program=program, service=clean["service"],
                                               self_pay=not result.eligible)
        record_check(enrollment=enrollment, result=result, actor=actor, when="signup")
        emit(actor=actor, action="program.case_start", obj=enrollment, patient_id=case.patient_id,
             detail={"program": str(program.pk), "self_pay": enrollment.self_pay})
    return enrollment


def format_money(cents: int, currency: str = "USD") -> str:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}.get(currency, currency + " ")
    return f"{symbol}{cents / 100:,.2f}"
