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
    from konsil.matching.models import License, Specialist

    by_state: dict = defaultdict(lambda: {"specialists": 0, "capacity_per_month": 0.0})
    by_pair: dict = defaultdict(lambda: {"specialists": 0, "capacity_per_month": 0.0})
    languages: Counter = Counter()
    people = {pk: (capacity, turnaround, langs) for pk, capacity, turnaround, langs in Specialist.objects.filter(
        network__in=networks, accepting=True).values_list("pk", "capacity", "turnaround_hours", "languages")}
    codes: dict = defaultdict(set)
    for relation in (Specialist.specialties.through, Specialist.subspecialties.through):
        for pk, code in relation.objects.filter(specialist_id__in=people).values_list("specialist_id",
                                                                                     "specialty_id"):
            codes[pk].add(code)
    states: dict = defaultdict(set)
    for pk, usps in License.objects.filter(specialist_id__in=people, country="US", expires_on__gte=today).exclude(
            state="").values_list("specialist_id", "state"):
        states[pk].add(usps)
    for pk, (capacity, turnaround, langs) in people.items():
        if specialties is not None and not codes[pk] & specialties:
            continue
        for language in langs or []:
            languages[language] += 1
        throughput = capacity * HOURS_PER_MONTH / max(turnaround, 1)
        own_groups = {groups.get(code, code) for code in codes[pk]}
        for usps in states[pk]:
            by_state[usps]["specialists"] += 1
            by_state[usps]["capacity_per_month"] += throughput
            for group in own_groups:
                by_pair[(usps, group)]["specialists"] += 1
                by_pair[(usps, group)]["capacity_per_month"] += throughput
    return {"state": dict(by_state), "state_specialty": dict(by_pair), "languages": languages}
