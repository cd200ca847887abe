"""Review deadlines: set on acceptance by urgency, a reminder to the specialist, a breach alert to coordinators."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from konsil.audit.services import emit

from . import offers
from . import relations as rel
from .choices import Status
from .models import Case
from .notify import notify

SYSTEM_ACTOR = "sla"
REVIEW_HOURS = {"routine": 72, "urgent": 24, "stat": 4}
REMINDER_AT = 0.75  # share of the window gone when the specialist is reminded
UNDER_REVIEW = (Status.ACCEPTED, Status.IN_REVIEW, Status.INFO_REQUESTED, Status.OPINION_DRAFTED)


def review_window(urgency: str) -> timedelta:
    """Time from acceptance to the signed opinion for this urgency (KONSIL_REVIEW_HOURS)."""
    hours = {**REVIEW_HOURS, **getattr(settings, "KONSIL_REVIEW_HOURS", {})}
    return timedelta(hours=hours.get(urgency, hours["routine"]))


def _left_at_reminder(urgency: str) -> timedelta:
    share = float(getattr(settings, "KONSIL_REVIEW_REMINDER_AT", REMINDER_AT))
    return review_window(urgency) * (1 - share)


def start_clock(case: Case, now=None) -> None:
    """In `accept`: the review is due one window from now; its reminder and alert are still to come."""
    case.review_due_at = (now or timezone.now()) + review_window(case.urgency)
    case.review_reminded_at = case.review_breached_at = None
    case.save(update_fields=["review_due_at", "review_reminded_at", "review_breached_at", "updated_at"])


def _due_soon_q(now) -> Q:
    """Reviews in the last part of their window (from the reminder point on)."""
    q = Q()
    for urgency in REVIEW_HOURS:
        q |= Q(urgency=urgency, review_due_at__lte=now + _left_at_reminder(urgency))
    return q


def _under_review():
    return Case.objects.filter(status__in=UNDER_REVIEW, review_due_at__isnull=False)


def sla_reminders(now=None) -> dict[str, int]:
    """Periodic: remind the assigned specialist at 75% of the window, alert coordinators past due; each once."""
    now = now or timezone.now()
    sent = {"reminders": 0, "breaches": 0}
    for case in _under_review().filter(_due_soon_q(now), review_reminded_at__isnull=True):
        sent["reminders"] += _alert(case, "sla_reminder", {rel.SPECIALIST}, "review_reminded_at")
    for case in _under_review().filter(review_due_at__lt=now, review_breached_at__isnull=True):
        sent["breaches"] += _alert(case, "sla_breach", {rel.COORDINATOR}, "review_breached_at")
    return sent


def _alert(case: Case, kind: str, who: set[str], mark: str) -> int:
    """Notify, mark and audit one alert, unless another worker already did."""
    with transaction.atomic():
        locked = _under_review().select_for_update().filter(pk=case.pk, **{f"{mark}__isnull": True}).first()
        if locked is None:
            return 0
        setattr(locked, mark, timezone.now())
        locked.save(update_fields=[mark, "updated_at"])
        notified = notify(locked, kind, who)
        emit(actor=SYSTEM_ACTOR, action=f"case.{kind}", obj=locked, patient_id=locked.patient_id,
             detail={"due": locked.review_due_at.isoformat(), "notified": notified})
    return 1


# --- the coordinator's queue --------------------------------------------------------------------------------

@dataclass
class QueueAlerts:
    breaches: list = field(default_factory=list)
    due_soon: list = field(default_factory=list)
    expiring_offers: list = field(default_factory=list)
    escalated: list = field(default_factory=list)
    overrides: list = field(default_factory=list)
    routing_needed: list = field(default_factory=list)  # RoutingOutcome rows: auto-routing gave these back

    @property
    def cases(self) -> list:
        """Every case shown, once (for the audit trail)."""
        seen = {}
        for case in [*self.breaches, *self.due_soon, *self.escalated,
                     *(o.case for o in self.expiring_offers), *(o.case for o in self.overrides),
                     *(r.case for r in self.routing_needed)]:
            seen.setdefault(case.pk, case)
        return list(seen.values())

    def __bool__(self) -> bool:
        return bool(self.breaches or self.due_soon or self.expiring_offers or self.escalated or self.overrides
                    or self.routing_needed)


def queue_alerts(user, now=None, *, limit: int = 20) -> QueueAlerts:
    """What needs a coordinator now, in the networks `user` coordinates: not audited (the view records it)."""
    from .selectors import coordinated_cases

    now = now or timezone.now()
    cases = coordinated_cases(user)
    review = cases.filter(status__in=UNDER_REVIEW, review_due_at__isnull=False).order_by("review_due_at")
    return QueueAlerts(
        breaches=list(review.filter(review_due_at__lt=now)[:limit]),
        due_soon=list(review.filter(_due_soon_q(now), review_due_at__gte=now)[:limit]),
        expiring_offers=offers.expiring(cases, now, limit=limit),
        escalated=offers.escalated(cases, limit=limit),
        overrides=offers.recent_overrides(cases),
        routing_needed=_routing_needed(cases, limit),
    )


def _routing_needed(cases, limit: int) -> list:
    """Cases auto-routing gave to the coordinators (with its reasons) that nobody has moved on since."""
    from konsil.matching.models import RoutingOutcome

    waiting = cases.filter(status__in=(Status.SUBMITTED, Status.TRIAGED)).exclude(offers__status="pending")
    rows = (RoutingOutcome.objects.filter(case__in=waiting.values("pk"))
            .select_related("case").order_by("-red_flag", "created_at"))
    latest = {}
    for row in rows:
        latest.setdefault(row.case_id, row)
    return [r for r in latest.values() if r.outcome == RoutingOutcome.Outcome.COORDINATORS][:limit]
