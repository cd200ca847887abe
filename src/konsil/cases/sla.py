"""Review deadlines: set on acceptance by urgency, a reminder to the specialist, a breach alert to coordinators."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from konsil.audit.services import emit
from konsil.core.deadlines import URGENCIES, review_hours
from konsil.core.prepared import ID, MOMENT, Prepared

from . import offers
from . import relations as rel
from .choices import Status
from .models import Case, clinical_text
from .notify import notify
from .selectors import coordinated_by, for_queue

SYSTEM_ACTOR = "sla"
REMINDER_AT = 0.75  # share of the window gone when the specialist is reminded
UNDER_REVIEW = (Status.ACCEPTED, Status.IN_REVIEW, Status.INFO_REQUESTED, Status.OPINION_DRAFTED)


def review_window(urgency: str) -> timedelta:
    """Time from acceptance to the signed opinion for this urgency (KONSIL_REVIEW_HOURS)."""
    hours = review_hours()
    return timedelta(hours=hours.get(urgency, hours["routine"]))


def _left_at_reminder(urgency: str) -> timedelta:
    share = float(getattr(settings, "KONSIL_REVIEW_REMINDER_AT", REMINDER_AT))
    return review_window(urgency) * (1 - share)


def start_clock(case: Case, now=None) -> None:
    """In `accept`: the review is due one window from now; its reminder and alert are still to come."""
    case.review_due_at = (now or timezone.now()) + review_window(case.urgency)
    case.review_reminded_at = case.review_breached_at = None
    case.save(update_fields=["review_due_at", "review_reminded_at", "review_breached_at", "updated_at"])


def reminder_points(now) -> dict[str, object]:
    """Per urgency, the due moment up to which a review is in the last part of its window (reminded) now."""
    return {urgency: now + _left_at_reminder(urgency) for urgency in URGENCIES}


def _due_soon_q(points: dict) -> Q:
    """Reviews in the last part of their window (from the reminder point on; `reminder_points`)."""
    q = Q()
    for urgency, moment in points.items():
        q |= Q(urgency=urgency, review_due_at__lte=moment)
    return q


def _under_review():
    return Case.objects.filter(status__in=UNDER_REVIEW, review_due_at__isnull=False)


def sla_reminders(now=None) -> dict[str, int]:
    """Periodic: remind the assigned specialist at 75% of the window, alert coordinators past due; each once."""
    now = now or timezone.now()
    sent = {"reminders": 0, "breaches": 0}
    for case in _under_review().filter(_due_soon_q(reminder_points(now)), review_reminded_at__isnull=True):
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


SHOWN = 20  # rows per alert list (the newest overrides: 10)


def _review(user):
    return for_queue(coordinated_by(user)).filter(status__in=UNDER_REVIEW, review_due_at__isnull=False).order_by(
        "review_due_at")


# The queue's alert lists, compiled once (core.prepared): each runs on every load of the coordinator's queue, and
# compiling their joins and subqueries cost more than running them. `user`: the coordinator's key.
_BREACHES = Prepared(Case, lambda user, now: _review(user).filter(review_due_at__lt=now)[:SHOWN], user=ID, now=MOMENT)
_DUE_SOON = Prepared(Case, lambda user, now, **points: _review(user).filter(
    _due_soon_q(points), review_due_at__gte=now)[:SHOWN], user=ID, now=MOMENT, **dict.fromkeys(URGENCIES, MOMENT))
_EXPIRING = Prepared("cases.Offer", lambda user, **points: offers.expiring(coordinated_by(user), points)[:SHOWN],
                     user=ID, **dict.fromkeys(offers.WINDOW_MINUTES, MOMENT))
_ESCALATED = Prepared(Case, lambda user: offers.escalated(for_queue(coordinated_by(user)))[:SHOWN], user=ID)
_OVERRIDES = Prepared("cases.Offer", lambda user: offers.recent_overrides(coordinated_by(user))[:SHOWN // 2],
                      user=ID)


def queue_alerts(user, now=None) -> QueueAlerts:
    """What needs a coordinator now, in the networks `user` coordinates: not audited (the view records it)."""
    now = now or timezone.now()
    return QueueAlerts(
        breaches=_BREACHES(user=user.pk, now=now),
        due_soon=_DUE_SOON(user=user.pk, now=now, **reminder_points(now)),
        expiring_offers=_EXPIRING(user=user.pk, **offers.expiry_points(now)),
        escalated=_ESCALATED(user=user.pk),
        overrides=_OVERRIDES(user=user.pk),
        routing_needed=_routing_needed(user.pk),
    )


def _routing_query(user):
    from konsil.matching.models import RoutingOutcome

    waiting = coordinated_by(user).filter(status__in=(Status.SUBMITTED, Status.TRIAGED)).exclude(
        offers__status="pending")
    return (RoutingOutcome.objects.filter(case__in=waiting.values("pk"))
            .select_related("case").defer(*clinical_text("case")).order_by("-red_flag", "created_at"))


_ROUTING = Prepared("matching.RoutingOutcome", _routing_query, user=ID)


def _routing_needed(user) -> list:
    """Cases auto-routing gave to the coordinators (with its reasons) that nobody has moved on since."""
    from konsil.matching.models import RoutingOutcome

    latest = {}
    for row in _ROUTING(user=user):
        latest.setdefault(row.case_id, row)
    return [r for r in latest.values() if r.outcome == RoutingOutcome.Outcome.COORDINATORS][:SHOWN]
