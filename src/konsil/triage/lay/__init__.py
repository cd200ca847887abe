"""The patient-language layer: lay words in English, Spanish and Japanese mapped to clinical concepts.

Data in lexicon.csv (written for Konsil, see README.md): one row per concept with its model class, catalog
specialty, body system, ICD-10-CM block, a clinical phrase and the lay terms ("|"-separated) in each language.

- `language(text)`: "en", "es" or "ja" (script and function words; no download).
- `register(text)`: "lay" (a patient's own words), "one_liner" (a short clinical description) or "notes".
- `lookup(text)`: the lexicon concepts a text mentions, with the words that matched; `about_the_patient` keeps
  those the text says of the patient (what triage reasons on and shows: not a relative's, not only denied).
- `prepare(text)`: what the model vectorizes: the text, Japanese character bigrams (Japanese has no spaces, so
  the bigrams are its tokens) and the clinical phrase of each concept found, so that "azúcar alta",
  "血糖値が高い" and "high blood sugar" share features with the clinical notes' "diabetes mellitus".
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
_MASK: set[tuple[str, str]] = set()  # (concept, term) pairs lookup ignores: wording held out in cross-validation
LEXICON = HERE / "lexicon.csv"
TRAINING = HERE / "training.csv"  # hand-written patient texts the lay part trains on (see README.md)
LANGUAGES = ("en", "es", "ja")
MAX_WORDS = 12

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f\u30fc]+")
_WORD = re.compile(r"[a-z0-9ñ]+(?:'[a-z]+)?")
_ACCENTS = str.maketrans("áéíóúüàèìòùâêîôû’`", "aeiouuaeiouaeiou''")
_ES = {"el", "la", "los", "las", "de", "del", "que", "y", "en", "un", "una", "con", "por", "para", "mi", "mis",
       "tengo", "me", "es", "no", "se", "muy", "dolor", "hace", "desde", "estoy", "siento", "dijeron", "médico",
       "medico", "pero", "también", "tambien", "yo", "lo", "al", "su", "quieren", "mucho"}
_EN = {"the", "and", "of", "to", "in", "is", "my", "i", "with", "for", "a", "an", "have", "it", "was", "on",
       "that", "this", "he", "she", "patient", "me", "but", "they", "been", "are", "had", "at"}
_FIRST_PERSON = re.compile(  # "I" only before a lower-case word: not "I&D", "type I", "I-125"
    r"\b(?:[Ii]'m|[Ii]m|[Ii]'ve|[Ii]'d|[Ii]'ll|[Mm]y|[Mm]e|[Mm]yself|[Mm]ine)\b|"
    r"(?<!type )(?<!stage )(?<!grade )(?<!class )(?<!troponin )(?<!\w)[Ii] (?=[a-z])")
_CLINICAL = re.compile(
    r"\b(?:patient|pt|history of|hpi|denies|denied|diagnos[ie]s:|impression|assessment|plan:|procedure:|"
    r"indications?:|findings|status post|s/p|exam(?:ination)?|mg|ml|he|she|his|her|was admitted|"
    r"complains? of|presents?|presented|year-old|yo|postoperative|preoperative|anesthesia)\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class Concept:
    concept: str
    label: str  # the model class
    specialty: str  # catalog code (may be more specific than the class)
    body_system: str
    icd10: str  # ICD-10-CM block or category
    clinical: str
    kind: str  # sym | cond | proc | drug | stmt (a whole first-person statement) | site (an organ or place only)
    terms: dict  # language -> tuple of lay terms


def term_key(term: str) -> str:
    """How lookup reports a term: folded words for English/Spanish, as written for Japanese and acronyms."""
    if _CJK.search(term) or (term.isupper() and len(term) <= 5):
        return term
    return " ".join(_WORD.findall(fold(term)))


def written(path: str | Path = TRAINING) -> list[dict]:
    """{"split", "language", "label", "text", "answer"} per hand-written patient text of a split file."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def set_mask(pairs) -> None:
    """Hide (concept, term) pairs from lookup/prepare (cross-validation on wording the model never saw);
    set_mask(()) restores the whole lexicon."""
    _MASK.clear()
    _MASK.update((c, term_key(t)) for c, t in pairs)


def fold(text: str) -> str:
    """Lower case without Spanish accents (patients often leave them out)."""
    return (text or "").lower().translate(_ACCENTS)


@lru_cache(maxsize=1)
def concepts() -> tuple[Concept, ...]:
    out = []
    with LEXICON.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            terms = {lang: tuple(t.strip() for t in (row.get(lang) or "").split("|") if t.strip())
                     for lang in LANGUAGES}
            out.append(Concept(row["concept"], row["label"], row["specialty"], row["body_system"], row["icd10"],
                               row["clinical"], row["kind"], terms))
    return tuple(out)


@lru_cache(maxsize=1)
def _index() -> tuple[dict, dict, list]:
    """(folded word tuple -> concepts, exact-case acronyms -> concepts, [(Japanese term, concept)])."""
    words: dict[tuple, list] = {}
    acronyms: dict[str, list] = {}
    japanese: list[tuple[str, Concept]] = []
    for concept in concepts():
        for lang, terms in concept.terms.items():
            for term in terms:
                if _CJK.search(term) and lang == "ja":
                    japanese.append((term, concept))
                elif term.isupper() and len(term) <= 5:  # MS, TB, HIV, COPD: case decides ("Ms. Smith")
                    acronyms.setdefault(term, []).append(concept)
                else:
                    key = tuple(_WORD.findall(fold(term)))
                    if key:
                        words.setdefault(key, []).append(concept)
    japanese.sort(key=lambda pair: -len(pair[0]))
    return words, acronyms, japanese


def lookup(text: str) -> list[dict]:
    """[{"concept", "label", "specialty", "body_system", "icd10", "clinical", "kind", "term"}], in text order,
    one entry per concept (its first mention). Longer terms win over the words inside them."""
    text = text or ""
    words, acronyms, japanese = _index()
    found: list[tuple[int, Concept, str]] = []
    folded = fold(text)
    matches = list(_WORD.finditer(folded))
    tokens = [m.group() for m in matches]
    same_length = len(folded) == len(text)  # fold maps letter to letter: spans point into the patient's text
    taken = [False] * len(tokens)
    for n in range(min(MAX_WORDS, len(tokens)), 0, -1):
        for i in range(len(tokens) - n + 1):
            key = tuple(tokens[i:i + n])
            hits = [c for c in words.get(key, ()) if (c.concept, " ".join(key)) not in _MASK]
            if hits and not any(taken[i:i + n]):
                taken[i:i + n] = [True] * n
                # the words as the patient wrote them ("histerectomía", not the folded "histerectomia")
                said = (" ".join(text[m.start():m.end()] for m in matches[i:i + n]) if same_length
                        else " ".join(key))
                found.extend((i, c, said) for c in hits)
    for match in re.finditer(r"(?<![A-Za-z0-9])[A-Z]{2,5}(?![A-Za-z0-9])", text):  # also beside Japanese
        for c in acronyms.get(match.group(), ()):
            if (c.concept, match.group()) not in _MASK:
                found.append((match.start(), c, match.group()))
    if _CJK.search(text):
        covered: list[tuple[int, int]] = []
        for term, c in japanese:
            if (c.concept, term) in _MASK:
                continue
            for m in re.finditer(re.escape(term), text):
                if not any(lo <= m.start() and m.end() <= hi for lo, hi in covered):
                    covered.append((m.start(), m.end()))
                    found.append((m.start(), c, term))
    out, seen = [], set()
    for _pos, c, term in sorted(found, key=lambda item: item[0]):
        if c.concept in seen:
            continue
        seen.add(c.concept)
        out.append({"concept": c.concept, "label": c.label, "specialty": c.specialty, "body_system": c.body_system,
                    "icd10": c.icd10, "clinical": c.clinical, "kind": c.kind, "term": term})
    return out


NOT_THE_PATIENTS = frozenset({"negated", "family", "hypothetical"})  # knowledge.assertion's kinds


def about_the_patient(text: str, hits: list[dict], *, relatives: bool = True) -> list[dict]:
    """The `lookup` hits the text says of the patient somewhere: not those only denied ("no chest pain"), only a
    relative's ("my mother had breast cancer") or only imagined ("if I get chest pain"); NegEx/ConText context
    of triage.knowledge. A suspected one stays (triage acts on a suspected stroke); a term not found as written
    (folded accents) counts as said. `relatives` false (a caregiver wrote it: "my mother" may be the patient): a
    relative's mention counts as said."""
    from konsil.triage.knowledge import assertion

    text = text or ""
    unsaid = NOT_THE_PATIENTS if relatives else NOT_THE_PATIENTS - {"family"}
    kept = []
    for hit in hits:
        spans = mentions(text, hit["term"])
        if not spans or any(assertion(text, start, end) not in unsaid for start, end in spans):
            kept.append(hit)
    return kept


def mentions(text: str, phrase: str) -> list[tuple[int, int]]:
    """Where `phrase` is written in `text`, case-insensitively: as whole words, or anywhere in a Japanese run (it
    has no word edges). Matched in the text itself: lower() can change a string's length ("İ")."""
    if not phrase:
        return []
    pattern = re.escape(phrase) if _CJK.search(phrase) else rf"(?<!\w){re.escape(phrase)}(?!\w)"
    return [m.span() for m in re.finditer(pattern, text or "", re.IGNORECASE)]


def cjk_bigrams(text: str) -> list[str]:
    """Character bigrams of each Japanese/Chinese run (a one-character run counts as itself)."""
    grams = []
    for run in _CJK_RUN.findall(text or ""):
        grams.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
    return grams


# A treatment the patient already had without success ("physical therapy did not help", "hice kinesio y nada",
# "リハビリは効かなかった") is history, not the care asked for: its clinical phrase is not added.
_FAILED = re.compile(
    r"(?:did ?n[o']t|does ?n[o']t|has ?n[o']t|have ?n[o']t|never) (?:help|work|fix)|did nothing|no (?:help|use|better)"
    r"|no (?:me |le )?(?:ayudo|ayuda|sirvio|funciono|mejoro|mejore)|y nada|sin (?:mejoria|resultado)"
    r"|効かな|良くならな|治らな|改善しな|効果がな")
_SENTENCE_END = re.compile(r"[.!?;。！？\n]")


def _failed(hit: dict, folded: str) -> bool:
    """A procedure the same sentence says did not help, within a few words of it."""
    if hit["kind"] != "proc":
        return False
    at = folded.find(fold(hit["term"]))
    if at < 0:
        return False
    after = folded[at + len(fold(hit["term"])):][:80]
    end = _SENTENCE_END.search(after)
    return bool(_FAILED.search(after[:end.start()] if end else after))


def prepare(text: str) -> str:
    """The text the model vectorizes (the same function at training and at run time)."""
    text = text or ""
    extra = cjk_bigrams(text)
    hits = lookup(text)
    if not extra and not hits:
        return text
    parts = [text]
    if extra:
        parts.append(" ".join(extra))
    folded = fold(text)
    phrases = [h["clinical"] for h in hits  # a bare organ name says where, not what
               if h["kind"] != "site" and not _failed(h, folded)]
    if phrases:
        parts.append(" ".join(phrases))
    return "\n".join(parts)


def language(text: str) -> str:
    text = text or ""
    if _CJK.search(text):
        return "ja"
    tokens = _WORD.findall(text.lower())
    es = sum(t in _ES for t in tokens) + 2 * len(re.findall(r"[ñ¿¡]|ción\b", text.lower()))
    en = sum(t in _EN for t in tokens)
    return "es" if es > en else "en"


def register(text: str) -> str:
    """"lay" for a patient's own words (first person, or Spanish/Japanese text), else "one_liner" up to 60
    words, else "notes". A clinician's note in the first person ("I examined the patient") stays clinical."""
    text = text or ""
    if language(text) != "en":
        return "lay"
    first = len(_FIRST_PERSON.findall(text))
    clinical = len(_CLINICAL.findall(text))
    if first and first >= clinical:
        return "lay"
    return "one_liner" if len(text.split()) <= 60 else "notes"


def body_systems(text: str) -> list[str]:
    """The body systems the text's concepts belong to (first mention first; vague 'general' ones last)."""
    systems = list(dict.fromkeys(h["body_system"] for h in lookup(text)))
    return [s for s in systems if s != "general"] + [s for s in systems if s == "general"]
