"""Offers: acceptance windows, timeouts, automatic re-offers, escalation, and coordinator overrides.

A case is offered to one specialist at a time, for a window set by its urgency. A decline or a timeout moves
it to the next specialist in the ranking (never one already offered this case); after N misses, or when nobody
is left, the coordinators get it. Automatic steps act as "matching" through the lifecycle table and are audited.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.core.errors import Conflict, DomainError, ValidationFailed

from . import relations as rel
from .choices import OfferStatus, Status
from .models import Case, Offer, clinical_text
from .notify import notify

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "matching"
MISSES = (OfferStatus.DECLINED, OfferStatus.EXPIRED)
WINDOW_MINUTES = {"routine": 240, "urgent": 60, "stat": 15}
MAX_MISSES = 3


def window(urgency: str) -> timedelta:
    """How long a specialist has to accept a case of this urgency (KONSIL_OFFER_WINDOW_MINUTES)."""
    minutes = {**WINDOW_MINUTES, **getattr(settings, "KONSIL_OFFER_WINDOW_MINUTES", {})}
    return timedelta(minutes=minutes.get(urgency, minutes["routine"]))


def max_misses() -> int:
    return int(getattr(settings, "KONSIL_OFFER_MAX_MISSES", MAX_MISSES))


# --- the ranking an offer is made from ----------------------------------------------------------------------

def ranked_for_offer(case) -> list:
    """The matching ranking (best first) without anyone this case was already offered to."""
    from konsil.matching import ranking

    offered = {str(pk) for pk in case.offers.values_list("specialist_id", flat=True)}
    return [r for r in ranking.rank(case) if str(r.specialist.pk) not in offered]


def proposal(case, ranked=None):
    """(position, Ranked) of the best specialist who may be offered the case now, or (None, None)."""
    from konsil.matching.licensure import load_table
    from konsil.matching.selectors import ineligibility

    table = load_table()  # once for every candidate checked
    for position, r in enumerate(ranked_for_offer(case) if ranked is None else ranked, start=1):
        if ineligibility(case, r.specialist.pk, table=table) is None:
            return position, r
    return None, None


def check_override(*, case, specialist_id, reason) -> None:
    """Guard of `offer`: choosing someone other than the top-ranked specialist needs a reason (field `reason`)."""
    _position, top = proposal(case)
    if top is None or str(top.specialist.pk) == str(specialist_id):
        return
    if not str(reason or "").strip():
        raise ValidationFailed(
            _("%(name)s is ranked first. Say why you chose another specialist.") % {"name": top.specialist},
            field="reason", code="override_reason",
        )


def open_offer(*, case, specialist_id, offered_by=None, reason: str = "", now=None) -> Offer:
    """Effect of `offer`: the pending offer with its window, the ranking snapshot and any override."""
    from konsil.matching.ranking import engine

    now = now or timezone.now()
    ranked = ranked_for_offer(case)
    top_position, top = proposal(case, ranked)
    position, chosen = next(((i, r) for i, r in enumerate(ranked, start=1)
                             if str(r.specialist.pk) == str(specialist_id)), (None, None))
    override = top is not None and str(top.specialist.pk) != str(specialist_id)
    offer = Offer.objects.create(
        case=case, specialist_id=specialist_id, offered_by=offered_by, reason=reason,
        expires_at=now + window(case.urgency), attempt=case.offers.count() + 1,
        rank=position, score=chosen.score if chosen else None,
        reasons=[str(x) for x in chosen.reasons] if chosen else [],
        engine=f"{getattr(engine(), 'name', '')}/{getattr(engine(), 'version', '')}"[:64],
        proposed_specialist=top.specialist if override else None,
        override_reason=reason if override else "",
    )
    emit(actor=offered_by or SYSTEM_ACTOR, action="offer.open", obj=offer, patient_id=case.patient_id,
         detail={"case": str(case.pk), "specialist": str(specialist_id), "attempt": offer.attempt,
                 "rank": position, "score": offer.score, "engine": offer.engine, "override": override,
                 "proposed": str(top.specialist.pk) if override else None, "top_rank": top_position})
    return offer


# --- acceptance and timeouts --------------------------------------------------------------------------------

def check_open(case, now=None) -> None:
    """In `accept`: a pending offer past its window can no longer be accepted (409)."""
    now = now or timezone.now()
    offer = case.offers.filter(status=OfferStatus.PENDING).first()
    if offer is not None and offer.expires_at is not None and offer.expires_at <= now:
        when = formats.date_format(timezone.localtime(offer.expires_at), "SHORT_DATETIME_FORMAT")
        raise Conflict(_("This offer expired at %(when)s and can no longer be accepted.") % {"when": when},
                       code="offer_expired")


def expire_offers(now=None) -> int:
    """Periodic (every minute): expire pending offers past their window and move their cases on."""
    now = now or timezone.now()
    due = Offer.objects.filter(status=OfferStatus.PENDING, expires_at__lte=now)
    expired = 0
    for case_id in list(due.values_list("case_id", flat=True).distinct()):
        try:
            with transaction.atomic():
                expired += _expire(case_id, now)
        except DomainError as exc:  # the case moved on meanwhile (accepted, cancelled): nothing to do
            log.info("offer of case %s not expired: %s", case_id, exc.code)
    for case_id in _stalled():  # the cases just timed out, and any whose re-offer did not run
        try:
            advance(case_id=case_id)
        except DomainError as exc:  # retried on the next sweep
            log.warning("case %s not re-offered: %s", case_id, exc.code)
    return expired


def _expire(case_id, now) -> bool:
    """Time out the case's pending offer if it is still pending and past its window (under the case's lock)."""
    from . import services

    case = Case.objects.select_for_update(of=("self",)).filter(pk=case_id).first()
    offer = case.offers.filter(status=OfferStatus.PENDING).first() if case else None
    if offer is None or offer.expires_at is None or offer.expires_at > now or case.status != Status.OFFERED:
        return False
    services.transition(actor=SYSTEM_ACTOR, case=case, action="expire_offer")
    return True


def _stalled() -> list:
    """Triaged cases whose last offer was missed and that nobody moved on yet."""
    qs = Case.objects.filter(status=Status.TRIAGED, offers__status__in=MISSES).filter(
        Q(escalated_at__isnull=True) | Q(offers__responded_at__gt=F("escalated_at")))
    return list(qs.exclude(offers__status=OfferStatus.PENDING).values_list("pk", flat=True).distinct())


def after_decline(case) -> None:
    """In `decline`: offer the next specialist once the decline commits."""
    from .tasks import enqueue_advance

    enqueue_advance(case.pk)


# --- moving on after a miss ---------------------------------------------------------------------------------

def advance(*, case_id) -> Offer | None:
    """After a decline or a timeout: offer the next specialist, or escalate. Idempotent."""
    from . import services

    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("patient").filter(pk=case_id).first()
        if case is None or case.status != Status.TRIAGED or case.offers.filter(status=OfferStatus.PENDING).exists():
            return None
        last = case.offers.first()
        if last is None or last.status not in MISSES:
            return None  # never offered, or a coordinator retracted the offer: theirs to decide
        if case.escalated_at is not None:
            if last.responded_at and last.responded_at > case.escalated_at:
                escalate(case=case, reason="missed_after_escalation")
            return None
        misses = case.offers.filter(status__in=MISSES).count()
        if misses >= max_misses():
            escalate(case=case, reason="misses")
            return None
        _position, best = proposal(case)
        if best is None:
            escalate(case=case, reason="nobody_left")
            return None
        services.transition(actor=SYSTEM_ACTOR, case=case, action="offer", specialist=str(best.specialist.pk))
        return case.offers.get(status=OfferStatus.PENDING)


def escalate(*, case, reason: str) -> None:
    """Hand the case to the coordinators: marked, notified, audited."""
    case.escalated_at = timezone.now()
    case.save(update_fields=["escalated_at", "updated_at"])
    misses = case.offers.filter(status__in=MISSES).count()
    notify(case, "escalated", {rel.COORDINATOR})
    emit(actor=SYSTEM_ACTOR, action="case.escalate", obj=case, patient_id=case.patient_id,
         detail={"reason": reason, "misses": misses})


# --- for the coordinator's queue (cases.sla prepares and slices these) -------------------------------------------

def expiry_points(now) -> dict[str, object]:
    """Per urgency, the moment from which a pending offer is in the last quarter of its window."""
    return {urgency: now + window(urgency) / 4 for urgency in WINDOW_MINUTES}


def expiring(cases, points: dict) -> QuerySet[Offer]:
    """Pending offers of `cases` expiring by their urgency's point (`expiry_points`), soonest first."""
    soon = Q()
    for urgency, moment in points.items():
        soon |= Q(case__urgency=urgency, expires_at__lte=moment)
    qs = Offer.objects.filter(case__in=cases.values("pk"), status=OfferStatus.PENDING,
                              expires_at__isnull=False).filter(soon)
    return qs.select_related("case", "specialist__user").defer(*clinical_text("case")).order_by("expires_at")


def escalated(cases) -> QuerySet[Case]:
    """Cases the automatic offers gave back to the coordinators and nobody has offered since."""
    return cases.filter(status=Status.TRIAGED, escalated_at__isnull=False).order_by("escalated_at")


def recent_overrides(cases) -> QuerySet[Offer]:
    """Offers where a coordinator chose someone other than the top-ranked specialist, newest first."""
    qs = Offer.objects.filter(case__in=cases.values("pk")).exclude(override_reason="")
    return (qs.select_related("case", "specialist__user", "proposed_specialist__user", "offered_by")
            .defer(*clinical_text("case")).order_by("-created_at"))
