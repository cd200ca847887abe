"""The default triage engine: the trained specialty model, ICD-10-CM knowledge, red flags, completeness,
consistency, panels and an extractive summary, combined into one proposal with its reasons."""

from __future__ import annotations

from django.utils import timezone

from . import completeness, consistency, panels, redflags, summary
from .engine import Proposal
from .labels import ranked_specialties
from .model import load
from .rules import route

URGENCY_ORDER = {"routine": 0, "urgent": 1, "stat": 2}


def case_inputs(case) -> dict:
    """What triage reads from a case: text, codes, treatment, age, sex, and the sources for the summary."""
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

    parts = questions + [describe(c) for c in codes] + [case.proposed_treatment] + [s["text"] for s in sources]
    birth = case.patient.birth_date
    today = timezone.localdate()
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day)) if birth else None
    return {"text": "\n".join(p for p in parts if p), "icd10": codes, "treatment": case.proposed_treatment,
            "cpt": case.proposed_cpt, "age": age, "sex": case.patient.sex, "sources": sources}


def record_texts(case) -> list[tuple[str, str]]:
    """Text extracted from the case's records (PDF text, FHIR clinical summaries), each with its record."""
    from konsil.records.selectors import record_texts as texts

    return texts(case)


class ModelTriage:
    name = "konsil-triage"

    @property
    def version(self) -> str:
        return load().version

    def propose(self, case) -> Proposal:
        data = case_inputs(case)
        return self.propose_for(**data, case_urgency=case.urgency)

    def propose_for(self, *, text: str, icd10: list[str], treatment: str = "", cpt: str = "", age=None, sex=None,
                    sources=(), case_urgency: str = "routine") -> Proposal:
        model = load()
        labels = model.predict(text, icd10=icd10, age=age, sex=sex)
        ranked = ranked_specialties(labels)
        top = labels[0][1] if labels else 0.0
        abstain = top < model.threshold
        reasons = [f"model {model.version}: {lab} {p:.0%}" for lab, p in labels[:3]]
        for code in icd10:
            hit = route(code)
            if hit:
                reasons.append(f"{code} → {hit[0]} ({hit[1]})")
        specialty = ranked[0]["code"] if ranked else None
        urgency, flags = redflags.assess(text, icd10, age, sex)
        if URGENCY_ORDER.get(case_urgency, 0) > URGENCY_ORDER[urgency]:
            urgency = case_urgency
        codes = [r["code"] for r in ranked[:2]]
        panel = panels.for_case(codes, icd10, text)
        refined = panels.refine(specialty, icd10, text, sources) if specialty else None
        if refined:
            reasons.append(panels.describe(refined))
        if abstain:
            reasons.append(f"confidence {top:.0%} is below the threshold {model.threshold:.0%}: a coordinator decides")
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
            checklist=completeness.checklist([c for c in [refined and refined["subspecialty"], *codes] if c], text,
                                             icd10=icd10),
            inconsistencies=consistency.check(icd10, treatment, cpt, text),
            summary=summary.extract(list(sources)),
        )
