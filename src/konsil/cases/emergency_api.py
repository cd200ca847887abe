"""API of break-glass emergency access: POST /api/v1/cases/{id}/break-glass/ with a reason."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from konsil.core.api import StrictSerializer

from . import emergency
from .api import CASE_ID
from .models import Case


class BreakGlassInputSerializer(StrictSerializer):
    reason = serializers.CharField(
        min_length=emergency.REASON_MIN, max_length=emergency.REASON_MAX,
        help_text=_("Why this case must be opened now (shown to the network's coordinators and auditors)."))


class EmergencyGrantSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    case = serializers.UUIDField(source="case_id")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class CaseEmergencyViewSet(viewsets.GenericViewSet):
    """Break-glass: a clinician of the case's network reads a case they are not on, for a limited time."""

    queryset = Case.objects.none()  # for the schema only
    serializer_class = EmergencyGrantSerializer

    @extend_schema(parameters=[CASE_ID], request=BreakGlassInputSerializer, responses={
        201: EmergencyGrantSerializer,
        400: OpenApiResponse(description="The reason is missing, too short or too long (field-level errors)."),
        404: OpenApiResponse(description="No such case, or not a clinician of the case's network (audited as "
                                         "denied; the two answers are the same)."),
    })
    @action(detail=True, methods=["post"], url_path="break-glass")
    def break_glass(self, request, pk=None):
        """Open the case in an emergency: read access for an hour, audited, the coordinators and auditors alerted."""
        case = emergency.find_case(request.user, pk)
        data = BreakGlassInputSerializer(data=request.data)
        if not data.is_valid():
            emergency.check_allowed(request.user, case)  # an outsider learns nothing from the field errors
            data.is_valid(raise_exception=True)
        grant = emergency.break_glass(actor=request.user, case=case, reason=data.validated_data["reason"])
        return Response(EmergencyGrantSerializer(grant).data, status=status.HTTP_201_CREATED)
