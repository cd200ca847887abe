"""The `matching` interface: rank eligible specialists for a case (the matching issue brings an optimizer).

An engine is a class with `name`, `version` and `rank(case, candidates) -> list[Ranked]`; settings name it in
KONSIL_MATCHING_ENGINE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _


@dataclass
class Ranked:
    specialist: object
    score: float
    reasons: list[str] = field(default_factory=list)


class FilteredRanking:
    """Foundation ranking: language match first, then most free capacity."""

    name = "filtered"
    version = "1"

    def rank(self, case, candidates) -> list[Ranked]:
        language = case.patient.language
        ranked = []
        for s in candidates:
            active = getattr(s, "active_cases", 0) or 0
            free = max(0, s.capacity - active)
            speaks = language in (s.languages or [])
            score = (1.0 if speaks else 0.0) + free / max(1, s.capacity) * 0.5
            state = case.patient.state
            reasons = [_("licensed in %(state)s") % {"state": state}] if state else []
            reasons.append(_("speaks the patient's language") if speaks else _("needs an interpreter"))
            reasons.append(_("%(free)d of %(cap)d case slots free") % {"free": free, "cap": s.capacity})
            ranked.append(Ranked(s, round(score, 3), reasons))
        return sorted(ranked, key=lambda r: (-r.score, str(r.specialist)))


@lru_cache(maxsize=4)
def _engine(path: str):
    return import_string(path)()


def engine():
    return _engine(settings.KONSIL_MATCHING_ENGINE)


def rank(case) -> list[Ranked]:
    from .selectors import candidates

    return engine().rank(case, list(candidates(case)))
