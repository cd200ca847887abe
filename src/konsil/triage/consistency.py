"""Inconsistency flags: a procedure that does not fit the diagnosis, sides that disagree, and elective procedures
known for wide practice variation (data in knowledge/inconsistencies.csv and knowledge/practice_variation.csv).

The procedure is recognised from the CPT code(s) or from keywords in the proposed treatment; diagnoses are the
case's ICD-10-CM codes. Flags are decision support for a careful review, never a verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from django.utils.translation import gettext as _

from konsil.core import icd10 as icd

from .knowledge import clean_codes, cpt_codes, cpt_hits, cpt_rules, fail, find, icd_hits, icd_rules, read, regex

MISMATCH_FILE = "inconsistencies.csv"
VARIATION_FILE = "practice_variation.csv"
LATERALITY_SOURCE = "ICD-10-CM Tabular List code descriptions (CDC/NCHS): laterality in the 6th character"
# "left"/"right" that name a heart chamber or a coronary artery are anatomy, not the side of the body
_SIDE = re.compile(r"\b(right|left|bilateral)\b(?![\s-]+(?:ventric\w*|atri\w*|heart|bundle|main|coronary|anterior "
                   r"descending|circumflex|sided heart|hemicolectomy|hemicolon|colon))", re.IGNORECASE)
_BOTH = re.compile(r"\b(?:bilateral|both sides|both (?:knees|hips|eyes|ears|breasts|legs|arms|shoulders))\b",
                   re.IGNORECASE)


@dataclass(frozen=True)
class Procedure:
    code: str
    label: str
    cpt: tuple
    keywords: re.Pattern | None
    source: str

    def found(self, cpts: list[str], treatment: str) -> str | None:
        """What identified the procedure: a CPT code or the matched words of the proposed treatment."""
        hits = cpt_hits(self.cpt, cpts)
        if hits:
            return f"CPT {', '.join(hits)}"
        match = find(self.keywords, treatment, ignore=("negated",))
        return match.group(0) if match else None


@dataclass(frozen=True)
class Mismatch(Procedure):
    allowed: tuple = ()


@dataclass(frozen=True)
class Variation(Procedure):
    icd10: tuple = ()
    exclude_icd10: tuple = ()
    require_text: re.Pattern | None = None
    exclude_text: re.Pattern | None = None


def _procedure(name: str, line: int, row: dict) -> dict:
    if not row["cpt"] and not row["keywords"]:
        raise fail(name, line, "needs cpt codes or keywords")
    return {"code": row["code"], "label": row["label"], "cpt": cpt_rules(name, line, row["cpt"]),
            "keywords": regex(name, line, row["keywords"]), "source": row["source"]}


@lru_cache(maxsize=1)
def mismatches() -> tuple[Mismatch, ...]:
    rows = read(MISMATCH_FILE, ("code", "label", "cpt", "keywords", "allowed_icd10", "source"),
                required=("code", "label", "allowed_icd10"))
    return tuple(Mismatch(**_procedure(MISMATCH_FILE, line, row),
                          allowed=icd_rules(MISMATCH_FILE, line, row["allowed_icd10"])) for line, row in rows)


@lru_cache(maxsize=1)
def variations() -> tuple[Variation, ...]:
    columns = ("code", "label", "cpt", "keywords", "icd10", "exclude_icd10", "require_text", "exclude_text", "source")
    out = []
    for line, row in read(VARIATION_FILE, columns, required=("code", "label", "icd10")):
        out.append(Variation(
            **_procedure(VARIATION_FILE, line, row),
            icd10=icd_rules(VARIATION_FILE, line, row["icd10"]),
            exclude_icd10=icd_rules(VARIATION_FILE, line, row["exclude_icd10"]),
            require_text=regex(VARIATION_FILE, line, row["require_text"]),
            exclude_text=regex(VARIATION_FILE, line, row["exclude_text"]),
        ))
    return tuple(out)


def _sides(text: str) -> set[str]:
    sides = {m.group(1).lower() for m in _SIDE.finditer(text or "")}
    if _BOTH.search(text or ""):
        sides.add("bilateral")
    return sides


def laterality(codes: list[str], treatment: str) -> dict | None:
    """A flag when the side in the proposed treatment is not a side any lateral diagnosis code names."""
    treatment_sides = _sides(treatment) & {"left", "right", "bilateral"}
    coded: dict[str, list[str]] = {}
    for code in codes:
        sides = _sides(icd.describe(code))
        if "bilateral" in sides:
            sides = {"left", "right", "bilateral"}
        for side in sides:
            coded.setdefault(side, []).append(code)
    if not treatment_sides or not coded:
        return None
    coded_sides = set(coded)
    if "bilateral" in treatment_sides:
        if "bilateral" in coded_sides or {"left", "right"} <= coded_sides:
            return None
    elif treatment_sides & coded_sides:
        return None
    lateral = sorted({c for side_codes in coded.values() for c in side_codes})
    described = "; ".join(f"{c} ({icd.describe(c)})" for c in lateral)
    return {"code": "laterality", "label": _("Laterality disagrees"), "severity": "warning",
            "detail": _("The proposed treatment names the %(treatment)s side; the diagnosis codes name: %(codes)s.")
            % {"treatment": ", ".join(sorted(treatment_sides)), "codes": described},
            "source": LATERALITY_SOURCE}


def check(icd10: list[str], proposed_treatment: str, cpt: str, text: str) -> list[dict]:
    """[{"code", "label", "severity", "detail", "source"}]: 'warning' for a mismatch or a side that disagrees,
    'review' for a procedure known for wide practice variation."""
    codes = [c for c in clean_codes(icd10) if icd.is_valid(c)]
    treatment = proposed_treatment or ""
    cpts = cpt_codes(cpt)
    everything = f"{text or ''}\n{treatment}"
    flags = []
    if codes:
        for rule in mismatches():
            found = rule.found(cpts, treatment)
            if found and not icd_hits(rule.allowed, codes):
                flags.append({
                    "code": rule.code, "label": _("Procedure does not match the diagnosis"), "severity": "warning",
                    "detail": _("%(procedure)s (%(found)s) is proposed, but none of the diagnosis codes (%(codes)s) "
                                "is one it treats.") % {"procedure": rule.label, "found": found,
                                                         "codes": ", ".join(codes)},
                    "source": rule.source})
        side = laterality(codes, treatment)
        if side:
            flags.append(side)
    for rule in variations():
        hits = icd_hits(rule.icd10, codes)
        found = rule.found(cpts, treatment) if hits else None
        if not found or icd_hits(rule.exclude_icd10, codes):
            continue
        if rule.require_text and not find(rule.require_text, everything, ignore=("negated", "family")):
            continue
        if rule.exclude_text and find(rule.exclude_text, everything, ignore=("negated", "family", "hypothetical")):
            continue
        flags.append({
            "code": rule.code, "label": rule.label, "severity": "review",
            "detail": _("%(procedure)s (%(found)s) with %(codes)s: a procedure known for wide practice variation; "
                        "review the indication carefully.") % {"procedure": rule.label, "found": found,
                                                                "codes": ", ".join(hits)},
            "source": rule.source})
    return flags
