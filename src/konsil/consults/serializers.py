"""Consult API shapes. Contact details (the number to call, the interpreter's address) go only to the patient's
side, who gave them, and to the consult's own specialist, who uses them: minimum necessary."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from konsil.cases import relations as rel
from konsil.core.api import StrictSerializer

from .models import Consult, ConsultNote, Mode


class ConsultNoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsultNote
        fields = ["id", "created_at", "opinion_changed"]


class ConsultSerializer(serializers.ModelSerializer):
    """A consult. `patient_phone` and `interpreter_email` are empty for callers who may not see them; the notes'
    text stays on the consult page (only their dates and whether the opinion changes are listed)."""

    case = serializers.UUIDField(source="case_id", read_only=True)
    specialist = serializers.UUIDField(source="specialist_id", read_only=True)
    patient_phone = serializers.SerializerMethodField()
    interpreter_email = serializers.SerializerMethodField()
    notes = ConsultNoteSerializer(many=True, read_only=True)

    class Meta:
        model = Consult
        fields = ["id", "case", "specialist", "mode", "status", "starts_at", "ends_at", "patient_time_zone",
                  "video_engine", "call_window_minutes", "location", "invite_treating_physician",
                  "interpreter_language", "rescheduled_count", "cancelled_at", "no_show_party", "held_at",
                  "patient_phone", "interpreter_email", "notes", "created_at", "updated_at"]

    def _sees_contact(self, consult) -> bool:
        relations = self.context.get("relations", set())
        return bool(relations & rel.PATIENT_SIDE) or consult.specialist.user_id == self.context.get("user_id")

    @extend_schema_field(serializers.CharField())
    def get_patient_phone(self, consult) -> str:
        return consult.patient_phone if self._sees_contact(consult) else ""

    @extend_schema_field(serializers.CharField())
    def get_interpreter_email(self, consult) -> str:
        return consult.interpreter_email if self._sees_contact(consult) else ""


class BookInputSerializer(StrictSerializer):
    """What booking takes; the service checks the slot (free, not in the past), the mode and the contacts."""

    mode = serializers.ChoiceField(choices=Mode.choices)
    starts_at = serializers.CharField(max_length=64, help_text=_("A start from the slots list (ISO 8601 with offset)"))
    patient_time_zone = serializers.CharField(max_length=64, required=False, default="UTC")
    patient_phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    invite_treating_physician = serializers.BooleanField(required=False, default=False)
    interpreter_language = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")
    interpreter_email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")


class MoveInputSerializer(StrictSerializer):
    starts_at = serializers.CharField(max_length=64, help_text=_("A start from the slots list (ISO 8601 with offset)"))


class CancelInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class SlotQuerySerializer(StrictSerializer):
    patient_time_zone = serializers.CharField(max_length=64, required=False, default="UTC")


class SlotSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField(help_text=_("UTC; send it back to book"))
    ends_at = serializers.DateTimeField()
    local_start = serializers.CharField(help_text=_("The start in the requested time zone"))
