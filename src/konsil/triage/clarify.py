"""Clarifying questions when triage is unsure (issue #17): chosen for what their answers would change.

The question bank is data (knowledge/clarifying_questions.csv): each question (which part of the body, what a doctor
already said, which kind of doctor treats it now, since when) has answer options, each option the catalog
specialties it points to, and its wording in English, Spanish and Japanese: in the patient's voice, and where that
reads wrong for a referring clinician answering about their patient, a clinician's wording (`clinician_*`).

Choosing: the proposal's candidate specialties with their probabilities are the prior. An option is likely for a
specialty it names (or names an ancestor of) and unlikely otherwise; a specialty no option names answers anything
(uniform). A question's expected information gain is the prior's entropy minus the expected entropy after its
answer; the one to three questions with the largest gain are asked, none whose gain is negligible.

Answering: the answers multiply the candidates' probabilities by the same likelihoods (a Bayesian update), and
specialties an answer names that the engine did not rank enter with a small prior; the engine also reads the answers
as text when it runs again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from konsil.core.context import reader_language

from .knowledge import catalog_parents, fail, read
from .knowledge import specialties as catalog_codes

FILE = "clarifying_questions.csv"
LANGUAGES = ("en", "es", "ja")
CLOSE = 0.15  # top two candidates nearer than this: unsure
MAX_QUESTIONS = 3
MIN_GAIN = 0.05  # bits
CANDIDATES = 8
SMOOTHING = 0.1  # an answer that names another specialty is unlikely, never impossible
NEW_PRIOR = 0.03  # prior for a specialty only an answer names
NOTE_MAX = 1000


@dataclass(frozen=True)
class Option:
    code: str
    specialties: tuple[str, ...]
    text: dict
    clinician: dict  # the referring clinician's wording by language; empty: the patient's wording serves


@dataclass(frozen=True)
class Question:
    code: str
    text: dict
    options: tuple[Option, ...]
    source: str
    clinician: dict

    def option(self, code: str) -> Option | None:
        return next((o for o in self.options if o.code == code), None)


@lru_cache(maxsize=1)
def bank() -> dict[str, Question]:
    """Question code -> Question, in file order."""
    prompts: dict[str, tuple[dict, str, dict]] = {}
    options: dict[str, list[Option]] = {}
    columns = ("question", "option", "specialties", *(f"{kind}_{lang}" for kind in ("text", "clinician")
                                                      for lang in LANGUAGES), "source")
    for line, row in read(FILE, columns, required=("question", "text_en", "text_es", "text_ja")):
        text = {lang: row[f"text_{lang}"] for lang in LANGUAGES}
        clinician = {lang: row[f"clinician_{lang}"] for lang in LANGUAGES if row[f"clinician_{lang}"]}
        if clinician and len(clinician) != len(LANGUAGES):
            raise fail(FILE, line, "a clinician's wording needs all of clinician_en, clinician_es, clinician_ja")
        if not row["option"]:
            if row["question"] in prompts:
                raise fail(FILE, line, f"question {row['question']!r} repeated")
            prompts[row["question"]] = (text, row["source"], clinician)
            continue
        if row["question"] not in prompts:
            raise fail(FILE, line, f"option before its question {row['question']!r}")
        if any(o.code == row["option"] for o in options.get(row["question"], ())):
            raise fail(FILE, line, f"option {row['option']!r} repeated")
        options.setdefault(row["question"], []).append(
            Option(row["option"], catalog_codes(FILE, line, row["specialties"]), text, clinician))
    out = {}
    for code, (text, source, clinician) in prompts.items():
        if len(options.get(code, ())) < 2:
            raise fail(FILE, 1, f"question {code!r} needs two or more options")
        out[code] = Question(code, text, tuple(options[code]), source, clinician)
    return out


# ---------------------------------------------------------------- when to ask


def unsure(ranked: list[dict], abstain: bool) -> bool:
    """Triage abstained, ranked nothing, or its top two candidates are close."""
    if abstain or not ranked:
        return True
    if len(ranked) < 2:
        return False
    return float(ranked[0].get("probability", 0)) - float(ranked[1].get("probability", 0)) < CLOSE


def prior(ranked: list[dict], limit: int = CANDIDATES) -> dict[str, float]:
    """The top candidates' probabilities, normalised to sum to one."""
    top = {str(r["code"]): max(float(r.get("probability", 0)), 0.0) for r in ranked[:limit] if r.get("code")}
    total = sum(top.values())
    if total <= 0:
        return {code: 1 / len(top) for code in top} if top else {}
    return {code: p / total for code, p in top.items()}


def _lineage(code: str) -> list[str]:
    parents, out = catalog_parents(), []
    while code and code not in out:
        out.append(code)
        code = parents.get(code, "")
    return out


def likelihood(question: Question, specialty: str) -> dict[str, float]:
    """P(option | specialty): the options naming the specialty (or its nearest ancestor) share most of the mass."""
    n = len(question.options)
    for code in _lineage(specialty):
        named = [o.code for o in question.options if code in o.specialties]
        if named:
            return {o.code: (1 - SMOOTHING) * (o.code in named) / len(named) + SMOOTHING / n
                    for o in question.options}
    return {o.code: 1 / n for o in question.options}


def _entropy(dist) -> float:
    return -sum(p * math.log2(p) for p in dist if p > 0)


def expected_gain(question: Question, candidates: dict[str, float]) -> float:
    """Bits of information the answer is expected to give about the specialty."""
    if len(candidates) < 2:
        return 0.0
    tables = {s: likelihood(question, s) for s in candidates}
    after = 0.0
    for option in question.options:
        joint = {s: p * tables[s][option.code] for s, p in candidates.items()}
        total = sum(joint.values())
        if total > 0:
            after += total * _entropy([v / total for v in joint.values()])
    return max(_entropy(candidates.values()) - after, 0.0)


def choose(ranked: list[dict], *, limit: int = MAX_QUESTIONS) -> list[dict]:
    """[{"code", "gain", "options": [codes]}]: the most informative questions first, at most `limit`."""
    candidates = prior(ranked)
    scored = [(round(expected_gain(q, candidates), 4), q) for q in bank().values()]
    scored = [(gain, q) for gain, q in scored if gain >= MIN_GAIN]
    scored.sort(key=lambda item: -item[0])
    return [{"code": q.code, "gain": gain, "options": [o.code for o in q.options]} for gain, q in scored[:limit]]


def localized(questions: list[dict], language: str, *, clinician: bool = False) -> list[dict]:
    """The asked questions worded in `language` (English when it has no wording), for a referring clinician when
    `clinician` (about their patient, where the patient's wording would not fit): [{"code", "text", "options"}]."""
    lang = language if language in LANGUAGES else "en"

    def words(item) -> str:
        wording = item.clinician if clinician and item.clinician else item.text
        return wording[lang] or wording["en"]

    out = []
    for asked in questions:
        question = bank().get(asked.get("code"))
        if question is None:
            continue
        out.append({"code": question.code, "text": words(question),
                    "options": [{"code": o.code, "text": words(o)} for o in question.options]})
    return out


def for_clinician(user, case) -> bool:
    """Whether `user` is the referring clinician of `case`: asked about their patient, not as the patient."""
    from konsil.accounts.roles import Role
    from konsil.cases import relations as rel

    return rel.REQUESTER in rel.relations(user, case) and user.has_role(Role.REFERRING_CLINICIAN)


# ---------------------------------------------------------------- answers


def validate(questions: list[dict], answers, note) -> tuple[dict[str, str], str, dict[str, list[str]]]:
    """(clean answers, clean note, errors by field). Each answer must be one of its question's options."""
    from django.utils.translation import gettext as _

    errors: dict[str, list[str]] = {}
    asked = {q.get("code"): q for q in questions}
    clean: dict[str, str] = {}
    if not isinstance(answers, dict):
        return {}, "", {"answers": [_("Send the answers as an object: question code to option code.")]}
    for code, value in answers.items():
        if code not in asked:
            errors.setdefault(f"answers.{code}", []).append(_("This question was not asked."))
            continue
        if value in (None, ""):
            continue
        if not isinstance(value, str) or value not in asked[code].get("options", ()):
            errors.setdefault(f"answers.{code}", []).append(_("Choose one of the options offered."))
            continue
        clean[code] = value
    if note is None:
        note = ""
    if not isinstance(note, str):
        errors.setdefault("note", []).append(_("Enter text."))
        note = ""
    note = note.strip()
    if len(note) > NOTE_MAX:
        errors.setdefault("note", []).append(_("Keep this under %(n)d characters.") % {"n": NOTE_MAX})
    if not clean and not note and not errors:
        errors["answers"] = [_("Answer at least one question, or add a few words of your own.")]
    return clean, note, errors


def as_text(answers: dict[str, str], note: str = "") -> str:
    """The answers as English sentences for the engine to read, then the patient's own words."""
    lines = []
    for code, value in (answers or {}).items():
        question = bank().get(code)
        option = question.option(value) if question else None
        if option:
            lines.append(f"{question.text['en']} {option.text['en']}.")
    if note:
        lines.append(note)
    return "\n".join(lines)


def _in(wording: dict, language: str) -> str:
    """A question's or option's wording in `language`, English when it has none."""
    return wording.get(language) or wording.get("en") or ""


def posterior(ranked: list[dict], answers: dict[str, str]) -> tuple[list[dict], list[str]]:
    """(ranked updated by the answers, best first; reasons). Specialties an answer names enter with a small prior."""
    base = {str(r["code"]): max(float(r.get("probability", 0)), 0.0) for r in ranked if r.get("code")}
    chosen = []
    for code, value in (answers or {}).items():
        question = bank().get(code)
        option = question.option(value) if question else None
        if option:
            chosen.append((question, option))
            for specialty in option.specialties:
                base.setdefault(specialty, NEW_PRIOR)
    if not chosen or not base:
        return ranked, []
    scores = dict(base)
    for question, option in chosen:
        for specialty in scores:
            scores[specialty] *= likelihood(question, specialty)[option.code]
    total = sum(scores.values()) or 1.0
    out = sorted(({"code": s, "probability": round(p / total, 4)} for s, p in scores.items()),
                 key=lambda r: (-r["probability"], r["code"]))

    from .reasons import answer_line

    language = reader_language()
    reasons = [answer_line(_in(q.text, language), _in(o.text, language), o.specialties) for q, o in chosen]
    return out, reasons


def view(clarification, language: str, *, clinician: bool = False) -> dict:
    """A stored clarification for reading: {"id", "status", "language", "questions": [{"code", "text", "options",
    "answer", "answer_text"}], "note", "answered_at", "answered_by_clinician"}; the wording in `language`, for a
    referring clinician when `clinician`."""
    if clarification is None:
        return {"id": None, "status": "none", "language": language, "questions": [], "note": "", "answered_at": None,
                "answered_by_clinician": False}
    questions = localized(clarification.questions, language, clinician=clinician)
    for question in questions:
        chosen = (clarification.answers or {}).get(question["code"], "")
        question["answer"] = chosen
        question["answer_text"] = next((o["text"] for o in question["options"] if o["code"] == chosen), "")
    return {"id": str(clarification.pk), "status": "answered" if clarification.answered_at else "open",
            "language": language, "questions": questions, "note": clarification.note,
            "answered_at": clarification.answered_at, "answered_by_clinician": _answered_by_clinician(clarification)}


def _answered_by_clinician(clarification) -> bool:
    """Whether the case's referring clinician gave the answers (their words, not the patient's)."""
    case = clarification.case
    answerer = clarification.answered_by_id
    if answerer is None or answerer != case.requester_id or answerer == case.patient.user_id:
        return False
    from konsil.accounts.roles import Role

    return case.requester.has_role(Role.REFERRING_CLINICIAN)
