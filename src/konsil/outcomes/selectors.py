"""Reads of follow-ups and outcomes, scoped to the actor and audited."""

from __future__ import annotations

from django.db.models import QuerySet

from konsil.accounts.roles import Role
from konsil.audit.services import emit_many
from konsil.cases.choices import Status
from konsil.core.models import remember_related
from konsil.core.prepared import ID, Prepared

from .models import FollowUp, Outcome


def of_case(case) -> tuple[list[FollowUp], Outcome | None]:
    """A case's follow-ups and its outcome record (with its cost estimates), read once per case instance: the
    case page's timeline and outcome panel both show them (the caller may see the case's outcome)."""
    if "follow_ups" not in getattr(case, "_prefetched_objects_cache", {}):
        remember_related(case, "follow_ups", _FOLLOW_UPS(case=case.pk, known={"case": case}))
    field = Outcome._meta.get_field("case")
    if not field.remote_field.is_cached(case):  # the reverse one-to-one, kept as a read of case.outcome keeps it
        field.remote_field.set_cached_value(case, _OUTCOME.first(case=case.pk, known={"case": case}))
    return list(case.follow_ups.all()), getattr(case, "outcome", None)


_FOLLOW_UPS = Prepared(FollowUp, lambda case: FollowUp.objects.filter(case=case), case=ID)
_OUTCOME = Prepared(Outcome, lambda case: Outcome.objects.filter(case=case).select_related(
    "cost_proposed", "cost_alternative"), case=ID)


def queue_for(user) -> QuerySet[FollowUp]:
    """Coordinators: the follow-ups of their networks' cases (status and dates; answers are on the case page)."""
    networks = user.organizations_for(Role.COORDINATOR).values("pk")
    return FollowUp.objects.filter(case__network__in=networks).select_related("case").order_by("due_at")


def my_opinions(user) -> list:
    """A specialist's signed cases and what became of them (their own opinions only)."""
    specialist = getattr(user, "specialist", None)
    if specialist is None:
        return []
    from konsil.cases.models import Case

    cases = list(Case.objects.filter(opinions__author=specialist, opinions__signed_at__isnull=False,
                                     status__in=[Status.DELIVERED, Status.CLOSED]).distinct()
                 .select_related("specialty").order_by("-delivered_at")[:200])
    outcomes = {o.case_id: o for o in Outcome.objects.filter(case__in=cases)}
    emit_many(actor=user, events=[{"action": "outcome.read", "object_type": "cases.case", "object_id": str(c.pk),
                                   "patient_id": c.patient_id} for c in cases], role="specialist")
    return [(case, outcomes.get(case.pk)) for case in cases]


def audit_queue(user, rows) -> None:
    emit_many(actor=user, events=[{"action": "followup.list", "object_type": "outcomes.followup",
                                   "object_id": str(f.pk), "patient_id": f.case.patient_id} for f in rows],
              role="coordinator")
