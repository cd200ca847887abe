"""Curated triage knowledge (CSV files beside this module) and the helpers that load and apply it.

Every file is read once, validated row by row (a bad row raises KnowledgeError naming the file and line) and cited:
each row carries a `source`. Matching is plain regular expressions with a small NegEx/ConText-style window, so a
mention that is negated ("denies chest pain"), historical ("history of stroke"), hypothetical ("return if chest
pain") or about a relative ("family history of stroke") can be told apart from a current finding.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from konsil.core import icd10
from konsil.matching import catalog

HERE = Path(__file__).parent
URGENCY_ORDER = {"routine": 0, "urgent": 1, "stat": 2}


class KnowledgeError(ValueError):
    """A knowledge file that cannot be used as shipped."""


def fail(name: str, line: int, message: str) -> KnowledgeError:
    return KnowledgeError(f"{name} line {line}: {message}")


def read(name: str, columns: Iterable[str], required: Iterable[str] = ()) -> Iterator[tuple[int, dict]]:
    """(line number, row with stripped values) for each data row; checks the header and the required cells."""
    columns, required = tuple(columns), tuple(required)
    with (HERE / name).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise fail(name, 1, f"missing column(s) {', '.join(missing)}")
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise fail(name, line, "wrong number of cells")
            row = {k: v.strip() for k, v in row.items()}
            if not any(row.values()):
                continue
            for column in ("source", *required):
                if column in row and not row[column]:
                    raise fail(name, line, f"empty {column}")
            yield line, row


def split(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def regex(name: str, line: int, pattern: str) -> re.Pattern | None:
    """A case-insensitive pattern that only matches whole words at its ends; None for an empty cell."""
    if not pattern:
        return None
    try:
        return re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.IGNORECASE)
    except re.error as exc:
        raise fail(name, line, f"bad regex {pattern!r}: {exc}") from exc


# ---------------------------------------------------------------- ICD-10-CM prefixes and ranges


def _dotless(code: str) -> str:
    return (code or "").strip().upper().replace(".", "")


@dataclass(frozen=True)
class IcdRule:
    """A code prefix ("C50", "R65.2", "I" for a whole letter) or a category range ("M40-M54")."""

    text: str
    prefix: str = ""
    first: str = ""
    last: str = ""

    def matches(self, code: str) -> bool:
        dotless = _dotless(code)
        if self.prefix:
            return dotless.startswith(self.prefix)
        category = dotless[:3]
        if self.first <= category <= self.last:
            return True
        index = icd10.tabular_index(category)  # C4A sits between C43 and C44
        low, high = icd10.tabular_index(self.first), icd10.tabular_index(self.last)
        return None not in (index, low, high) and low <= index <= high


def icd_rules(name: str, line: int, value: str) -> tuple[IcdRule, ...]:
    """Parse ';'-separated ICD-10-CM prefixes or ranges, each checked against the code set."""
    rules = []
    for part in split(value):
        text = part.upper()
        if re.fullmatch(r"[A-Z]", text):
            rules.append(IcdRule(text, prefix=text))
        elif re.fullmatch(r"[A-Z][0-9][0-9A-Z]-[A-Z][0-9][0-9A-Z]", text):
            first, last = text.split("-")
            if not (icd10.is_valid(first) and icd10.is_valid(last)) or first > last:
                raise fail(name, line, f"bad ICD-10-CM range {part!r}")
            rules.append(IcdRule(text, first=first, last=last))
        elif icd10.tabular_index(text) is not None:
            rules.append(IcdRule(text, prefix=_dotless(text)))
        else:
            raise fail(name, line, f"unknown ICD-10-CM code {part!r}")
    return tuple(rules)


def icd_hits(rules: Iterable[IcdRule], codes: Iterable[str]) -> list[str]:
    """The given codes that any rule matches, in the order given."""
    rules = tuple(rules)
    return [code for code in codes if any(rule.matches(code) for rule in rules)]


def clean_codes(codes: Iterable[str] | None) -> list[str]:
    """Trimmed, upper-cased, dotted where known, blanks dropped, order kept."""
    seen, out = set(), []
    for code in codes or ():
        code = icd10.normalize(str(code or ""))
        if code and code not in seen:
            seen.add(code)
            out.append(code)
    return out


# ---------------------------------------------------------------- CPT codes


def cpt_rules(name: str, line: int, value: str) -> tuple[tuple[int, int], ...]:
    """';'-separated five-digit CPT codes or ranges ("22532-22634") as (low, high) pairs."""
    out = []
    for part in split(value):
        m = re.fullmatch(r"(\d{5})(?:-(\d{5}))?", part)
        if not m or (m.group(2) and m.group(2) < m.group(1)):
            raise fail(name, line, f"bad CPT code or range {part!r}")
        out.append((int(m.group(1)), int(m.group(2) or m.group(1))))
    return tuple(out)


def cpt_codes(value: str | None) -> list[str]:
    """The CPT codes found in a free string ("27447, 29881" -> ["27447", "29881"])."""
    return re.findall(r"(?<![\dA-Za-z])\d{4}[0-9A-Z](?![\dA-Za-z])", value or "")


def cpt_hits(rules: Iterable[tuple[int, int]], codes: Iterable[str]) -> list[str]:
    rules = tuple(rules)
    return [c for c in codes if c.isdigit() and any(lo <= int(c) <= hi for lo, hi in rules)]


# ---------------------------------------------------------------- specialty catalog


@lru_cache(maxsize=1)
def catalog_parents() -> dict[str, str]:
    """Catalog code -> parent code ('' for a top-level specialty)."""
    return {row["code"]: row["parent"] for row in catalog.rows()}


def specialties(name: str, line: int, value: str, allow: Iterable[str] = ()) -> tuple[str, ...]:
    codes = tuple(split(value))
    known = catalog_parents()
    for code in codes:
        if code not in known and code not in allow:
            raise fail(name, line, f"unknown specialty {code!r} (not in matching/data/specialties.csv)")
    return codes


# ---------------------------------------------------------------- assertion context (NegEx / ConText style)

_BOUNDARY = re.compile(r"[.!?;](?=[\s,]|$)|[。！？]|\n"
                       r"|\b(?:but|however|although|though|except|apart from|aside from)\b", re.IGNORECASE)
_PSEUDO = re.compile(
    r"\b(?:history of (?:the )?present illness|no (?:further |significant )?(?:increase|change|improvement|relief)"
    r"|not only|not necessarily|gram[- ]negative|without (?:difficulty|complication)s?)\b", re.IGNORECASE)
_PRE = {
    "negated": r"no|not|nor|never|denie[sd]|deny(?:ing)?|without|negative for|free of|absence of|absent|ruled out"
               r"|no evidence of|no signs? of|resolved",
    "family": r"family history|familial|(?:mother|father|brother|sister|sibling|aunt|uncle|grandmother|grandfather"
              r"|cousin)(?:'s|\s+(?:had|has|with|died|passed))"
              # Spanish: "antecedentes familiares de", "mi madre tuvo", "mi abuela murió de"
              r"|antecedentes? familiares|(?:madre|padre|mam[aá]|pap[aá]|herman[oa]s?|abuel[oa]s?|t[ií][oa]s?"
              r"|prim[oa]s?)\s+(?:tuvo|tiene|ten[ií]a|tienen|tuvieron|ha tenido|muri[oó]|con)",
    "historical": r"history of|h/o|hx of|status post|s/p|previous(?:ly)?|remote|past medical history"
                  r"|medical history|surgical history",
    "hypothetical": r"if|should (?:he|she|they|you|the patient)|return(?:s)? (?:to|for|if)|call (?:if|for)"
                    r"|(?:watch|monitor|observe|follow)(?:ed|ing|s)?(?: up)?(?: closely)? for|warning signs?"
                    r"|in case of|seek\b[^.]{0,30}\b(?:for|if)|precautions"
                    r"|(?:reduce|lower|decrease)s? (?:the |his |her |their )?risk of|to prevent|prevention of"
                    r"|prophylaxis",
}
_PRE_RE = {kind: re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE) for kind, words in _PRE.items()}
# Japanese runs have no spaces and no word edges: a relative as the sentence's subject before the mention
# ("母が乳がんでした", "父親は糖尿病", "家族歴: 乳がん")
_PRE_JA = {"family": re.compile(r"(?:祖母|祖父|母|父|兄|姉|弟|妹|叔母|伯母|叔父|伯父|家族)(?:親)?(?:が|は|も)|家族歴")}
# consent and counselling language puts a whole sentence in the hypothetical ("risks include ... stroke")
_SENTENCE_HYPOTHETICAL = re.compile(
    r"\b(?:if|risks?|potential complications?|informed consent|explained|discussed|counsel+ed)\b"
    r"|\bcomplications?\b(?:\s+\w+){0,3}\s+(?:include|including|such as)\b|\bsigns of \w+(?: \w+)? such as\b",
    re.IGNORECASE)
# a negation carried along a list: "denies fever, chills, night sweats, hemoptysis"
_LIST_SPLIT = re.compile(r",|\bor\b|\band\b|/", re.IGNORECASE)
_NOT_A_LIST = re.compile(r"\b(?:is|was|were|are|has|have|had|reports?|reported|complains?|complained|presents?"
                         r"|presented|developed|describes?|described|notes?|noted|states?|stated|endorses?|endorsed|admits?"
                         r"|admitted|now|today|currently|then|with|which|who)\b", re.IGNORECASE)
_NEGATION = re.compile(r"(?<!\w)(?:no|denie[sd]|deny(?:ing)?|without|negative for|free of)(?!\w)", re.IGNORECASE)
# section headers that make what follows historical or about relatives (MTSamples style "FAMILY HISTORY:")
_HEADER = re.compile(r"\b([A-Z][A-Z/ ]{0,40}[A-Z])\s*:")
_HEADER_KIND = {
    "FAMILY HISTORY": "family", "FAMILY MEDICAL HISTORY": "family", "FH": "family", "FHX": "family",
    "PAST MEDICAL HISTORY": "historical", "PAST SURGICAL HISTORY": "historical", "SURGICAL HISTORY": "historical",
    "MEDICAL HISTORY": "historical", "PAST HISTORY": "historical", "PMH": "historical", "PSH": "historical",
    "PMHX": "historical", "PAST PSYCHIATRIC HISTORY": "historical", "ALLERGIES": "historical",
    "PREVIOUS SURGERIES": "historical", "OPERATIONS": "historical",
}
_POST = re.compile(r"^\W*(?:(?:was|were|is|are|has been|have been|had been)\s+)?(?:ruled out|excluded|unlikely)\b",
                   re.IGNORECASE)
WINDOW_WORDS = 7


def _listed_negation(head: str) -> bool:
    found = list(_NEGATION.finditer(head))
    if not found:
        return False
    last = found[-1]
    chunks = _LIST_SPLIT.split(head[last.end():])
    if any(_NOT_A_LIST.search(chunk) for chunk in chunks):
        return False
    return len(chunks[-1].split()) <= 2 and all(len(chunk.split()) <= 4 for chunk in chunks)


def section_kind(text: str, start: int, reach: int = 1500) -> str | None:
    """'family' or 'historical' when the nearest upper-case header before `start` is such a section."""
    found = list(_HEADER.finditer(text, max(0, start - reach), start))
    return _HEADER_KIND.get(" ".join(found[-1].group(1).split())) if found else None


def assertion(text: str, start: int, end: int) -> str | None:
    """How a mention at text[start:end] is asserted: None (present), or negated/family/historical/hypothetical."""
    head = text[max(0, start - 400):start]
    cuts = list(_BOUNDARY.finditer(head))
    if cuts:
        head = head[cuts[-1].end():]
    head = _PSEUDO.sub(" ", head)
    window = " ".join(head.split()[-WINDOW_WORDS:])
    for kind, pattern in _PRE_RE.items():
        if pattern.search(window):
            return kind
    for kind, pattern in _PRE_JA.items():  # before the mention, or opening it (a Japanese run: "母が乳がんでした")
        if pattern.search(head) or pattern.match(text, start, end):
            return kind
    if _listed_negation(head):
        return "negated"
    tail = text[end:end + 60]
    cut = _BOUNDARY.search(tail)
    if cut:
        tail = tail[:cut.start()]
    if _POST.search(tail):
        return "negated"
    if _SENTENCE_HYPOTHETICAL.search(head):
        return "hypothetical"
    return section_kind(text, start)


# A diagnosis written as uncertain ("suspected lung cancer", "rule out PE", "pneumonia is likely"). Apart from
# `assertion`: triage must still act on a suspected stroke; coding must not code it (ICD-10-CM guideline IV.H).
_UNCERTAIN_BEFORE = re.compile(
    r"(?<!\w)(?:suspect(?:ed|s)?|suspicious (?:for|of)|suspicion (?:of|for)|probabl[ey]|possibl[ey]|likely"
    r"|presumed|presumptive|questionable|query|rule[sd]? out|r/o|concern(?:ing)? for|worrisome for"
    r"|working diagnosis(?: of)?|differential(?: diagnosis)?(?: includes?)?|cannot (?:exclude|rule out)"
    # a patient's own hedges: "they think it might be cancer", "not sure if it is"
    r"|(?:might|may|could) (?:be|have)|maybe|perhaps|not sure (?:if|whether)|wonder(?:ing)? if)(?!\w)",
    re.IGNORECASE)
_UNCERTAIN_AFTER = re.compile(
    r"^\W*(?:(?:is|was|are|were|remains?)\s+)?(?:suspected|possible|probable|likely|questionable|not excluded"
    r"|cannot be (?:excluded|ruled out)|to be ruled out|versus|vs\.?)(?!\w)", re.IGNORECASE)


def uncertain(text: str, start: int, end: int) -> bool:
    """Whether the mention at text[start:end] is written as suspected, possible or to be ruled out."""
    head = text[max(0, start - 200):start]
    cuts = list(_BOUNDARY.finditer(head))
    if cuts:
        head = head[cuts[-1].end():]
    if _UNCERTAIN_BEFORE.search(" ".join(head.split()[-WINDOW_WORDS:])):
        return True
    return bool(_UNCERTAIN_AFTER.search(text[end:end + 60]))


def find(pattern: re.Pattern | None, text: str, ignore: Iterable[str] = ("negated", "family", "historical",
                                                                            "hypothetical")) -> re.Match | None:
    """The first match whose assertion is not among `ignore` (pass ignore=() for any mention)."""
    if pattern is None or not text:
        return None
    ignore = set(ignore)
    for match in pattern.finditer(text):
        if not ignore or assertion(text, match.start(), match.end()) not in ignore:
            return match
    return None


def snippet(text: str, match: re.Match | tuple[int, int], width: int = 40, limit: int = 160) -> str:
    """The matched words (a match or a (start, end) span) with a little context, on one line, cut at word edges."""
    low, high = (match.start(), match.end()) if isinstance(match, re.Match) else match
    start, end = max(0, low - width), min(len(text), high + width)
    while start > 0 and not text[start - 1].isspace() and start < low:
        start += 1
    while end < len(text) and not text[end].isspace() and end > high:
        end -= 1
    out = " ".join(text[start:end].split()).strip(" ,;:")
    return out if len(out) <= limit else out[:limit - 1].rstrip() + "…"


def evidence(text: str, spans: Iterable[tuple[int, int]], near: int = 160) -> str:
    """One snippet for spans that lie close together, else their snippets joined by ' … '."""
    spans = sorted(spans)
    groups: list[list[int]] = []
    for start, end in spans:
        if groups and start - groups[-1][1] <= near:
            groups[-1][1] = max(groups[-1][1], end)
        else:
            groups.append([start, end])
    return " … ".join(snippet(text, (a, b), limit=240 if b - a > 120 else 160) for a, b in groups)
