"""Completeness checklists: the records a reviewer needs, by condition first, else by specialty.

A case whose ICD-10-CM codes or words name a known condition (knowledge/conditions.csv: breast cancer, aortic
stenosis, herniated disc ...) gets that condition's list (knowledge/condition_checklists.csv: for breast cancer the
biopsy pathology, ER/PR/HER2, breast imaging, staging and the surgeon's or oncologist's recommendation). Otherwise
the specialties' lists apply (knowledge/checklists.csv). Every item carries its source.

An item is present when its keywords occur in the case's text and are not negated ("no echo report available").
A specialty without its own rows uses its catalog parent's; when none of the specialties has a checklist, the
generic rows (specialty "*": history, medication list, recent labs) apply.

Labels are data in three languages (`label`, `label_es`, `label_ja`). A stored proposal keeps the English label and
the item code; `label_for()` words an item in the active language when it is shown, so older proposals and records
requests are translated too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from konsil.core.context import reader_language

from .knowledge import assertion, catalog_parents, clean_codes, fail, find, icd_hits, icd_rules, read, regex, snippet
from .knowledge import specialties as specialty_codes

FILE = "checklists.csv"
CONDITIONS_FILE = "conditions.csv"
CONDITION_ITEMS_FILE = "condition_checklists.csv"
GENERIC = "*"
MENTION_IGNORE = ("negated", "family", "hypothetical")
ITEM_IGNORE = ("negated", "hypothetical")  # a record in hand is neither denied ("no biopsy yet") nor imagined
_SENTENCE_END = re.compile(r"[!?\n。！？]|\.(?!\d)")
LANGUAGES = ("en", "es", "ja")
ITEM_COLUMNS = ("item", "label", "label_es", "label_ja", "keywords", "source")


@dataclass(frozen=True)
class Condition:
    code: str
    label: str
    icd10: tuple
    keywords: re.Pattern | None
    source: str


@dataclass(frozen=True)
class Item:
    specialty: str
    item: str
    label: str
    keywords: re.Pattern
    source: str
    label_es: str = ""
    label_ja: str = ""

    def labels(self) -> dict[str, str]:
        return {"en": self.label, "es": self.label_es, "ja": self.label_ja}


@lru_cache(maxsize=1)
def items() -> dict[str, tuple[Item, ...]]:
    """Specialty code ('*' for the generic list) -> its checklist items in file order."""
    out: dict[str, list[Item]] = defaultdict(list)
    for line, row in read(FILE, ("specialty", *ITEM_COLUMNS),
                          required=("specialty", "item", "label", "label_es", "label_ja", "keywords")):
        (specialty,) = specialty_codes(FILE, line, row["specialty"], allow=(GENERIC,)) or ("",)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", row["item"]):
            raise fail(FILE, line, f"item code {row['item']!r} must be lower_snake_case")
        if any(existing.item == row["item"] for existing in out[specialty]):
            raise fail(FILE, line, f"item {row['item']!r} repeated for {specialty}")
        out[specialty].append(Item(specialty, row["item"], row["label"], regex(FILE, line, row["keywords"]),
                                   row["source"], row["label_es"], row["label_ja"]))
    if GENERIC not in out:
        raise fail(FILE, 1, "no generic ('*') checklist")
    return {code: tuple(rows) for code, rows in out.items()}


@lru_cache(maxsize=1)
def conditions() -> tuple[Condition, ...]:
    """The conditions with their own checklist, in file order (the most specific first)."""
    out, seen = [], set()
    for line, row in read(CONDITIONS_FILE, ("condition", "label", "icd10", "keywords", "source"),
                          required=("condition", "label")):
        if not re.fullmatch(r"[a-z][a-z0-9_]*", row["condition"]) or row["condition"] in seen:
            raise fail(CONDITIONS_FILE, line, f"condition code {row['condition']!r} not lower_snake_case or repeated")
        if not row["icd10"] and not row["keywords"]:
            raise fail(CONDITIONS_FILE, line, "needs icd10 or keywords")
        seen.add(row["condition"])
        out.append(Condition(row["condition"], row["label"], icd_rules(CONDITIONS_FILE, line, row["icd10"]),
                             regex(CONDITIONS_FILE, line, row["keywords"]), row["source"]))
    return tuple(out)


@lru_cache(maxsize=1)
def condition_items() -> dict[str, tuple[Item, ...]]:
    """Condition code -> its checklist items in file order."""
    known = {c.code for c in conditions()}
    out: dict[str, list[Item]] = defaultdict(list)
    for line, row in read(CONDITION_ITEMS_FILE, ("condition", *ITEM_COLUMNS),
                          required=("condition", "item", "label", "label_es", "label_ja", "keywords")):
        if row["condition"] not in known:
            raise fail(CONDITION_ITEMS_FILE, line, f"unknown condition {row['condition']!r} (not in {CONDITIONS_FILE})")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", row["item"]):
            raise fail(CONDITION_ITEMS_FILE, line, f"item code {row['item']!r} must be lower_snake_case")
        if any(existing.item == row["item"] for existing in out[row["condition"]]):
            raise fail(CONDITION_ITEMS_FILE, line, f"item {row['item']!r} repeated for {row['condition']}")
        out[row["condition"]].append(Item(row["condition"], row["item"], row["label"],
                                          regex(CONDITION_ITEMS_FILE, line, row["keywords"]), row["source"],
                                          row["label_es"], row["label_ja"]))
    empty = known - set(out)
    if empty:
        raise fail(CONDITION_ITEMS_FILE, 1, f"no items for {', '.join(sorted(empty))}")
    return {code: tuple(rows) for code, rows in out.items()}


def conditions_for(icd10, text: str) -> list[dict]:
    """[{"condition", "label", "evidence", "source"}]: the known conditions the codes or the words name."""
    codes = clean_codes(icd10)
    text = text or ""
    out = []
    for condition in conditions():
        hits = icd_hits(condition.icd10, codes) if condition.icd10 else []
        match = None if hits else find(condition.keywords, text, MENTION_IGNORE)
        if hits or match is not None:
            evidence = f"ICD-10-CM {', '.join(hits)}" if hits else snippet(text, match)
            out.append({"condition": condition.code, "label": condition.label, "evidence": evidence,
                        "source": condition.source})
    return out


def _rows_for(specialty: str) -> tuple[Item, ...]:
    table = items()
    seen = set()
    while specialty and specialty not in seen:
        if specialty in table:
            return table[specialty]
        seen.add(specialty)
        specialty = catalog_parents().get(specialty, "")
    return ()


def checklist(specialties: list[str], text: str, *, icd10=()) -> list[dict]:
    """[{"item", "label", "present", "evidence", "source", "condition"}]: the checklists of the conditions the case
    names (codes or words), else the union of the specialties' checklists, else the generic list."""
    text = text or ""
    chosen: dict[str, Item] = {}
    for found in conditions_for(icd10, text):
        for item in condition_items()[found["condition"]]:
            chosen.setdefault(item.item, item)
    if not chosen:
        for code in specialties or ():
            for item in _rows_for(str(code or "").strip()):
                chosen.setdefault(item.item, item)
    if not chosen:
        chosen = {item.item: item for item in items()[GENERIC]}
    out = []
    for item in chosen.values():
        match = _held(item.keywords, text)
        out.append({"item": item.item, "label": item.label, "present": match is not None,
                    "evidence": snippet(text, match) if match else "", "source": item.source,
                    "condition": item.specialty if item.specialty in condition_items() else ""})
    return out


def _held(pattern, text: str):
    """The first mention of a record that says it is in hand: not denied, imagined or asked about ("Is a biopsy
    needed?" names a test; it holds no report)."""
    if pattern is None or not text:
        return None
    for match in pattern.finditer(text):
        stop = _SENTENCE_END.search(text, match.end())
        if assertion(text, match.start(), match.end()) not in ITEM_IGNORE and not (stop and stop.group() in "?？"):
            return match
    return None


def missing(specialties: list[str], text: str, *, icd10=()) -> list[dict]:
    """The checklist items not found in the text."""
    return [row for row in checklist(specialties, text, icd10=icd10) if not row["present"]]


# ---------------------------------------------------------------- labels in the reader's language


@lru_cache(maxsize=1)
def _label_index() -> dict[tuple, dict[str, str]]:
    """(condition, item), ("label", English label) and ("item", item) -> {"en", "es", "ja"}; first row wins."""
    index: dict[tuple, dict[str, str]] = {}
    for condition, rows in condition_items().items():
        for item in rows:
            index.setdefault((condition, item.item), item.labels())
    for rows in (*condition_items().values(), *items().values()):
        for item in rows:
            index.setdefault(("label", item.label.casefold()), item.labels())
            index.setdefault(("item", item.item), item.labels())
    return index


def _get(row, key: str) -> str:
    value = row.get(key) if isinstance(row, dict) else getattr(row, key, "")
    return str(value or "").strip()


def label_for(row, language: str | None = None) -> str:
    """The label of a checklist item (a stored {"item", "label", "condition"} dict, or anything with `item` and
    `label`, such as a records request) in `language` (default: the active one); English as stored otherwise."""
    code, stored, condition = _get(row, "item"), _get(row, "label"), _get(row, "condition")
    language = (language or reader_language()).split("-")[0].lower()
    if language not in LANGUAGES or language == "en":
        return stored or code
    index = _label_index()
    labels = ((condition and index.get((condition, code))) or (stored and index.get(("label", stored.casefold())))
              or index.get(("item", code)))
    return (labels or {}).get(language) or stored or code
