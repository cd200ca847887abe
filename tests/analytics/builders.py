"""Cases with fixed timestamps for hand-computed analytics figures (no lifecycle: the rows as they would be)."""

from __future__ import annotations

import datetime as dt

from konsil.cases.models import Case, Offer, StatusChange
from konsil.opinions.models import Opinion
from konsil.triage.models import TriageDecision

from ..factories import make_patient, make_specialist, make_user

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """'2026-01-31 23:30' in UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_case(network, *, submitted: str, stages: dict | None = None, specialty: str = "cardiology",
              state: str = "CA", county: str = "", language: str = "en", channel: str = "patient",
              urgency: str = "routine", delivery: str = "written", sponsor=None, diagnosis: str = "",
              treatment: str = "", offers: tuple = (), agreed: bool | None = None, breached: bool = False,
              author=None, interpreter: bool = False):
    """A submitted case; `stages` maps triaged/offered/accepted/delivered to '2026-01-01 10:00' (UTC)."""
    stages = stages or {}
    requester = make_user("patient", network)
    patient = make_patient(network, requester, state=state, county=county, language=language)
    status = "delivered" if "delivered" in stages else (list(stages)[-1] if stages else "submitted")
    case = Case.objects.create(
        network=network, patient=patient, requester=requester, channel=channel, urgency=urgency,
        preferred_delivery=delivery, specialty_id=specialty, sponsor=sponsor, status=status,
        submitted_at=at(submitted), delivered_at=at(stages["delivered"]) if "delivered" in stages else None,
        review_breached_at=at(submitted) if breached else None, interpreter_needed=interpreter)
    previous = "submitted"
    for target, moment in stages.items():
        row = StatusChange.objects.create(case=case, action=target, from_status=previous, to_status=target)
        StatusChange.objects.filter(pk=row.pk).update(created_at=at(moment))
        previous = target
    if offers or diagnosis or treatment:
        author = author or make_specialist(network, specialty=specialty)
    for status in offers:
        Offer.objects.create(case=case, specialist=author, status=status)
    if agreed is not None:
        TriageDecision.objects.create(case=case, chosen_specialty_id=specialty, chosen_urgency=urgency,
                                      agreed=agreed, decided_by=requester)
    if diagnosis or treatment:
        Opinion.objects.create(case=case, author=author, diagnosis_verdict=diagnosis, treatment_verdict=treatment,
                               signed_at=at(submitted))
    return case
