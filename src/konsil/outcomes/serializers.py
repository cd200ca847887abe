"""Outcome API shapes: the outcome record and the follow-ups' status and dates (never the respondents' addresses,
links or free-text answers)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import CostEntry, FollowUp, Outcome, YesNoUnknown


def _yes_no_unknown(name: str):
    """A read-only yes/no/unknown field with its own enum id: two fields with one choice set otherwise make
    drf-spectacular warn (a shared enum name would need a settings override)."""
    field_class = type(f"YesNoUnknown_{name}", (serializers.CharField,), {})
    schema = {"type": "string", "enum": YesNoUnknown.values, "x-spec-enum-id": name}
    return extend_schema_field(schema)(field_class)(read_only=True)


class FollowUpStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = FollowUp
        fields = ["id", "respondent", "day", "status", "due_at", "sent_at", "answered_at", "closed_at"]


class CostSourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostEntry
        fields = ["code", "description", "amount", "currency", "source", "source_url", "year"]


class OutcomeSerializer(serializers.ModelSerializer):
    case = serializers.UUIDField(source="case_id", read_only=True)
    cost_proposed = CostSourceSerializer(read_only=True, allow_null=True)
    cost_alternative = CostSourceSerializer(read_only=True, allow_null=True)
    diagnosis_changed = _yes_no_unknown("diagnosis_changed")
    plan_changed = _yes_no_unknown("plan_changed")
    follow_ups = FollowUpStatusSerializer(source="case.follow_ups", many=True, read_only=True)

    class Meta:
        model = Outcome
        fields = ["case", "recommendation_followed", "diagnosis_changed", "plan_changed", "procedure_status",
                  "procedure_avoided", "patient_status", "nps", "alternative_code", "cost_proposed",
                  "cost_alternative", "cost_difference", "cost_currency", "answers", "non_responses",
                  "last_answer_at", "follow_ups"]
