"""ICD-10-CM codes through simple-icd-10-cm (CDC release shipped offline with the package)."""

from __future__ import annotations

import re
import threading
import warnings
from functools import lru_cache
from typing import NamedTuple

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import simple_icd_10_cm as cm
    # the library fills its code list lazily and without a lock (threads racing to fill it get None indexes):
    # fill it once here, under the import lock
    cm.get_all_codes()
_INDEX_LOCK = threading.Lock()  # the search index is built once, by one thread

_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")


def normalize(code: str) -> str:
    """Upper-case, trimmed, in the dotted form (C50911 -> C50.911)."""
    code = (code or "").strip().upper()
    return cm.add_dot(code) if _SHAPE.match(code) and cm.is_valid_item(code) else code


def is_valid(code: str) -> bool:
    """A diagnosis code: a category or (extended) subcategory, not a chapter or a block."""
    code = (code or "").strip().upper()
    if not _SHAPE.match(code) or not cm.is_valid_item(code):
        return False
    return cm.is_category_or_subcategory(code) or cm.is_extended_subcategory(code)


@lru_cache(maxsize=4096)
def describe(code: str) -> str:
    try:
        return cm.get_description(code)
    except ValueError:
        return ""


def chapter_and_block(code: str) -> tuple[str, str]:
    """The chapter number and the block a code belongs to: ('9', 'I20-I25'), ('2', 'C50')."""
    chapter = block = ""
    for ancestor in cm.get_ancestors(code):
        if cm.is_chapter(ancestor):
            chapter = ancestor
        elif cm.is_block(ancestor) and not block:
            block = ancestor
    return chapter, block


def tabular_index(code: str) -> int | None:
    """The code's position in the tabular list (C43 < C4A < C44), or None for an unknown code."""
    code = (code or "").strip().upper()
    if not _SHAPE.match(code) or not cm.is_valid_item(code):
        return None
    return cm.get_index(code)


def ancestors(code: str) -> list[str]:
    return list(cm.get_ancestors(code))


# --- search and suggestions from plain words ---------------------------------------------------------------

MAX_QUERY = 100  # characters of a search-as-you-type query
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset({"of", "and", "or", "the", "a", "an", "in", "on", "with", "without", "to", "for", "by", "due",
                   "other", "unspecified", "specified", "site", "nos", "type", "not", "elsewhere", "classified",
                   "part", "my", "i", "have", "has", "had", "is", "was", "me", "at", "as", "from", "left", "right"})


def _words(text: str) -> list[str]:
    return _WORD.findall((text or "").lower())


def _lay_terms() -> list[tuple[re.Pattern, str]]:
    """Plain words and the ICD-10-CM wording they stand for (data: icd10_lay_terms.csv, with sources)."""
    import csv
    from pathlib import Path

    rows = []
    with open(Path(__file__).with_name("icd10_lay_terms.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.append((re.compile(r"\b(?:" + row["pattern"] + r")\b"), row["icd10_wording"]))
    return rows


_LAY: list | None = None
_LAY_LOCK = threading.Lock()  # the lay-term list is read from its CSV once, by one thread


def _lay() -> list[tuple[re.Pattern, str]]:
    global _LAY
    if _LAY is None:
        with _LAY_LOCK:
            if _LAY is None:
                _LAY = _lay_terms()
    return _LAY


def expand(text: str) -> str:
    """The text with the ICD-10-CM wording of the plain words it uses added ("breast cancer" -> "... malignant
    neoplasm ...")."""
    low = (text or "").lower()
    return " ".join([low, *_lay_matches(low)[1]])


def _lay_matches(low: str) -> tuple[set[str], list[str]]:
    """The words of `low` that lay terms cover, and the ICD-10-CM wording they stand for."""
    covered, wording = set(), []
    for pattern, words in _lay():
        for match in pattern.finditer(low):
            covered.update(_words(match.group(0)))
            wording.append(words)
    return covered, wording


def _index() -> list[tuple[str, str, str, frozenset]]:
    with _INDEX_LOCK:
        return _build_index()


@lru_cache(maxsize=1)
def _build_index() -> list[tuple[str, str, str, frozenset]]:
    """(code, title, the searchable text: title, inclusion terms and 'includes' notes, its content words)."""
    rows, seen = [], set()
    for code in cm.get_all_codes(with_dots=True):
        if code in seen or not (cm.is_category_or_subcategory(code) or cm.is_extended_subcategory(code)):
            continue
        seen.add(code)
        title = cm.get_description(code)
        terms = [*cm.get_inclusion_term(code), *cm.get_includes(code)]
        text = " ".join([title, *terms]).lower()
        rows.append((code, title, text, frozenset(w for w in _words(title) if w not in _STOP)))
    return rows


class Need(NamedTuple):
    """The words a text must say for a code: all of `required`, and one of `either` when the title names two
    sites as alternatives ("Malignant neoplasm of bronchus and lung": a lung cancer is one, bronchus not said)."""

    required: frozenset
    either: frozenset = frozenset()

    def met(self, words: set[str] | frozenset) -> bool:
        return self.required <= words and (not self.either or bool(self.either & words))

    @property
    def size(self) -> int:
        return len(self.required) + (1 if self.either else 0)


_EITHER = re.compile(r"\bof (\w+) (?:and|or) (\w+)$")  # "... of kidney and ureter": either site


def need_of(title: str, content: frozenset) -> Need:
    """What suggest() asks of a text for this title (two content words or more in all)."""
    pair = _EITHER.search(title.lower())
    either = frozenset(w for w in pair.groups() if w not in _STOP) if pair else frozenset()
    if len(either) == 2 and len(content - either) >= 1:
        return Need(content - either, either)
    return Need(content)


def _suggest_index() -> dict[str, list[tuple[str, str, Need]]]:
    with _INDEX_LOCK:
        return _build_suggest_index()


@lru_cache(maxsize=1)
def _build_suggest_index() -> dict[str, list[tuple[str, str, Need]]]:
    """The codes suggest() can name (two content words or more), each filed once under its rarest required word:
    a code whose words all appear in a text is filed under one of them, so only those lists need reading."""
    rows = [(code, title, need_of(title, content)) for code, title, _text, content in _build_index()
            if len(content) >= 2]
    frequency: dict[str, int] = {}
    for _code, _title, need in rows:
        for word in need.required:
            frequency[word] = frequency.get(word, 0) + 1
    by_word: dict[str, list[tuple[str, str, Need]]] = {}
    for row in rows:
        by_word.setdefault(min(row[2].required, key=lambda w: (frequency[w], w)), []).append(row)
    return by_word


def search(query: str, *, limit: int = 20) -> list[dict]:
    """Codes whose code, title or inclusion terms hold every word of `query` (plain words understood too).

    Broad codes (categories) first, then by code order; `matched` says which term matched."""
    query = (query or "").strip()
    words = [w for w in _words(query) if w not in _STOP]
    if not words:
        return []
    code_like = query.upper().replace(" ", "")
    covered, wording = _lay_matches(query.lower())
    lay = [w for w in _words(" ".join(wording)) if w not in _STOP]
    plain = [w for w in words if w not in covered]  # the words the lay terms do not replace
    found = []
    for position, (code, title, text, _content) in enumerate(_index()):
        if code.startswith(code_like) and _SHAPE.match(code_like[:3] or "-"):
            found.append((0, 0, len(code), position, code, title))
            continue
        literal = all(w in text for w in words)
        if not literal and not (lay and all(w in text for w in lay + plain) and any(w in text for w in words)):
            continue
        low = title.lower()
        in_title = all(w in low for w in words) or bool(lay and all(w in low for w in lay + plain))
        found.append((1, 0 if in_title else 1, len(code), position, code, title))
        if len(found) >= 5000:
            break
    found.sort()
    return [{"code": row[4], "title": row[5]} for row in found[:limit]]


_POLAR = frozenset({"positive", "negative"})  # words of a finding's polarity: the whole title within one clause
# A code's words must meet in one sentence: "ECOG 1. ... type 2 diabetes" is not type 1 diabetes, "primary lung
# cancer. ... Hypertension" is not primary pulmonary hypertension (decimals such as "2.3 cm" do not end one).
_SENTENCE = re.compile(r"(?<!\d)\.|\.(?!\d)|[;!?\n。！？]")


def suggest(text: str, *, limit: int = 5) -> list[dict]:
    """Codes a text speaks of: every content word of the code's title appears in the text (plain words
    understood through the lay terms). The most specific titles first; a code is left out when a broader one
    says the same words. Proposals only: a person confirms them."""
    expanded = expand(text)
    have = set(_words(expanded)) - _STOP
    if not have:
        return []
    hits = {}
    by_word = _suggest_index()
    for word in have:
        for code, title, need in by_word.get(word, ()):
            if need.met(have):
                hits[code] = (title, need)
    clauses = [set(_words(expand(part))) for part in re.split(r"[.;,:\n]+", text or "") if part.strip()]
    sentences = [set(_words(expand(part))) for part in _SENTENCE.split(text or "") if part.strip()]
    for code, (_title, need) in list(hits.items()):
        if (need.required | need.either) & _POLAR and not any(need.met(words) for words in clauses):
            del hits[code]  # "hormone receptor positive, HER2 negative" does not say "hormone receptor negative"
        elif not any(need.met(words) for words in sentences):
            del hits[code]
    chosen = []
    for code, (title, need) in hits.items():
        parent = cm.get_parent(code) if len(code) > 3 else ""
        residual = hits[parent][0].startswith("Other ") and "unspecified" in title.lower() if parent in hits else False
        if parent in hits and hits[parent][1].size >= need.size and not residual:
            continue  # the broader code says as much (not a residual "Other ..." one: plain COPD is J44.9, not J44)
        said = need.required | (need.either & have)
        chosen.append((-need.size, len(code), code, title, sorted(said)))
    codes = [row[2] for row in chosen]  # a category beside its own more specific code says less: N18.31, not N18
    chosen = sorted(row for row in chosen if not any(c != row[2] and c.startswith(row[2]) for c in codes))
    if not chosen:
        return []  # the quoting below reads the lay terms again: only for texts that name codes
    low = (text or "").lower()
    found = [(m.span(), set(_words(wording))) for pattern, wording in _lay() for m in pattern.finditer(low)]
    return [{"code": code, "title": title, "matched": _quoted(low, set(words), found) or " ".join(words)}
            for _n, _len, code, title, words in chosen[:limit]]


def _quoted(low: str, content: set[str], lay_spans: list, most: int = 3) -> str:
    """The text's own words that a code was suggested for, in their order: the content words as written and
    the plain words standing for the others ("breast cancer" for "malignant neoplasm of breast"); adjacent ones
    joined, each phrase once (and not when a longer one holds it), at most `most`; "" when none is found."""
    literal = [m for m in _WORD.finditer(low) if m.group(0) in content]
    spans = [m.span() for m in literal]
    written = {m.group(0) for m in literal}  # plain words quoted for what the text does not say as written
    spans += [span for span, words in lay_spans if (words & content) - written]
    phrases: list[str] = []
    end = -1
    for start, stop in sorted(spans):
        if phrases and start <= end + 2 and not low[end:start].strip(" -"):
            phrases[-1] += low[end:stop] if stop > end else ""
        else:
            phrases.append(low[start:stop])
        end = max(end, stop)
    unique = list(dict.fromkeys(p.strip() for p in phrases if p.strip()))
    kept = [p for p in unique if not any(o != p and re.search(rf"\b{re.escape(p)}\b", o) for o in unique)]
    return ", ".join(kept[:most])


def warm() -> None:
    """Build the search and suggestion indexes and read the lay terms (about 2.5 s of CPU: core/startup.py runs
    it when a process starts, so no create or submit waits for it)."""
    _lay()
    _index()
    _suggest_index()
