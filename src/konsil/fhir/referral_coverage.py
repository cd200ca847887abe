"""A referral's optional Coverage: the program that funds the case, checked for eligibility before anything is
created (programs.eligibility, as the member page does); the case then carries the sponsor and the payer or
employer channel, and an Enrollment keeps the check."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import FhirError


def program_for(*, client, coverage: dict, index: int):
    """The network's program the Coverage names (class "plan" = the program's address), else the one active
    program the client's own organization sponsors in its network."""
    from konsil.programs.models import Program

    where = f"Bundle.entry[{index}].resource"
    network = client.network
    plans = [c.get("value") for c in coverage.get("class") or []
             if any(x.get("code") == "plan" for x in (c.get("type") or {}).get("coding") or [])]
    qs = Program.objects.filter(network=network, active=True).select_related("sponsor", "network")
    if plans:
        program = qs.filter(slug__in=[str(p)[:80] for p in plans]).first()
    else:
        own = list(qs.filter(sponsor=client.organization)[:2])
        program = own[0] if len(own) == 1 else None
    if program is None:
        raise FhirError(_("The Coverage names no program of this network (class plan = the program's address)."),
                        status=422, code="business-rule", expression=f"{where}.class")
    return program


def check(*, client, coverage: dict, index: int, details: dict):
    """(program, eligibility result) for an eligible member; a FhirError with the reason otherwise."""
    from konsil.programs import eligibility

    program = program_for(client=client, coverage=coverage, index=index)
    member_id = str(coverage.get("subscriberId") or next(
        (i.get("value") for i in coverage.get("identifier") or [] if i.get("value")), "") or "")
    try:
        birth = date.fromisoformat(str(details.get("birth_date") or ""))
    except ValueError:
        birth = None
    if birth is None:
        raise FhirError(_("The Patient needs a birth date to check the Coverage."), status=422,
                        code="business-rule", expression="Patient.birthDate")
    result = eligibility.check(program, member_id=member_id, birth_date=birth,
                               family_name=details.get("family_name") or "", on=timezone.localdate())
    if not result.eligible:
        raise FhirError(_("Not covered by %(program)s: %(reason)s") % {"program": program.name,
                                                                      "reason": result.message},
                        status=422, code="business-rule", expression=f"Bundle.entry[{index}].resource")
    return program, result


def record(*, actor, case, program, result) -> None:
    from konsil.programs.enrolment import record_check
    from konsil.programs.models import Enrollment

    enrollment = Enrollment.objects.create(case=case, program=program)
    record_check(enrollment=enrollment, result=result, actor=actor, when="referral")
