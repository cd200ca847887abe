"""Supply from the specialist directory: who is licensed to serve each state, per specialty, with what capacity.

Capacity per month = Σ capacity × (720 h / turnaround commitment h): each specialist holds `capacity` active
cases, each for their committed turnaround, so that many cases a month can pass through their hands.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

HOURS_PER_MONTH = 720


def directory(networks, *, groups: dict[str, str], specialties: frozenset | None, today: date) -> dict:
    """{"state": {usps: {"specialists", "capacity_per_month"}}, "state_specialty": {(usps, group): {...}},
    "languages": Counter(language -> specialists)} for accepting specialists with a licence in force."""
    from konsil.matching.models import Specialist

    by_state: dict = defaultdict(lambda: {"specialists": 0, "capacity_per_month": 0.0})
    by_pair: dict = defaultdict(lambda: {"specialists": 0, "capacity_per_month": 0.0})
    languages: Counter = Counter()
    people = (Specialist.objects.filter(network__in=networks, accepting=True)
              .prefetch_related("specialties", "subspecialties", "licenses"))
    for person in people:
        codes = {s.code for s in person.specialties.all()} | {s.code for s in person.subspecialties.all()}
        if specialties is not None and not codes & specialties:
            continue
        for language in person.languages or []:
            languages[language] += 1
        throughput = person.capacity * HOURS_PER_MONTH / max(person.turnaround_hours, 1)
        states = {lic.state for lic in person.licenses.all()
                  if lic.country == "US" and lic.state and lic.expires_on >= today}
        own_groups = {groups.get(code, code) for code in codes}
        for usps in states:
            by_state[usps]["specialists"] += 1
            by_state[usps]["capacity_per_month"] += throughput
            for group in own_groups:
                by_pair[(usps, group)]["specialists"] += 1
                by_pair[(usps, group)]["capacity_per_month"] += throughput
    return {"state": dict(by_state), "state_specialty": dict(by_pair), "languages": languages}
