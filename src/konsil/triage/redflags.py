"""Red flags: findings that make a case urgent or STAT (data in knowledge/red_flags.csv, each row cited).

A row matches when its `pattern` is found as a current finding (not negated, historical, hypothetical or about a
relative) and every ' && '-separated `context` pattern is found too (in the same sentence when scope is
'sentence'), or when one of the case's ICD-10-CM codes starts with one of its `icd10_prefixes`. `exclude` drops a
pattern match whose sentence also matches it (for example "anaphylaxis" inside an allergy list). `sex` and
`min_age`/`max_age` restrict a row when the case gives them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .knowledge import (
    URGENCY_ORDER,
    assertion,
    clean_codes,
    evidence,
    fail,
    find,
    icd_hits,
    icd_rules,
    read,
    regex,
)

FILE = "red_flags.csv"
COLUMNS = ("code", "label", "urgency", "pattern", "context", "scope", "exclude", "icd10_prefixes", "sex", "min_age",
           "max_age", "source")
CURRENT = ("negated", "family", "historical", "hypothetical")
_SENTENCE_END = re.compile(r"[.!?;](?=[\s,]|$)|\n")


@dataclass(frozen=True)
class RedFlag:
    line: int
    code: str
    label: str
    urgency: str
    pattern: re.Pattern | None
    context: tuple[re.Pattern, ...]
    sentence_scope: bool
    exclude: re.Pattern | None
    icd10: tuple
    sex: str
    min_age: int | None
    max_age: int | None
    source: str


def _age(line: int, value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise fail(FILE, line, f"age bound {value!r} is not a whole number")
    return int(value)


@lru_cache(maxsize=1)
def rules() -> tuple[RedFlag, ...]:
    out, labels = [], {}
    for line, row in read(FILE, COLUMNS, required=("code", "label", "urgency")):
        if row["urgency"] not in ("urgent", "stat"):
            raise fail(FILE, line, f"urgency must be urgent or stat, not {row['urgency']!r}")
        if labels.setdefault(row["code"], row["label"]) != row["label"]:
            raise fail(FILE, line, f"code {row['code']!r} has two labels")
        if not row["pattern"] and not row["icd10_prefixes"]:
            raise fail(FILE, line, "needs a pattern or icd10_prefixes")
        if row["context"] and not row["pattern"]:
            raise fail(FILE, line, "context needs a pattern")
        if row["scope"] not in ("", "text", "sentence"):
            raise fail(FILE, line, f"scope must be text or sentence, not {row['scope']!r}")
        if row["sex"] not in ("", "female", "male"):
            raise fail(FILE, line, f"sex must be female or male, not {row['sex']!r}")
        context = tuple(regex(FILE, line, part.strip()) for part in row["context"].split("&&") if part.strip())
        out.append(RedFlag(
            line=line, code=row["code"], label=row["label"], urgency=row["urgency"],
            pattern=regex(FILE, line, row["pattern"]), context=context, sentence_scope=row["scope"] == "sentence",
            exclude=regex(FILE, line, row["exclude"]), icd10=icd_rules(FILE, line, row["icd10_prefixes"]),
            sex=row["sex"], min_age=_age(line, row["min_age"]), max_age=_age(line, row["max_age"]),
            source=row["source"],
        ))
    return tuple(out)


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    cuts = [m.end() for m in _SENTENCE_END.finditer(text, 0, start)]
    after = _SENTENCE_END.search(text, end)
    return (cuts[-1] if cuts else 0), (after.start() if after else len(text))


def _pattern_evidence(rule: RedFlag, text: str) -> str | None:
    for match in rule.pattern.finditer(text):
        if assertion(text, match.start(), match.end()) in CURRENT:
            continue
        low, high = _sentence(text, match.start(), match.end())
        if rule.exclude and rule.exclude.search(text, low, high):
            continue
        offset, scope = (low, text[low:high]) if rule.sentence_scope else (0, text)
        found = [find(p, scope, CURRENT) for p in rule.context]
        if all(found):
            spans = [(match.start(), match.end())] + [(offset + m.start(), offset + m.end()) for m in found]
            return evidence(text, spans)
    return None


def _applies(rule: RedFlag, age: int | None, sex: str) -> bool:
    if rule.sex and sex and rule.sex != sex:
        return False
    if age is not None and rule.min_age is not None and age < rule.min_age:
        return False
    return not (age is not None and rule.max_age is not None and age > rule.max_age)


def _sex(value: str | None) -> str:
    value = (value or "").strip().lower()
    return {"f": "female", "female": "female", "m": "male", "male": "male"}.get(value, "")


def assess(text: str, icd10: list[str] = (), age: int | None = None, sex: str | None = None
           ) -> tuple[str, list[dict]]:
    """(urgency, flags): 'routine' | 'urgent' | 'stat' and one flag per red-flag code found, the most urgent first.

    Each flag is {"code", "label", "urgency", "evidence", "source"}; evidence is the matched text or the ICD code.
    """
    text = text or ""
    codes = clean_codes(icd10)
    sex = _sex(sex)
    if not isinstance(age, int) or isinstance(age, bool) or age < 0:
        age = None
    flags: dict[str, dict] = {}
    for rule in rules():
        if not _applies(rule, age, sex):
            continue
        found = _pattern_evidence(rule, text) if rule.pattern else None
        if found is None and rule.icd10:
            hits = icd_hits(rule.icd10, codes)
            found = f"ICD-10-CM {', '.join(hits)}" if hits else None
        if found is None:
            continue
        current = flags.get(rule.code)
        if current is None or URGENCY_ORDER[rule.urgency] > URGENCY_ORDER[current["urgency"]]:
            flags[rule.code] = {"code": rule.code, "label": rule.label, "urgency": rule.urgency,
                                "evidence": found, "source": rule.source}
    ordered = sorted(flags.values(), key=lambda f: -URGENCY_ORDER[f["urgency"]])
    urgency = ordered[0]["urgency"] if ordered else "routine"
    return urgency, ordered
