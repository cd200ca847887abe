"""API shapes of the structured opinion."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from konsil.core.api import StrictSerializer

from .models import Confidence, DiagnosisVerdict, TreatmentVerdict
from .services import verify_signature


def _text(**kwargs):
    return serializers.CharField(required=False, allow_blank=True, **kwargs)


def _choice(enum):
    return serializers.ChoiceField(choices=enum.choices, required=False, allow_blank=True)


class OpinionInputSerializer(StrictSerializer):
    """The fields of a draft; on save, only those given change (autosave)."""

    diagnosis_verdict = _choice(DiagnosisVerdict)
    revised_diagnosis = _text(help_text=_("ICD-10-CM code when the diagnosis is refined or changed"))
    diagnosis_comment = _text()
    treatment_verdict = _choice(TreatmentVerdict)
    treatment_recommendation = _text()
    answers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False,
                                    help_text=_("The answer to each of the patient's questions by its id"))
    further_tests = _text()
    narrative = _text()
    confidence = _choice(Confidence)


class OpinionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.IntegerField()
    state = serializers.SerializerMethodField()
    author = serializers.CharField(source="author.user.display_name")
    diagnosis_verdict = serializers.CharField()
    revised_diagnosis = serializers.CharField()
    diagnosis_comment = serializers.CharField()
    treatment_verdict = serializers.CharField()
    treatment_recommendation = serializers.CharField()
    answers = serializers.DictField(child=serializers.CharField())
    further_tests = serializers.CharField()
    narrative = serializers.CharField()
    confidence = serializers.CharField()
    signed_by = serializers.CharField(source="signed_by.display_name", default=None, allow_null=True)
    signed_at = serializers.DateTimeField(allow_null=True)
    content_hash = serializers.CharField()
    signature_valid = serializers.SerializerMethodField()
    amendment_reason = serializers.CharField()
    updated_at = serializers.DateTimeField()

    def get_state(self, opinion) -> str:
        return "signed" if opinion.is_signed else "draft"

    def get_signature_valid(self, opinion) -> bool | None:
        return verify_signature(opinion) if opinion.is_signed else None


class PanelAssembleSerializer(StrictSerializer):
    template = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                     help_text=_("A panel template code; blank: chosen from the case's diagnoses"))
    open_seats = serializers.BooleanField(required=False, default=False,
                                          help_text=_("Convene with the seats that can be filled; the others stay "
                                                      "open until filled or waived"))


class PanelMemberSerializer(serializers.Serializer):
    role = serializers.CharField(source="role_id")
    specialist = serializers.UUIDField(source="specialist_id")
    name = serializers.CharField(source="specialist.user.display_name")
    chair = serializers.BooleanField(source="is_chair")


class OpenSeatSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    role = serializers.CharField(source="role_id")
    reasons = serializers.ListField(child=serializers.CharField())
    waived = serializers.SerializerMethodField()

    def get_waived(self, seat) -> bool:
        return seat.waived_at is not None


class PanelSerializer(serializers.Serializer):
    """A 409 unfilled_roles (some seats can be filled) or no_seat_fillable names each empty seat in `errors`:
    {role code: [why nobody eligible sits there]}."""

    id = serializers.UUIDField()
    template = serializers.CharField()
    label = serializers.CharField()
    chair = serializers.UUIDField(source="chair_id")
    meeting_at = serializers.DateTimeField(allow_null=True)
    members = PanelMemberSerializer(many=True, source="members.all")
    open_seats = OpenSeatSerializer(many=True, source="open_seats.all")


class SeatFillSerializer(StrictSerializer):
    specialist = serializers.UUIDField(help_text=_("One of the seat's candidates (GET .../candidates/)"))


class SeatWaiveSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000, help_text=_("Why the panel goes on without this role; shown "
                                                                "to the panel and in the report"))


class SeatCandidateSerializer(serializers.Serializer):
    """An eligible specialist for an open seat, best first (matching's hard constraints for the role hold)."""

    specialist = serializers.UUIDField()
    name = serializers.CharField()
    role = serializers.CharField(help_text=_("The catalog specialty they would sit as"))
    score = serializers.FloatField()
