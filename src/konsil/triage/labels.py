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


def ranked_specialties(label_probs: Iterable[tuple[str, float]]) -> list[dict]:
    """[{"code", "name", "probability"}] best first: a code's probability is the sum over the classes routing to it."""
    totals: dict[str, float] = {}
    for label, probability in label_probs:
        for code in specialties_for(label):
            totals[code] = totals.get(code, 0.0) + float(probability)
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
