"""REST API of a case's outcome (read only): scoped through the case and the outcome rule, audited."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from konsil.cases.api import CASE_ID, case_for
from konsil.cases.models import Case

from .models import Outcome
from .serializers import OutcomeSerializer


class CaseOutcomeViewSet(viewsets.GenericViewSet):
    """What became of a case's second opinion."""

    queryset = Case.objects.none()  # for the schema only
    serializer_class = OutcomeSerializer

    @extend_schema(parameters=[CASE_ID], responses=OutcomeSerializer)
    @action(detail=True, methods=["get"])
    def outcome(self, request, pk=None):
        """The outcome record (all `unknown` until a follow-up is answered; never guessed) and the follow-ups'
        status. 403 for those who see the case but not its outcome."""
        case = case_for(request, pk, action="outcome.read", rule="outcome.view")
        outcome = Outcome.objects.filter(case=case).select_related("cost_proposed", "cost_alternative").first() \
            or Outcome(case=case)
        return Response(OutcomeSerializer(outcome).data)
