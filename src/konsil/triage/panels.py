"""Multidisciplinary panels and subspecialties (data in knowledge/panels.csv and knowledge/subspecialties.csv).

A panel template applies when every trigger it sets holds: one of the case's ICD-10-CM codes falls in `icd10`,
one of the proposed specialties is in `specialties`, and `keywords` occur in the text as a current mention
(not negated, historical or about a relative). Templates are tried in file order, so specific ones come first.
Roles and subspecialties are codes of the specialty catalog (matching/data/specialties.csv).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from django.utils.translation import gettext as _

from .knowledge import catalog_parents, clean_codes, fail, find, icd_hits, icd_rules, read, regex
from .knowledge import specialties as catalog_codes

PANELS_FILE = "panels.csv"
SUBSPECIALTIES_FILE = "subspecialties.csv"
IGNORE = ("negated", "family", "historical")


@dataclass(frozen=True)
class Panel:
    template: str
    label: str
    icd10: tuple
    specialties: tuple[str, ...]
    keywords: re.Pattern | None
    roles: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Refinement:
    subspecialty: str
    applies_to: tuple[str, ...]
    icd10: tuple
    keywords: re.Pattern | None
    source: str


@lru_cache(maxsize=1)
def panels() -> tuple[Panel, ...]:
    out, names = [], set()
    columns = ("template", "label", "icd10", "specialties", "keywords", "roles", "source")
    for line, row in read(PANELS_FILE, columns, required=("template", "label", "roles")):
        if row["template"] in names:
            raise fail(PANELS_FILE, line, f"template {row['template']!r} repeated")
        names.add(row["template"])
        if not row["icd10"] and not row["specialties"]:
            raise fail(PANELS_FILE, line, "needs an icd10 or a specialties trigger")
        roles = catalog_codes(PANELS_FILE, line, row["roles"])
        if len(roles) < 2 or len(set(roles)) != len(roles):
            raise fail(PANELS_FILE, line, "a panel needs two or more distinct roles")
        out.append(Panel(row["template"], row["label"], icd_rules(PANELS_FILE, line, row["icd10"]),
                         catalog_codes(PANELS_FILE, line, row["specialties"]),
                         regex(PANELS_FILE, line, row["keywords"]), roles, row["source"]))
    return tuple(out)


@lru_cache(maxsize=1)
def refinements() -> tuple[Refinement, ...]:
    out = []
    columns = ("subspecialty", "applies_to", "icd10", "keywords", "source")
    for line, row in read(SUBSPECIALTIES_FILE, columns, required=("subspecialty",)):
        (code,) = catalog_codes(SUBSPECIALTIES_FILE, line, row["subspecialty"]) or ("",)
        if not row["icd10"] and not row["keywords"]:
            raise fail(SUBSPECIALTIES_FILE, line, "needs icd10 or keywords")
        applies_to = catalog_codes(SUBSPECIALTIES_FILE, line, row["applies_to"]) or (catalog_parents()[code],)
        out.append(Refinement(code, tuple(c for c in applies_to if c), icd_rules(SUBSPECIALTIES_FILE, line,
                              row["icd10"]), regex(SUBSPECIALTIES_FILE, line, row["keywords"]), row["source"]))
    return tuple(out)


def _why(hits: list[str], specialties: list[str], words: str | None) -> str:
    parts = []
    if hits:
        parts.append(f"ICD-10-CM {', '.join(hits)}")
    if specialties:
        parts.append(", ".join(specialties))
    if words:
        parts.append(f"“{words}”")
    return "; ".join(parts)


def for_case(specialty_codes: list[str], icd10: list[str], text: str) -> dict:
    """{"multidisciplinary", "roles", "template", "reason", "label", "source"} for the first template that applies;
    multidisciplinary False, roles [] and template None when none does."""
    codes = clean_codes(icd10)
    proposed = [str(c or "").strip() for c in specialty_codes or () if str(c or "").strip()]
    text = text or ""
    for panel in panels():
        hits = icd_hits(panel.icd10, codes) if panel.icd10 else []
        if panel.icd10 and not hits:
            continue
        chosen = [c for c in proposed if c in panel.specialties]
        if panel.specialties and not chosen:
            continue
        match = find(panel.keywords, text, IGNORE) if panel.keywords else None
        if panel.keywords and match is None:
            continue
        reason = _("%(panel)s: %(why)s") % {"panel": panel.label,
                                             "why": _why(hits, chosen, match.group(0) if match else None)}
        return {"multidisciplinary": True, "roles": list(panel.roles), "template": panel.template,
                "reason": reason, "label": panel.label, "source": panel.source}
    return {"multidisciplinary": False, "roles": [], "template": None, "reason": "", "label": "", "source": ""}


def subspecialty(specialty_code: str, icd10: list[str], text: str) -> str | None:
    """The catalog subspecialty the evidence supports for a proposed specialty (C50 + medical_oncology ->
    breast_oncology), or None. Every trigger a row sets (icd10, keywords) must hold."""
    found = refine(specialty_code, icd10, text)
    return found["subspecialty"] if found else None


def refine(specialty_code: str, icd10: list[str], text: str, sources=()) -> dict | None:
    """The subspecialty with the evidence that supports it, or None:
    {"subspecialty", "applies_to", "evidence": [{"kind": "code"|"phrase", "value", "ref"}], "source"}.
    A phrase is credited to the first source ({"ref", "text"}) it occurs in, else to the case itself."""
    specialty_code = (specialty_code or "").strip()
    if not specialty_code:
        return None
    codes = clean_codes(icd10)
    text = text or ""
    for rule in refinements():
        if specialty_code not in rule.applies_to and specialty_code != rule.subspecialty:
            continue
        hits = icd_hits(rule.icd10, codes) if rule.icd10 else []
        if rule.icd10 and not hits:
            continue
        match = find(rule.keywords, text, IGNORE) if rule.keywords else None
        if rule.keywords and match is None:
            continue
        evidence = [{"kind": "code", "value": code, "ref": "case:diagnoses"} for code in hits]
        if match is not None:
            ref = next((str(s.get("ref") or "") for s in sources or ()
                        if isinstance(s, dict) and find(rule.keywords, str(s.get("text") or ""), IGNORE)), "case")
            evidence.append({"kind": "phrase", "value": match.group(0), "ref": ref})
        return {"subspecialty": rule.subspecialty, "applies_to": specialty_code, "evidence": evidence,
                "source": rule.source}
    return None


def describe(found: dict | None) -> str:
    """One line in words for a proposal's reasons (reasons.refined_line): the subspecialty, its parent and the
    evidence ("Breast Oncology rather than Hematology and Oncology, because of diagnosis C50.911; ...")."""
    if not found:
        return ""
    from .reasons import refined_line

    return refined_line(found)
