"""Eligibility: is this person covered by the program for this service on this date, and if not, why."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Eligibility, Enrollment, Member, Program

# Stable codes for machines (CLI, API) and a sentence for people.
REASONS = {
    "eligible": _("Eligible."),
    "open_program": _("Eligible: this program is open to everyone with its enrolment code."),
    "not_found": _("No member matches this member id, birth date and family name."),
    "not_started": _("Coverage has not started on this date."),
    "terminated": _("Coverage ended on %(date)s."),
    "service_not_covered": _("This service is not covered by the program."),
    "program_inactive": _("This program is not active."),
}


@dataclass(frozen=True)
class Result:
    eligible: bool
    reason: str  # a REASONS key
    member: Member | None = None
    date: date | None = None  # the date a reason names (termination)

    @property
    def message(self) -> str:
        text = REASONS[self.reason]
        return str(text) % {"date": self.date.isoformat()} if self.date else str(text)

    def as_dict(self) -> dict:
        out = {"eligible": self.eligible, "reason": self.reason, "message": self.message}
        if self.date:
            out["date"] = self.date.isoformat()
        return out


def fold(name: str) -> str:
    """Family names compare without case, accents, spaces or hyphens ("García-López" == "garcia lopez")."""
    text = unicodedata.normalize("NFKD", str(name or "")).casefold()
    return "".join(c for c in text if c.isalnum())


def check(program: Program, *, member_id: str, birth_date: date, family_name: str, on: date | None = None,
          service: str | None = None) -> Result:
    """The eligibility of one person on `on` (today by default). Pure read; the caller audits it."""
    on = on or timezone.localdate()
    if not program.active:
        return Result(False, "program_inactive")
    if service and program.services and service not in program.services:
        return Result(False, "service_not_covered")
    if program.eligibility == Eligibility.OPEN:
        return Result(True, "open_program")
    if not isinstance(birth_date, date):
        return Result(False, "not_found")
    member = Member.objects.filter(Member.matching_birth_date(birth_date), program=program,
                                   member_id=str(member_id or "").strip()[:40]).first()  # birth date: blind index
    if member is None or fold(member.family_name) != fold(family_name):
        return Result(False, "not_found")
    if on < member.coverage_start:
        return Result(False, "not_started", member, member.coverage_start)
    if member.coverage_end is not None and on > member.coverage_end:
        return Result(False, "terminated", member, member.coverage_end)
    return Result(True, "eligible", member)


def recheck_at_submission(case) -> None:
    """On submit (cases.StatusChange): check the case's program again on the submission date and keep it."""
    enrollment = Enrollment.objects.filter(case=case).select_related("program", "member").first()
    if enrollment is None:
        return
    from .enrolment import record_check

    identity = case.identity or case.patient
    member_id = enrollment.member.member_id if enrollment.member else ""
    result = check(enrollment.program, member_id=member_id, birth_date=identity.birth_date,
                   family_name=identity.family_name, on=timezone.localdate(), service=enrollment.service)
    with transaction.atomic():
        record_check(enrollment=enrollment, result=result, actor="programs", when="submission")
