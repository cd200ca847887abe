"""REST API of clarifying questions: questions out (GET), answers in (POST), then triage runs again."""

from __future__ import annotations

from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from konsil.cases.api import case_for

from . import clarify
from . import permissions as _permissions  # noqa: F401  (registers the rules)
from .services import answer_questions


class OptionSerializer(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()


class QuestionSerializer(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()
    options = OptionSerializer(many=True)
    answer = serializers.CharField(allow_blank=True)
    answer_text = serializers.CharField(allow_blank=True)


class ClarificationSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(choices=["none", "open", "answered"])
    language = serializers.CharField()
    questions = QuestionSerializer(many=True)
    note = serializers.CharField(allow_blank=True)
    answered_at = serializers.DateTimeField(allow_null=True)


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
    return case.patient.language if case.patient.language in clarify.LANGUAGES else "en"


class TriageQuestionsView(APIView):
    """Clarifying questions for a case triage was unsure about, in the patient's language, and their answers."""

    @extend_schema(parameters=[CASE_ID, LANG], responses=ClarificationSerializer, operation_id="case_triage_questions")
    def get(self, request, pk):
        case = case_for(request, pk, action="triage.questions_read", rule="case.view_triage_questions")
        clarification = case.clarifications.order_by("-created_at").first()
        return Response(ClarificationSerializer(clarify.view(clarification, language_for(request, case))).data)

    @extend_schema(parameters=[CASE_ID, LANG], request=AnswersInputSerializer, responses=ClarificationSerializer,
                   operation_id="case_triage_answers")
    def post(self, request, pk):
        case = case_for(request, pk, action="triage.answers_page", rule="case.answer_triage_questions", audit=False)
        data = AnswersInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with translation.override(language_for(request, case)):
            proposal = answer_questions(actor=request.user, case=case, answers=data.validated_data["answers"],
                                        note=data.validated_data["note"])
        clarification = proposal.clarification
        return Response(ClarificationSerializer(clarify.view(clarification, language_for(request, case))).data)
