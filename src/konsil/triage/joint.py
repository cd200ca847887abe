"""A model class that routes to several specialties: which of them the case is about.

MTSamples files heart and lung notes under one specialty ("Cardiovascular / Pulmonary"), so the model's class
cardiology_pulmonology cannot tell a lung nodule from a blocked coronary; the case's words and codes can. Data in
knowledge/joint_classes.csv: per class and specialty, ICD-10-CM ranges and words (current mentions only: not
negated, historical or about a relative). The class's probability is shared between its specialties in
proportion to their evidence plus one half each (`PRIOR`): with no evidence they stay even, and triage is unsure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .knowledge import assertion, clean_codes, fail, icd_hits, icd_rules, read
from .knowledge import specialties as catalog_codes

FILE = "joint_classes.csv"
PRIOR = 0.5  # evidence each specialty of a class starts with
CODE_WEIGHT = 2  # a coded diagnosis counts as two mentions
IGNORE = ("negated", "family", "historical")
# whole words in Latin script; Japanese has no spaces, so its terms match inside a phrase
_EDGE = "A-Za-z0-9\u00c0-\u024f"


@dataclass(frozen=True)
class Cue:
    label: str
    specialty: str
    icd10: tuple
    keywords: re.Pattern | None
    source: str


@lru_cache(maxsize=1)
def cues() -> dict[str, tuple[Cue, ...]]:
    """{class: its specialties' cues}, in file order; each class lists two or more specialties it routes to."""
    from .labels import specialties_for

    out: dict[str, list[Cue]] = {}
    for line, row in read(FILE, ("label", "specialty", "icd10", "keywords", "source"), required=("label",)):
        (code,) = catalog_codes(FILE, line, row["specialty"]) or ("",)
        if code not in specialties_for(row["label"]):
            raise fail(FILE, line, f"{row['label']!r} does not route to {code!r}")
        try:
            keywords = re.compile(rf"(?<![{_EDGE}])(?:{row['keywords']})(?![{_EDGE}])", re.IGNORECASE) \
                if row["keywords"] else None
        except re.error as exc:
            raise fail(FILE, line, f"bad regex: {exc}") from exc
        out.setdefault(row["label"], []).append(
            Cue(row["label"], code, icd_rules(FILE, line, row["icd10"]), keywords, row["source"]))
    for label, rows in out.items():
        if len(rows) < 2:
            raise fail(FILE, 1, f"{label!r} needs a row for each of two or more specialties")
    return {label: tuple(rows) for label, rows in out.items()}


def evidence(label: str, text: str, icd10=()) -> dict[str, dict[str, list[str]]]:
    """{specialty: {"codes", "words"}} that point to it, for a class with cues ({} for any other class)."""
    rows = cues().get(label)
    if not rows:
        return {}
    codes, text = clean_codes(icd10), text or ""
    found = {}
    for cue in rows:
        words = [match.group(0) for match in (cue.keywords.finditer(text) if cue.keywords else ())
                 if assertion(text, match.start(), match.end()) not in IGNORE]
        found[cue.specialty] = {"codes": icd_hits(cue.icd10, codes) if cue.icd10 else [], "words": words}
    return found


def shares(label: str, text: str, icd10=()) -> dict[str, float]:
    """{specialty: its share of the class's probability}, summing to one; {} for a class without cues."""
    found = evidence(label, text, icd10)
    weight = {code: PRIOR + CODE_WEIGHT * len(items["codes"]) + len(items["words"]) for code, items in found.items()}
    total = sum(weight.values())
    return {code: w / total for code, w in weight.items()}


def source(label: str, specialty: str) -> str:
    return next((cue.source for cue in cues().get(label, ()) if cue.specialty == specialty), "")


def explain(label: str, specialty: str, text: str, icd10=(), *, own_text: str | None = None) -> dict | None:
    """Why `specialty` leads among the specialties of the model's class `label`, or None when nothing in the case
    points to it: {"specialty", "others", "evidence": [{"kind": "code"|"phrase", "value"}] (at most four),
    "source"}. With `own_text` (the case's words without its records), each phrase also says whether it is
    `own`: the patient's side shows only those as "your words"."""
    found = evidence(label, text, icd10).get(specialty)
    if not found or not (found["codes"] or found["words"]):
        return None
    items = [{"kind": "code", "value": code} for code in found["codes"]]
    seen = set()
    for word in found["words"]:
        if word.casefold() not in seen:
            seen.add(word.casefold())
            item = {"kind": "phrase", "value": word}
            if own_text is not None:
                item["own"] = word.casefold() in own_text.casefold()
            items.append(item)
    others = [cue.specialty for cue in cues()[label] if cue.specialty != specialty]
    return {"specialty": specialty, "others": others, "evidence": items[:4], "source": source(label, specialty)}
