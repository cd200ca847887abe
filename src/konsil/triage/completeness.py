"""Completeness checklists: the records a specialty needs to review a case (data in knowledge/checklists.csv).

An item is present when its keywords occur in the case's text and are not negated ("no echo report available").
A specialty without its own rows uses its catalog parent's; when none of the specialties has a checklist, the
generic rows (specialty "*": history, medication list, recent labs) apply.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from .knowledge import catalog_parents, fail, find, read, regex, snippet
from .knowledge import specialties as specialty_codes

FILE = "checklists.csv"
GENERIC = "*"


@dataclass(frozen=True)
class Item:
    specialty: str
    item: str
    label: str
    keywords: re.Pattern
    source: str


@lru_cache(maxsize=1)
def items() -> dict[str, tuple[Item, ...]]:
    """Specialty code ('*' for the generic list) -> its checklist items in file order."""
    out: dict[str, list[Item]] = defaultdict(list)
    for line, row in read(FILE, ("specialty", "item", "label", "keywords", "source"),
                          required=("specialty", "item", "label", "keywords")):
        (specialty,) = specialty_codes(FILE, line, row["specialty"], allow=(GENERIC,)) or ("",)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", row["item"]):
            raise fail(FILE, line, f"item code {row['item']!r} must be lower_snake_case")
        if any(existing.item == row["item"] for existing in out[specialty]):
            raise fail(FILE, line, f"item {row['item']!r} repeated for {specialty}")
        out[specialty].append(Item(specialty, row["item"], row["label"], regex(FILE, line, row["keywords"]),
                                   row["source"]))
    if GENERIC not in out:
        raise fail(FILE, 1, "no generic ('*') checklist")
    return {code: tuple(rows) for code, rows in out.items()}


def _rows_for(specialty: str) -> tuple[Item, ...]:
    table = items()
    seen = set()
    while specialty and specialty not in seen:
        if specialty in table:
            return table[specialty]
        seen.add(specialty)
        specialty = catalog_parents().get(specialty, "")
    return ()


def checklist(specialties: list[str], text: str) -> list[dict]:
    """[{"item", "label", "present", "evidence", "source"}] for the union of the specialties' checklists."""
    text = text or ""
    chosen: dict[str, Item] = {}
    for code in specialties or ():
        for item in _rows_for(str(code or "").strip()):
            chosen.setdefault(item.item, item)
    if not chosen:
        chosen = {item.item: item for item in items()[GENERIC]}
    out = []
    for item in chosen.values():
        match = find(item.keywords, text, ignore=("negated",))
        out.append({"item": item.item, "label": item.label, "present": match is not None,
                    "evidence": snippet(text, match) if match else "", "source": item.source})
    return out


def missing(specialties: list[str], text: str) -> list[dict]:
    """The checklist items not found in the text."""
    return [row for row in checklist(specialties, text) if not row["present"]]
