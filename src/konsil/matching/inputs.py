"""Case and Specialist rows as the plain dicts scoring.py and optimize.py expect (see scoring.parse_case)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from . import zones
from .models import NetworkWeights, Specialist
from .scoring import DEFAULT_WEIGHTS, Weights

URGENCIES = ("routine", "urgent", "stat")


def canon(text: str | None) -> str:
    """Names compared for conflicts of interest: case, spacing and a leading "Dr." do not matter."""
    words = (text or "").casefold().split()
    if words and words[0] in ("dr", "dr."):
        words = words[1:]
    return " ".join(words)


def weights_for(network) -> Weights:
    """The network's weights (NetworkWeights), or the defaults."""
    row = NetworkWeights.objects.filter(network=network).first() if network is not None else None
    if row is None or not row.weights:
        return DEFAULT_WEIGHTS
    try:
        return Weights(**row.weights)
    except (TypeError, ValueError):  # validated on save; an invalid hand edit falls back to the defaults
        return DEFAULT_WEIGHTS


def specialist_record(s: Specialist, *, today: dt.date | None = None, now: dt.datetime | None = None) -> dict:
    """`s` (prefetched: specialties, subspecialties, licenses; annotated active_cases) as a scoring dict."""
    today = today or timezone.localdate()
    valid = [lic for lic in s.licenses.all() if lic.expires_on >= today]
    return {
        "id": str(s.pk),
        "specialties": [sp.code for sp in s.specialties.all()],
        "subspecialties": [sp.code for sp in s.subspecialties.all()],
        "licensed_states": sorted({lic.state.upper() for lic in valid if lic.country == "US" and lic.state}),
        "licensed_countries": sorted({lic.country.upper() for lic in valid if lic.country != "US"}),
        "imlc": s.imlc,
        "languages": list(s.languages or []),
        "capacity": s.capacity,
        "active": (getattr(s, "active_cases", 0) or 0) + (getattr(s, "pending_offers", 0) or 0),
        "institution": canon(s.institution),
        "affiliations": [canon(a) for a in (s.affiliations or []) if canon(a)],
        "turnaround_hours": float(s.turnaround_hours or 1),
        "quality": s.quality,
        "accepting": s.accepting,
        "delivery_modes": list(s.delivery_modes or ["written"]),
        "utc_offset": zones.utc_offset(s.time_zone, now),
        "fee": None if s.fee is None else float(s.fee),
    }


def _first_opinion_physician(case) -> str | None:
    """The specialist who gave the first opinion: matched by the treating physician's email, else name."""
    qs = Specialist.objects.filter(network_id=case.network_id)
    email = (case.treating_physician_email or "").strip()
    if email:
        found = qs.filter(user__email__iexact=email).values_list("pk", flat=True).first()
        if found:
            return str(found)
    name = canon(case.treating_physician)
    if name:
        for pk, first, last in qs.values_list("pk", "user__first_name", "user__last_name"):
            if canon(f"{first} {last}") == name:
                return str(pk)
    return None


def subspecialty_for(case) -> str | None:
    """The subspecialty the latest triage proposal asks for, when it lies under the case's specialty."""
    from konsil.triage.services import latest_proposal

    proposal = latest_proposal(case)
    sub = proposal.subspecialty if proposal else None
    if sub is None or not case.specialty_id:
        return None
    return sub.code if case.specialty_id in (sub.code, sub.parent_id) else None


def case_record(case, *, now: dt.datetime | None = None) -> dict:
    """`case` (triaged: a specialty is set) as a scoring dict."""
    patient = case.identity  # the identity the case was submitted with (cases.identity)
    country = (patient.country or "US").upper()
    requester_specialist = Specialist.objects.filter(user_id=case.requester_id).values_list("pk", flat=True).first()
    previous = (type(case).objects.filter(patient_id=case.patient_id, assigned_specialist__isnull=False)
                .exclude(pk=case.pk).values_list("assigned_specialist", flat=True))
    return {
        "id": str(case.pk),
        "specialty": case.specialty_id,
        "subspecialty": subspecialty_for(case),
        "subspecialty_required": False,
        "country": country,
        "state": (patient.state or "").upper() or None,
        "language": patient.language,
        "urgency": case.urgency if case.urgency in URGENCIES else "routine",
        "channel": case.channel,
        "interpreter": bool(getattr(case, "interpreter_needed", False)),
        "delivery": case.preferred_delivery or None,
        "institution_excluded": [canon(case.treating_facility)] if canon(case.treating_facility) else [],
        "declined_by": [str(pk) for pk in case.offers.filter(status="declined").values_list("specialist", flat=True)],
        "referring_physician": str(requester_specialist) if requester_specialist else None,
        "first_opinion_physician": _first_opinion_physician(case),
        "previous_specialists": sorted({str(pk) for pk in previous}),
        "utc_offset": zones.state_offset(patient.state, country, now),
    }
