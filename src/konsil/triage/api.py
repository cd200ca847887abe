"""REST API of clarifying questions: questions out (GET), answers in (POST), then triage runs again."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from konsil.cases.api import case_for

from . import clarify
from . import permissions as _permissions  # noqa: F401  (registers the rules)
from .person import case_language
from .services import answer_questions


class ClarifyingOptionSerializer(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()


class ClarifyingQuestionSerializer(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()
    options = ClarifyingOptionSerializer(many=True)
    answer = serializers.CharField(allow_blank=True)
    answer_text = serializers.CharField(allow_blank=True)


class ClarificationSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(choices=["none", "open", "answered"])
    language = serializers.CharField()
    questions = ClarifyingQuestionSerializer(many=True)
    note = serializers.CharField(allow_blank=True)
    answered_at = serializers.DateTimeField(allow_null=True)
    answered_by_clinician = serializers.BooleanField(help_text="The referring clinician gave the answers.")


class AnswersInputSerializer(serializers.Serializer):
    answers = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=64), required=False,
                                    default=dict, help_text="Question code -> option code.")
    note = serializers.CharField(allow_blank=True, required=False, default="", max_length=clarify.NOTE_MAX,
                                 help_text="A few words of the patient's own.")


CASE_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Case id")
LANG = OpenApiParameter("lang", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                        description="en, es or ja; the patient's language by default")


def language_for(request, case) -> str:
    wanted = request.query_params.get("lang") if hasattr(request, "query_params") else request.GET.get("lang")
    if wanted in clarify.LANGUAGES:
        return wanted
    language = case_language(case)
    return language if language in clarify.LANGUAGES else "en"


def _shown(request, case, clarification) -> dict:
    """The clarification as this reader is asked it: a referring clinician about their patient."""
    clinician = clarify.for_clinician(request.user, case)
    return ClarificationSerializer(clarify.view(clarification, language_for(request, case), clinician=clinician)).data


class TriageQuestionsView(APIView):
    """Clarifying questions for a case triage was unsure about, in the patient's language, and their answers."""

    @extend_schema(parameters=[CASE_ID, LANG], responses=ClarificationSerializer, operation_id="case_triage_questions")
    def get(self, request, pk):
        case = case_for(request, pk, action="triage.questions_read", rule="case.view_triage_questions")
        clarification = case.clarifications.order_by("-created_at").first()
        return Response(_shown(request, case, clarification))

    @extend_schema(parameters=[CASE_ID, LANG], request=AnswersInputSerializer, responses=ClarificationSerializer,
                   operation_id="case_triage_answers")
    def post(self, request, pk):
        case = case_for(request, pk, action="triage.answers_page", rule="case.answer_triage_questions", audit=False)
        data = AnswersInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with translation.override(language_for(request, case)):
            proposal = answer_questions(actor=request.user, case=case, answers=data.validated_data["answers"],
                                        note=data.validated_data["note"])
        return Response(_shown(request, case, proposal.clarification))


class IdentityDecisionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["confirm", "remove"],
                                     help_text="confirm: same person, keep the record; remove: another person's")


class IdentityResultSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["confirmed", "removed"])


class RecordIdentityView(APIView):
    """A coordinator settles a record flagged as possibly another person's (records.identity_check)."""

    @extend_schema(parameters=[OpenApiParameter("pk", OpenApiTypes.UUID, OpenApiParameter.PATH,
                                                description="Record (attachment) id")],
                   request=IdentityDecisionSerializer, responses=IdentityResultSerializer,
                   operation_id="record_identity_decision")
    def post(self, request, pk):
        from konsil.cases.models import Attachment
        from konsil.core.errors import NotFound
        from konsil.records import identity_check

        attachment = Attachment.objects.filter(pk=pk).select_related("case").first()
        if attachment is None:
            raise NotFound(_("No such record."))
        case_for(request, attachment.case_id, action="records.identity_decision", audit=False)
        data = IdentityDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["action"] == "confirm":
            identity_check.confirm(actor=request.user, attachment=attachment)
            return Response({"id": str(pk), "status": "confirmed"})
        identity_check.remove(actor=request.user, attachment=attachment)
        return Response({"id": str(pk), "status": "removed"})
