"""A triage proposal's reasons in words, as coordinators, specialists and the patient's side read them.

Specialty names from the catalog (translated like any clinical vocabulary), the patient's own words that were
understood, code titles: never the model's class codes (cardiology_pulmonology) or question codes.

Each line is a `Reason`: a string in the language active when it was made, which also carries a message key and
language-neutral parameters (specialty and concept codes, ICD-10-CM codes, the matched words, probabilities,
question and option codes). triage.services stores both: `reasons` (text in the deployment's language, for
whatever reads it as text) and `reasons_data` ([{"key", "params"}]). `render()` words the stored data again in the
reader's language, so a Spanish-speaking patient and an English coordinator read the same reason each in their own
language; rows stored before `reasons_data` existed (or a plain string) are shown as stored, translated when the
stored text is itself a message of the catalog.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from konsil.core.context import reader_language

from .labels import specialties_for, specialty_name


class Reason(str):
    """A reason's text in the active language, with the key and parameters that word it in any language."""

    key: str
    params: dict

    def __new__(cls, key: str, params: dict):
        obj = super().__new__(cls, _WORDERS[key](params))
        obj.key, obj.params = key, params
        return obj

    def data(self) -> dict:
        return {"key": self.key, "params": self.params}


# --- wording (each takes the stored parameters; the active language decides the words) ------------------------

def _register(code: str) -> str:
    names = {"notes": _("clinical notes"), "one_liner": _("a one-line clinical description"),
             "lay": _("the patient's own words")}
    return names.get(code, code)


def _language(code: str) -> str:
    return {"en": _("English"), "es": _("Spanish"), "ja": _("Japanese")}.get(code, code)


def specialty(code: str) -> str:
    """A catalog specialty's name in the reader's language."""
    return _(specialty_name(code)) if code else ""


def class_names(label: str) -> str:
    """A model class in words: the catalog specialties it routes to ("Cardiology or Pulmonology")."""
    codes = specialties_for(label) or [label]
    return _(" or ").join(specialty(c) for c in codes)


def _word_model(p: dict) -> str:
    top = ", ".join(f"{class_names(label)} {float(prob):.0%}" for label, prob in p["labels"][:3])
    return _("Most likely, from %(source)s (%(language)s): %(ranking)s") % {
        "source": _register(p["register"]), "language": _language(p["language"]), "ranking": top}


def _word_concept(p: dict) -> str:
    clinical = _(p["clinical"]) if p.get("clinical") else ""
    if reader_language() != "en" and clinical == p.get("clinical"):
        # the clinical words are English keywords of the lexicon: a reader in another language gets the codes
        return _("“%(words)s” (%(codes)s): %(specialty)s") % {
            "words": p["words"], "codes": p["codes"], "specialty": specialty(p["specialty"])}
    return _("“%(words)s” understood as %(clinical)s (%(codes)s): %(specialty)s") % {
        "words": p["words"], "clinical": clinical, "codes": p["codes"], "specialty": specialty(p["specialty"])}


def _patient_concept(p: dict) -> str:
    """The patient's side: their words and the specialty they point to, without the lexicon's clinical keywords
    or the codes (the care team reads those in the whole proposal)."""
    return _("“%(words)s”: %(specialty)s") % {"words": p["words"], "specialty": specialty(p["specialty"])}


def _word_code(p: dict) -> str:
    from konsil.core.icd10 import describe

    title = describe(p["code"])
    return _("Diagnosis %(code)s %(title)s: %(specialty)s") % {
        "code": p["code"], "title": title if title and title != p["code"] else "",
        "specialty": specialty(p["specialty"])}


def _word_generalist(_p: dict) -> str:
    return _("Needs a generalist first: the words describe general symptoms without an organ or a diagnosis, so "
             "internal medicine assesses before any organ specialist.")


def _word_below(p: dict) -> str:
    return _("Confidence %(top)s is below the %(threshold)s needed for %(source)s: a coordinator decides.") % {
        "top": f"{float(p['top']):.0%}", "threshold": f"{float(p['threshold']):.0%}",
        "source": _register(p["register"])}


def _evidence_part(item: dict) -> str:
    if item.get("kind") == "code":
        return _("diagnosis %(code)s") % {"code": item["value"]}
    if item.get("own") is False:  # read only in the uploaded records, not in the patient's words
        return _("“%(words)s” in the records") % {"words": item["value"]}
    return f"“{item['value']}”"


def _rather_than(chosen: str, others, items, source: str) -> str:
    parts = [_evidence_part(item) for item in items]
    return _("%(specialty)s rather than %(parent)s, because of %(evidence)s (%(source)s)") % {
        "specialty": specialty(chosen), "parent": _(" or ").join(specialty(c) for c in others),
        "evidence": "; ".join(parts), "source": source}


def _word_refined(p: dict) -> str:
    return _rather_than(p["subspecialty"], [p["applies_to"]], p.get("evidence", ()), p.get("source", ""))


def _word_joint(p: dict) -> str:
    """One specialty of a model class that routes to several (triage.joint), chosen by the case's words and codes."""
    return _rather_than(p["specialty"], p["others"], p.get("evidence", ()), p.get("source", ""))


def _word_answer(p: dict) -> str:
    question_text, option_text = p.get("question_text", ""), p.get("option_text", "")
    if p.get("question"):
        from . import clarify

        question = clarify.bank().get(p["question"])
        option = question.option(p.get("option", "")) if question else None
        if option is not None:
            language = reader_language() if reader_language() in clarify.LANGUAGES else "en"
            question_text, option_text = clarify._in(question.text, language), clarify._in(option.text, language)
    names = ", ".join(specialty(c) for c in list(p.get("specialties", ()))[:3])
    line = _("Answer to “%(question)s”: “%(answer)s”") % {"question": question_text, "answer": option_text}
    return f"{line} ({names})" if names else line


_WORDERS = {"model": _word_model, "concept": _word_concept, "code": _word_code, "generalist": _word_generalist,
            "below_threshold": _word_below, "refined": _word_refined, "joint": _word_joint, "answer": _word_answer}
def _patient_joint(p: dict) -> str:
    """The patient's side: the words that chose between the two specialties of one class, without the codes or
    the source (nothing when only codes chose: the "code" lines show those). Words read only in the records are
    not the patient's: left out (a proposal stored before `own` was kept shows them all)."""
    words = [item["value"] for item in p.get("evidence", ()) if item.get("kind") != "code" and item.get("own", True)]
    return _patient_concept({"words": ", ".join(words), "specialty": p["specialty"]}) if words else ""


# what the patient's side reads: the words understood, the diagnoses given, the answers; not probabilities
PATIENT_KEYS = frozenset({"concept", "joint", "code", "answer", "generalist"})
_PATIENT_WORDERS = {**_WORDERS, "concept": _patient_concept, "joint": _patient_joint}


# --- the lines the engines write --------------------------------------------------------------------------------

def model_line(labels, register: str, language: str) -> Reason:
    """"Most likely, from the patient's own words (Spanish): Endocrinology 81%, Nephrology 6%, ..."."""
    return Reason("model", {"labels": [[str(label), round(float(p), 4)] for label, p in labels[:3]],
                            "register": register, "language": language})


def concept_line(hit: dict) -> Reason:
    """"“sugar” understood as diabetes mellitus (E08-E13): Endocrinology"."""
    return Reason("concept", {"words": hit["term"], "concept": hit.get("concept", ""), "clinical": hit["clinical"],
                              "codes": hit["icd10"], "specialty": hit["specialty"]})


def code_line(code: str, route_to: str) -> Reason:
    """"C50.911 Malignant neoplasm of ... right female breast: Hematology and Oncology"."""
    return Reason("code", {"code": code, "specialty": route_to})


def generalist_line() -> Reason:
    return Reason("generalist", {})


def below_threshold(top: float, threshold: float, register: str) -> Reason:
    return Reason("below_threshold", {"top": round(float(top), 4), "threshold": round(float(threshold), 4),
                                      "register": register})


def refined_line(found: dict) -> Reason:
    """The most specific specialty the evidence supports, with that evidence (never the record it came from)."""
    return Reason("refined", {"subspecialty": found["subspecialty"], "applies_to": found["applies_to"],
                              "evidence": [{"kind": i.get("kind", ""), "value": i.get("value", "")}
                                           for i in found.get("evidence", ())],
                              "source": found.get("source", "")})


def joint_line(found: dict) -> Reason:
    """"Pulmonary Disease rather than Cardiology, because of “right upper lobe”; ...": triage.joint.explain()."""
    return Reason("joint", {"specialty": found["specialty"], "others": list(found["others"]),
                            "evidence": [{k: i[k] for k in ("kind", "value", "own") if k in i}
                                         for i in found["evidence"]],
                            "source": found.get("source", "")})


def answer_line(question_text: str, option_text: str, specialty_codes) -> Reason:
    """"Answer to “Which part of the body?”: “Skin” (Dermatology)": the question and option are kept by code
    (found from their wording in any language) so that the line reads in each reader's language."""
    params = {"question_text": question_text, "option_text": option_text,
              "specialties": [str(c) for c in specialty_codes]}
    params.update(_answer_codes(question_text, option_text))
    return Reason("answer", params)


def _answer_codes(question_text: str, option_text: str) -> dict:
    from . import clarify

    for question in clarify.bank().values():
        if question_text in question.text.values():
            for option in question.options:
                if option_text in option.text.values():
                    return {"question": question.code, "option": option.code}
    return {}


# --- storing and reading again ------------------------------------------------------------------------------------

def to_data(line) -> dict:
    """What is stored for one reason: {"key", "params"}, or {"text"} for a line that is a plain string."""
    return line.data() if isinstance(line, Reason) else {"text": str(line)}


def render_one(item, *, for_patient: bool = False) -> str:
    """One stored reason in the active language (`for_patient`: in the patient's side's words). Tolerant: a plain
    string (an old row), an unknown key or parameters that no longer fit fall back to the stored text (translated
    when it is a catalog message)."""
    if isinstance(item, str):
        return _(item) if item else item
    if not isinstance(item, dict):
        return str(item)
    worder = (_PATIENT_WORDERS if for_patient else _WORDERS).get(item.get("key", ""))
    if worder is not None:
        try:
            return worder(item.get("params") or {})
        except (KeyError, TypeError, ValueError, IndexError):
            pass
    text = str(item.get("text", ""))
    return _(text) if text else text


def stored(proposal) -> list:
    """The proposal's stored reasons: structured when the row has them, else the texts of an older row."""
    data = list(getattr(proposal, "reasons_data", None) or [])
    return data if data else list(proposal.reasons or [])


def render(proposal, *, keys=None, for_patient: bool = False) -> list[str]:
    """The proposal's reasons in the active language (the reader's); `keys` keeps only those kinds of line (a
    line stored as plain text has no kind and is left out when `keys` is given); `for_patient` words them for
    the patient's side."""
    out = []
    for item in stored(proposal):
        if keys is not None and not (isinstance(item, dict) and item.get("key") in keys):
            continue
        line = render_one(item, for_patient=for_patient)
        if line:
            out.append(line)
    return out
