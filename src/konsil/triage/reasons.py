"""A triage proposal's reasons in words, as coordinators and specialists read them (queue, case page, API).

Specialty names from the catalog (translated like any clinical vocabulary), the patient's own words that were
understood, code titles: never the model's class codes (cardiology_pulmonology) or question codes. Worded in the
language active when triage runs: services.propose runs it in the deployment's language (LANGUAGE_CODE).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from .labels import specialties_for, specialty_name


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


def model_line(labels, register: str, language: str) -> str:
    """"Most likely, from the patient's own words (Spanish): Endocrinology 81%, Nephrology 6%, ..."."""
    top = ", ".join(f"{class_names(label)} {p:.0%}" for label, p in labels[:3])
    return _("Most likely, from %(source)s (%(language)s): %(ranking)s") % {
        "source": _register(register), "language": _language(language), "ranking": top}


def concept_line(hit: dict) -> str:
    """"“sugar” understood as diabetes mellitus (E08-E13): Endocrinology"."""
    return _("“%(words)s” understood as %(clinical)s (%(codes)s): %(specialty)s") % {
        "words": hit["term"], "clinical": hit["clinical"], "codes": hit["icd10"],
        "specialty": specialty(hit["specialty"])}


def code_line(code: str, route_to: str) -> str:
    """"C50.911 Malignant neoplasm of ... right female breast: Hematology and Oncology"."""
    from konsil.core.icd10 import describe

    title = describe(code)
    return _("Diagnosis %(code)s %(title)s: %(specialty)s") % {
        "code": code, "title": title if title and title != code else "", "specialty": specialty(route_to)}


def generalist_line() -> str:
    return _("Needs a generalist first: the words describe general symptoms without an organ or a diagnosis, so "
             "internal medicine assesses before any organ specialist.")


def below_threshold(top: float, threshold: float, register: str) -> str:
    return _("Confidence %(top)s is below the %(threshold)s needed for %(source)s: a coordinator decides.") % {
        "top": f"{top:.0%}", "threshold": f"{threshold:.0%}", "source": _register(register)}


def refined_line(found: dict) -> str:
    """The most specific specialty the evidence supports, with that evidence."""
    parts = []
    for item in found.get("evidence", ()):
        if item.get("kind") == "code":
            parts.append(_("diagnosis %(code)s") % {"code": item["value"]})
        else:
            parts.append(f"“{item['value']}”")
    return _("%(specialty)s rather than %(parent)s, because of %(evidence)s (%(source)s)") % {
        "specialty": specialty(found["subspecialty"]), "parent": specialty(found["applies_to"]),
        "evidence": "; ".join(parts), "source": found.get("source", "")}


def answer_line(question_text: str, option_text: str, specialty_codes) -> str:
    """"Answer to “Which part of the body?”: “Skin” (Dermatology)"."""
    names = ", ".join(specialty(c) for c in list(specialty_codes)[:3])
    line = _("Answer to “%(question)s”: “%(answer)s”") % {"question": question_text, "answer": option_text}
    return f"{line} ({names})" if names else line
