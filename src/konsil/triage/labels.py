"""The model's classes (MTSamples specialties) and Konsil's routing specialties (catalog codes).

Data in data/label_specialties.csv: `codes` are the catalog specialties a class routes to
(cardiology_pulmonology -> cardiology and pulmonology); `prior_from` names further catalog codes whose
ICD-10-CM routes count as evidence for the class. Names come from the catalog CSV, so no database is needed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from konsil.matching import catalog

LABELS = Path(__file__).with_name("data") / "label_specialties.csv"


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[list[str], list[str]]]:
    with LABELS.open(newline="", encoding="utf-8") as fh:
        return {r["label"]: (_split(r["codes"]), _split(r["prior_from"])) for r in csv.DictReader(fh)}


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split("|") if part.strip()]


@lru_cache(maxsize=1)
def _catalog() -> dict[str, dict]:
    return {row["code"]: row for row in catalog.rows()}


def labels() -> list[str]:
    return sorted(_table())


def specialties_for(label: str) -> list[str]:
    """The catalog codes a model class routes to ([] for an unknown class)."""
    return list(_table().get(label, ((), ()))[0])


def specialty_name(code: str) -> str:
    row = _catalog().get(code)
    return row["name"] if row else code.replace("_", " ").title()


def ranked_specialties(label_probs: Iterable[tuple[str, float]], text: str = "", icd10=()) -> list[dict]:
    """[{"code", "name", "probability"}] best first: a code's probability is the sum over the classes routing to it
    of its share of each (a class routing to several specialties is shared by the case's words and codes:
    triage.joint; evenly when it has no cues)."""
    from .joint import shares

    totals: dict[str, float] = {}
    for label, probability in label_probs:
        codes = specialties_for(label)
        share = shares(label, text, icd10) if len(codes) > 1 else {}
        for code in codes:
            totals[code] = totals.get(code, 0.0) + float(probability) * share.get(code, 1 / len(codes))
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [{"code": code, "name": specialty_name(code), "probability": round(min(p, 1.0), 4)} for code, p in ranked]


@lru_cache(maxsize=256)
def labels_for_specialty(code: str) -> tuple[str, ...]:
    """The classes a catalog specialty (an ICD-10-CM route) is evidence for: direct, `prior_from`, else its parent."""
    direct = tuple(label for label, (codes, extra) in sorted(_table().items()) if code in codes or code in extra)
    if direct:
        return direct
    parent = (_catalog().get(code) or {}).get("parent")
    return labels_for_specialty(parent) if parent else ()
