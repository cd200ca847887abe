"""The follow-up questionnaires as FHIR R4 Questionnaire resources (one for the patient, one for the treating
physician), rendered in the respondent's language, and the answers as a QuestionnaireResponse.

Questions (linkId → what it feeds in the outcome record): followed → recommendation_followed,
diagnosis_changed, plan_changed, procedure → procedure_status / procedure_avoided, status → patient_status,
nps → nps (patient only, 0-10), comment (free text, kept in the response only)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Followed, PatientStatus, ProcedureStatus, Respondent, YesNoUnknown

BASE_URL = "https://konsil.org/fhir/Questionnaire/"
VERSION = "1"
SYSTEM = "https://konsil.org/fhir/CodeSystem/follow-up-answer"
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Question:
    link_id: str
    text: dict  # respondent -> lazy text
    kind: str  # "choice" | "integer" | "text"
    options: tuple = ()
    required: bool = True
    respondents: tuple = (Respondent.PATIENT, Respondent.PHYSICIAN)
    low: int = 0
    high: int = 10


def _both(text):
    return {Respondent.PATIENT: text, Respondent.PHYSICIAN: text}


QUESTIONS = (
    Question("followed", {
        Respondent.PATIENT: gettext_lazy("Did you follow the specialist's recommendation?"),
        Respondent.PHYSICIAN: gettext_lazy("Was the second opinion's recommendation followed?")},
        "choice", tuple(Followed.choices)),
    Question("diagnosis_changed", _both(gettext_lazy("Did the diagnosis change after the second opinion?")),
             "choice", tuple(YesNoUnknown.choices)),
    Question("plan_changed", _both(gettext_lazy("Did the treatment plan change after the second opinion?")),
             "choice", tuple(YesNoUnknown.choices)),
    Question("procedure", _both(gettext_lazy("What happened with the treatment or procedure first proposed?")),
             "choice", tuple(ProcedureStatus.choices)),
    Question("status", {
        Respondent.PATIENT: gettext_lazy("How are you now, compared with before the second opinion?"),
        Respondent.PHYSICIAN: gettext_lazy("How is the patient now, compared with before the second opinion?")},
        "choice", tuple(PatientStatus.choices)),
    Question("nps", {Respondent.PATIENT: gettext_lazy(
        "How likely are you to recommend this second-opinion service to a friend? (0 = not at all, 10 = very)")},
        "integer", respondents=(Respondent.PATIENT,)),
    Question("comment", _both(gettext_lazy("Anything you would like to add?")), "text", required=False),
)


def questions_for(respondent: str) -> list[Question]:
    return [q for q in QUESTIONS if respondent in q.respondents]


def canonical(respondent: str) -> str:
    return f"{BASE_URL}follow-up-{respondent}|{VERSION}"


def questionnaire(respondent: str, language: str = "en") -> dict:
    """The FHIR Questionnaire resource, texts in `language`."""
    with translation.override(language):
        items = []
        for q in questions_for(respondent):
            item = {"linkId": q.link_id, "text": str(q.text[respondent]), "required": q.required,
                    "type": {"choice": "choice", "integer": "integer", "text": "text"}[q.kind]}
            if q.kind == "choice":
                item["answerOption"] = [{"valueCoding": {"system": SYSTEM, "code": code, "display": str(label)}}
                                        for code, label in q.options]
            if q.kind == "integer":
                item["extension"] = [
                    {"url": "http://hl7.org/fhir/StructureDefinition/minValue", "valueInteger": q.low},
                    {"url": "http://hl7.org/fhir/StructureDefinition/maxValue", "valueInteger": q.high}]
            if q.kind == "text":
                item["maxLength"] = MAX_COMMENT
            items.append(item)
        title = str(_("Follow-up after your second opinion") if respondent == Respondent.PATIENT
                    else _("Follow-up on your patient's second opinion"))
    url, _sep, version = canonical(respondent).partition("|")
    return {"resourceType": "Questionnaire", "url": url, "version": version, "status": "active",
            "name": f"KonsilFollowUp{respondent.title()}", "title": title, "language": language,
            "subjectType": ["Patient"], "item": items}


def clean(respondent: str, data) -> tuple[dict, dict]:
    """The answers from a form or JSON ({linkId: value}); returns (values, {linkId: [error]})."""
    values, errors = {}, {}
    for q in questions_for(respondent):
        raw = data.get(q.link_id, "") if hasattr(data, "get") else ""
        raw = raw if isinstance(raw, (str, int)) and not isinstance(raw, bool) else None
        if raw is None:
            errors[q.link_id] = [_("This answer is not valid.")]
            continue
        raw = str(raw).strip()
        if raw == "":
            if q.required:
                errors[q.link_id] = [_("Please answer this question.")]
            continue
        if q.kind == "choice":
            if raw not in {code for code, _label in q.options}:
                errors[q.link_id] = [_("Choose one of the answers.")]
            else:
                values[q.link_id] = raw
        elif q.kind == "integer":
            if not (raw.isascii() and raw.lstrip("-").isdigit() and len(raw) <= 3) or not q.low <= int(raw) <= q.high:
                errors[q.link_id] = [_("Choose a number from %(low)d to %(high)d.") % {"low": q.low, "high": q.high}]
            else:
                values[q.link_id] = int(raw)
        else:
            if len(raw) > MAX_COMMENT:
                errors[q.link_id] = [_("Keep it under %(n)d characters.") % {"n": MAX_COMMENT}]
            else:
                values[q.link_id] = raw
    return values, errors


def response(respondent: str, values: dict, *, case_reference: str, language: str) -> dict:
    """The FHIR QuestionnaireResponse of cleaned answers."""
    labels = {q.link_id: q for q in questions_for(respondent)}
    items = []
    with translation.override(language):
        for link_id, value in values.items():
            q = labels[link_id]
            if q.kind == "choice":
                display = str(dict(q.options)[value])
                answer = {"valueCoding": {"system": SYSTEM, "code": value, "display": display}}
            elif q.kind == "integer":
                answer = {"valueInteger": value}
            else:
                answer = {"valueString": value}
            items.append({"linkId": link_id, "text": str(q.text[respondent]), "answer": [answer]})
    return {"resourceType": "QuestionnaireResponse", "questionnaire": canonical(respondent), "status": "completed",
            "language": language, "authored": timezone.now().isoformat(),
            "identifier": {"system": "https://konsil.org/fhir/case-reference", "value": case_reference},
            "item": items}


def answers_of(resource: dict) -> dict:
    """{linkId: code | int | text} back from a stored QuestionnaireResponse."""
    found = {}
    for item in resource.get("item", []):
        for answer in item.get("answer", [])[:1]:
            if "valueCoding" in answer:
                found[item["linkId"]] = answer["valueCoding"]["code"]
            elif "valueInteger" in answer:
                found[item["linkId"]] = answer["valueInteger"]
            elif "valueString" in answer:
                found[item["linkId"]] = answer["valueString"]
    return found
