"""Triage proposals (what the engine proposed, with its version and reasons) and the human decisions."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from konsil.core.fields import EncryptedJSONField, EncryptedTextField
from konsil.core.models import BaseModel


class TriageProposal(BaseModel):
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="triage_proposals")
    engine = models.CharField(max_length=64)
    model_version = models.CharField(max_length=64)
    specialty = models.ForeignKey("matching.Specialty", null=True, on_delete=models.SET_NULL, related_name="+")
    ranked = models.JSONField(default=list)  # [{"code", "probability"}]
    urgency = models.CharField(max_length=10)
    red_flags = EncryptedJSONField(default=list)  # with snippets of the patient's words: encrypted
    reasons = EncryptedJSONField(default=list)
    # the same reasons as [{"key", "params"}] (triage.reasons), worded again in each reader's language
    reasons_data = EncryptedJSONField(default=list, blank=True)
    abstain = models.BooleanField(default=False)
    labels = models.JSONField(default=list)  # the model's own classes with probabilities
    subspecialty = models.ForeignKey(
        "matching.Specialty", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    multidisciplinary = models.BooleanField(default=False)
    panel_roles = models.JSONField(default=list)
    checklist = EncryptedJSONField(default=list)
    inconsistencies = EncryptedJSONField(default=list)
    summary = EncryptedJSONField(default=dict)  # the case in a few lines: PHI, encrypted at rest
    # the evidence for a subspecialty: {"subspecialty", "applies_to", "evidence": [{"kind", "value", "ref"}], "source"}
    specialty_evidence = EncryptedJSONField(default=dict, blank=True)
    # the engine's own choice when a subspecialty refined it, or the clarifying answers moved it
    engine_specialty = models.CharField(max_length=64, blank=True)
    clarification = models.ForeignKey("Clarification", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="proposals")

    @property
    def missing_items(self) -> list[dict]:
        return [item for item in self.checklist if not item.get("present")]

    class Meta:
        ordering = ["-created_at"]


class TriageDecision(BaseModel):
    """A coordinator's confirmation or override of a proposal: feedback for the model."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="triage_decisions")
    proposal = models.ForeignKey(TriageProposal, null=True, on_delete=models.SET_NULL, related_name="decisions")
    chosen_specialty = models.ForeignKey("matching.Specialty", on_delete=models.PROTECT, related_name="+")
    chosen_urgency = models.CharField(max_length=10)
    agreed = models.BooleanField()
    reason = EncryptedTextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")


class Clarification(BaseModel):
    """Clarifying questions asked when triage was unsure, and the answers given (issue #17).

    `questions`: [{"code", "options": [option codes], "gain"}] chosen by expected information over the proposal's
    candidates; `answers`: {question code: option code}, plus "note" for words of the patient's own.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="clarifications")
    proposal = models.ForeignKey(TriageProposal, null=True, on_delete=models.SET_NULL, related_name="+")
    language = models.CharField(max_length=8, default="en")
    questions = models.JSONField(default=list)
    answers = EncryptedJSONField(default=dict, blank=True)
    note = EncryptedTextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["-created_at"]
