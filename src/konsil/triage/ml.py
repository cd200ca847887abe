"""The default triage engine: the trained specialty model, ICD-10-CM knowledge, red flags, completeness,
consistency, panels and an extractive summary, combined into one proposal with its reasons.

A patient's own words (the "lay" register, English, Spanish or Japanese) are calibrated apart from clinical
notes and one-liners. When the words only describe general symptoms (tired, dizzy, weak, numb) the outcome is
"needs a generalist first": internal medicine with that reason, never a forced guess at an organ specialty.
`assess_text` is the light entry point for clarifying questions; `propose(case, extra_text=...)` re-triages
with the patient's answers (also read from the case's stored answers, see `clarification_text`).
"""

from __future__ import annotations

import re

from django.utils import timezone

from . import completeness, consistency, joint, lay, panels, redflags, summary
from . import reasons as why
from .engine import Proposal
from .labels import ranked_specialties, specialties_for
from .model import load
from .person import case_person
from .rules import route

URGENCY_ORDER = {"routine": 0, "urgent": 1, "stat": 2}
GENERALIST = "internal_medicine"
# words that describe how a person feels rather than an organ (the "generalist first" rule; not model features)
VAGUE = re.compile(
    r"\b(?:dizzy|dizziness|light-?headed|weak|weakness|tired|exhausted|fatigued?|no energy|numb|numbness|"
    r"tingl\w*|achy|run down|feel(?:ing)? off|mare(?:o|ad[oa])s?|d[eé]bil|debilidad|cansad[oa]|cansancio|"
    r"sin fuerzas?|entumid[oa]|hormigueo|deca[ií]d[oa])\b"
    r"|めまい|ふらふら|ふらつ|だるい|だるく|疲れ|力が入ら|しびれ|立ちくらみ", re.IGNORECASE)
ANSWER_RELATIONS = ("clarification_answers", "clarificationanswer_set")
ANSWER_FIELDS = ("answer", "text")


def clarification_text(case) -> str:
    """The patient's stored answers to clarifying questions, one per line; "" when the case has none.

    Reads the case's answered `clarifications` (triage.Clarification: option answers and the patient's note,
    through clarify.as_text), or rows of a related manager named in ANSWER_RELATIONS with an `answer`/`text`."""
    lines = []
    clarifications = getattr(case, "clarifications", None)
    if clarifications is not None and hasattr(clarifications, "filter"):
        from .clarify import as_text

        for item in clarifications.filter(answered_at__isnull=False).order_by("created_at"):
            text = as_text(item.answers or {}, item.note or "")
            if text.strip():
                lines.append(text.strip())
    for name in ANSWER_RELATIONS:
        manager = getattr(case, name, None)
        if manager is None or not hasattr(manager, "all"):
            continue
        for row in manager.all():
            value = next((getattr(row, f) for f in ANSWER_FIELDS if isinstance(getattr(row, f, None), str)), "")
            if value.strip():
                lines.append(value.strip())
    return "\n".join(lines)


def generalist_first(ranked: list[dict]) -> list[dict]:
    """The ranking with internal medicine first (added with probability 0 when the model ranked it nowhere)."""
    from .labels import specialty_name

    first = next((r for r in ranked if r["code"] == GENERALIST), None) or {
        "code": GENERALIST, "name": specialty_name(GENERALIST), "probability": 0.0}
    return [first] + [r for r in ranked if r["code"] != GENERALIST]


def assess_text(text: str, icd10=(), age=None, sex=None, model=None, *, relatives: bool = True) -> dict:
    """What a clarifying question needs, without a case: {"register", "language", "labels" [(class, p)] (the
    model's), "order" [classes] (the engine's, after the rules below), "ranked"/"candidates" [{"code", "name",
    "probability"}] (all / top 3), "confidence" (in order[0], see outcome_confidence), "top", "threshold",
    "abstain", "abstain_reason", "specialty", "concepts", "body_systems"}. `model`: the committed one unless
    given (benchmarks). `relatives` false: a relative's mention counts as the patient's (lay.about_the_patient).

    Rules over the model: vague words beside a named organ or diagnosis of the model's top three put that one
    first (unsure); vague words alone (the model's first class is internal medicine, or a lay text abstains
    with vague lay concepts and no specific one) are "needs a generalist first" (internal medicine first,
    unsure)."""
    model = model or load()
    icd10 = list(icd10 or ())
    register = model.register(text)
    labels = model.predict(text, icd10=icd10, age=age, sex=sex, register=register)
    ranked = ranked_specialties(labels, text, icd10)
    top = labels[0][1] if labels else 0.0
    threshold = model.threshold_for(register)
    abstain = top < threshold
    hits = lay.about_the_patient(text, lay.lookup(text), relatives=relatives)  # the model reads every mention
    specific = [h for h in hits if h["label"] != GENERALIST]
    named_problem = [h for h in specific if h["kind"] != "site"]  # "my head", "my blood" alone name no problem
    order = [label for label, _p in labels]
    reason = "low_confidence" if abstain else ""
    named = next((h["label"] for h in specific if h["label"] in order[:3]), None)
    if not (text or "").strip() and not icd10:
        reason, abstain = "no_text", True
        ranked = []
    elif order and order[0] == GENERALIST and named:
        # vague words beside a named organ or diagnosis ("tired ... my thyroid"): the named one leads, unsure
        order = [named] + [c for c in order if c != named]
        codes = specialties_for(named)
        ranked = [r for r in ranked if r["code"] in codes] + [r for r in ranked if r["code"] not in codes]
        reason, abstain = "low_confidence", True
    elif (order and order[0] == GENERALIST) or (register == "lay" and abstain and not icd10 and not named_problem
                                                  and (any(h["label"] == GENERALIST for h in hits)
                                                       or VAGUE.search(text or ""))):
        # a coordinator (and the clarifying questions) see it first: never auto-routed on vague words alone
        reason, abstain = "generalist_first", True
        order = [GENERALIST] + [c for c in order if c != GENERALIST]
        ranked = generalist_first(ranked)
    return {"register": register, "language": lay.language(text), "labels": labels, "order": order,
            "confidence": outcome_confidence(model, register, labels, order, reason),
            "candidates": ranked[:3], "ranked": ranked, "top": top, "threshold": threshold, "abstain": abstain,
            "abstain_reason": reason, "specialty": ranked[0]["code"] if ranked else None, "concepts": hits,
            "body_systems": lay.body_systems(text)}


def outcome_confidence(model, register: str, labels, order: list[str], reason: str) -> float:
    """How likely the engine's first choice is right: the model's calibrated probability of it, or for "needs a
    generalist first" (a rule, not a probability) the rule's precision on the register's calibration texts."""
    if not order:
        return 0.0
    if reason == "generalist_first":
        fitted = (model.registers.get(register) or {}).get("generalist_first_confidence")
        if fitted is not None:
            return float(fitted)
    return dict(labels).get(order[0], 0.0)


def case_inputs(case) -> dict:
    """What triage reads from a case: text (questions, diagnosis in words, codes' titles, treatment, history,
    answers, records), codes, treatment, age, sex, and the sources for the summary."""
    codes = list(case.diagnoses.values_list("code", flat=True))
    questions = list(case.questions.values_list("text", flat=True))
    sources = []
    if case.clinical_summary:
        sources.append({"ref": f"case:{case.pk}#history", "kind": "history", "text": case.clinical_summary})
    for message in case.messages.filter(kind="info_response"):
        sources.append({"ref": f"message:{message.pk}", "kind": "message", "text": message.body})
    for text, ref in record_texts(case):
        sources.append({"ref": ref, "kind": "record", "text": text})
    from konsil.core.icd10 import describe

    # the diagnosis in the patient's words (intake step 3) beside the codes: often the only place it is named
    parts = (questions + [case.diagnosis_text] + [describe(c) for c in codes] + [case.proposed_treatment]
             + [s["text"] for s in sources])
    person = case_person(case)
    birth = person.birth_date
    today = timezone.localdate()
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day)) if birth else None
    from konsil.cases.coding import by_proxy

    return {"text": "\n".join(p for p in parts if p), "icd10": codes, "treatment": case.proposed_treatment,
            "cpt": case.proposed_cpt, "age": age, "sex": person.sex, "sources": sources, "proxy": by_proxy(case)}


def record_texts(case) -> list[tuple[str, str]]:
    """Text extracted from the case's records (PDF text, FHIR clinical summaries), each with its record."""
    from konsil.records.selectors import record_texts as texts

    return texts(case)


def _without(text: str, parts: list[str]) -> str:
    """`text` with each of `parts` (the records' text it was joined from) taken out."""
    for part in parts:
        if part:
            text = text.replace(part, "")
    return text


SECOND_FOR_CHECKLIST = 0.2  # a runner-up below this share adds nothing to the records checklist


def _checklist_codes(ranked: list[dict], abstain: bool) -> list[str]:
    """The specialties whose records checklists a case without a subspecialty gets (a refined case gets its
    subspecialty's): the first, and the second when the engine is unsure between them (abstaining, or the second
    at SECOND_FOR_CHECKLIST or more); never an 8% runner-up's eye examination on a breast lump."""
    first, second = ranked[:1], ranked[1:2]
    close = [r for r in second if abstain or float(r.get("probability") or 0) >= SECOND_FOR_CHECKLIST]
    return [r["code"] for r in first + close]


class ModelTriage:
    name = "konsil-triage"

    @property
    def version(self) -> str:
        return load().version

    def warm(self) -> None:
        """One proposal on fixed words (no case, no database): loads the model and every lazy table it reads."""
        self.propose_for(text="Chest pain when walking uphill; a narrowed coronary artery on the angiogram.",
                         icd10=["I25.10"], treatment="Coronary stent", age=60, sex="female")

    def propose(self, case, extra_text: str | None = None) -> Proposal:
        """`extra_text`: the patient's answers to clarifying questions; None reads the answers stored with
        the case (clarification_text)."""
        data = case_inputs(case)
        extra = clarification_text(case) if extra_text is None else extra_text
        if extra and extra.strip():
            data["text"] = "\n".join(p for p in (data["text"], extra.strip()) if p)
        return self.propose_for(**data, case_urgency=case.urgency)

    def propose_for(self, *, text: str, icd10: list[str], treatment: str = "", cpt: str = "", age=None, sex=None,
                    sources=(), case_urgency: str = "routine", proxy: bool = False) -> Proposal:
        """`proxy`: a caregiver wrote the case (cases.coding.by_proxy)."""
        found = assess_text(text, icd10, age, sex, relatives=not proxy)
        labels, abstain, top, ranked = found["labels"], found["abstain"], found["top"], found["ranked"]
        threshold = found["threshold"]
        reasons = [why.model_line(labels, found["register"], found["language"])]
        reasons += [why.concept_line(hit) for hit in found["concepts"][:5] if hit["kind"] != "site"]
        for code in icd10:
            hit = route(code)
            if hit:
                reasons.append(why.code_line(code, hit[0]))
        specialty = found["specialty"]
        own_text = _without(text, [s["text"] for s in sources if s.get("kind") == "record"])
        chosen_within = (joint.explain(labels[0][0], specialty, text, icd10, own_text=own_text)
                         if labels and specialty else None)
        if chosen_within:
            reasons.append(why.joint_line(chosen_within))
        if found["abstain_reason"] == "generalist_first":
            reasons.append(why.generalist_line())
        urgency, flags = redflags.assess(text, icd10, age, sex)
        if URGENCY_ORDER.get(case_urgency, 0) > URGENCY_ORDER[urgency]:
            urgency = case_urgency
        codes = [r["code"] for r in ranked[:2]]
        panel = panels.for_case(codes, icd10, text)
        refined = panels.refine(specialty, icd10, text, sources) if specialty else None
        if refined:
            reasons.append(panels.describe(refined))
        if abstain and found["abstain_reason"] != "generalist_first":
            reasons.append(why.below_threshold(top, threshold, found["register"]))
        return Proposal(
            specialty=specialty,
            ranked=[{"code": r["code"], "probability": r["probability"]} for r in ranked],
            urgency=urgency,
            red_flags=flags,
            reasons=reasons,
            abstain=abstain,
            labels=[{"label": lab, "probability": round(p, 4)} for lab, p in labels],
            subspecialty=refined["subspecialty"] if refined else None,
            specialty_evidence=refined or {},
            multidisciplinary=panel["multidisciplinary"],
            panel_roles=panel["roles"],
            checklist=completeness.checklist(
                [refined["subspecialty"]] if refined else _checklist_codes(ranked, abstain), text, icd10=icd10),
            inconsistencies=consistency.check(icd10, treatment, cpt, text),
            summary=summary.extract(list(sources)),
            register=found["register"],
            language=found["language"],
            abstain_reason=found["abstain_reason"],
            candidates=found["candidates"],
            concepts=found["concepts"],
            body_systems=found["body_systems"],
        )
