"""Rule-based triage: ICD-10-CM chapter and block to specialty (data in data/icd10_routes.csv)."""

from __future__ import annotations

import csv
from collections import Counter
from functools import lru_cache
from pathlib import Path

from konsil.core import icd10

from .engine import Proposal

ROUTES = Path(__file__).with_name("data") / "icd10_routes.csv"
FALLBACK = "internal_medicine"


@lru_cache(maxsize=1)
def routes() -> list[tuple[str, str, str, str]]:
    """(first, last, specialty, source), narrowest ranges first so blocks win over chapters."""
    with ROUTES.open(newline="", encoding="utf-8") as fh:
        rows = [(r["first"], r["last"], r["specialty"], r["source"]) for r in csv.DictReader(fh)]
    return sorted(rows, key=lambda r: _span(r[0], r[1]))


def _span(first: str, last: str) -> int:
    def n(code: str) -> int:
        return (ord(code[0]) - 65) * 1000 + int(code[1]) * 100 + (int(code[2]) if code[2].isdigit() else 10)

    return n(last) - n(first)


def _contains(first: str, last: str, category: str) -> bool:
    """Whether `category` lies in first..last, alphabetically or in the tabular order (C43, C4A, C44)."""
    if first <= category <= last:
        return True
    index = icd10.tabular_index(category)
    low, high = icd10.tabular_index(first), icd10.tabular_index(last)
    return None not in (index, low, high) and low <= index <= high


def route(code: str) -> tuple[str, str] | None:
    """The specialty and the rule's source for one valid code, or None."""
    if not icd10.is_valid(code):
        return None
    category = icd10.normalize(code)[:3]
    for first, last, specialty, source in routes():
        if _contains(first, last, category):
            return specialty, source
    return None


class RuleBasedTriage:
    name = "icd10-rules"
    version = "1"

    def propose(self, case) -> Proposal:
        from django.utils.translation import gettext as _

        from .reasons import code_line

        votes: Counter[str] = Counter()
        reasons = []
        codes = list(case.diagnoses.values_list("code", flat=True))
        for position, code in enumerate(codes):
            hit = route(code)
            if hit:
                weight = 2 if position == 0 else 1  # the first listed diagnosis is the principal one
                votes[hit[0]] += weight
                reasons.append(code_line(code, hit[0]))
        if not votes:
            return Proposal(specialty=None, ranked=[], urgency=case.urgency, abstain=True,
                            reasons=[_("No diagnosis code maps to a specialty: a coordinator decides.")])
        total = sum(votes.values())
        ranked = [{"code": c, "probability": round(v / total, 3)} for c, v in votes.most_common()]
        return Proposal(specialty=ranked[0]["code"], ranked=ranked, urgency=case.urgency, reasons=reasons,
                        abstain=False)
