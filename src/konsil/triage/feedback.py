"""People teach triage: coordinators' confirmed decisions become labelled training rows."""

from __future__ import annotations

from konsil.audit.services import emit_many

from .labels import specialties_for
from .ml import case_inputs
from .model import load
from .models import TriageDecision


def class_for_specialty(code: str) -> str | None:
    """The model class that routes to catalog specialty `code` (the first such class), or None."""
    for label in load().classes:
        if code in specialties_for(label):
            return label
    return None


def confirmed_rows() -> list[dict]:
    """One row {"text", "label"} per case: its latest decision, mapped back onto the model's classes."""
    rows, read, seen = [], [], set()
    decisions = TriageDecision.objects.select_related("case__patient").order_by("-created_at")
    for decision in decisions:
        if decision.case_id in seen:
            continue
        seen.add(decision.case_id)
        label = class_for_specialty(decision.chosen_specialty_id)
        if label:
            rows.append({"text": case_inputs(decision.case)["text"], "label": label})
            read.append({"action": "triage.retrain_read", "object_type": "cases.case",
                         "object_id": str(decision.case_id), "patient_id": decision.case.patient_id})
    emit_many(actor="triage", purpose="operations", events=read)  # retraining reads each case's text and records
    return rows
