"""REST API of the specialty catalog, the specialist directory and a case's ranked candidates."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from konsil.accounts.roles import Role
from konsil.cases.api import CASE_ID, case_for
from konsil.cases.choices import LANGUAGE_CHOICES, US_STATES
from konsil.cases.models import Case
from konsil.core import authz
from konsil.core.errors import ValidationFailed

from . import ranking, routing, selectors
from .models import Specialist, Specialty
from .serializers import (
    CandidateSerializer,
    DirectoryFilterSerializer,
    EligibilitySerializer,
    SpecialistSerializer,
    SpecialtySerializer,
    WayOutInputSerializer,
)


class SpecialtyViewSet(viewsets.GenericViewSet):
    """The specialty catalog (codes, names, NUCC taxonomy codes)."""

    queryset = Specialty.objects.none()  # for the schema only
    serializer_class = SpecialtySerializer
    pagination_class = None

    def list(self, request):
        return Response(SpecialtySerializer(selectors.specialties(), many=True).data)


def _filters(params) -> dict:
    data = DirectoryFilterSerializer(data=params)
    data.is_valid(raise_exception=True)
    clean = {k: v.strip() for k, v in data.validated_data.items() if v.strip()}
    if "state" in clean:
        clean["state"] = clean["state"].upper()
        if clean["state"] not in US_STATES:
            raise ValidationFailed(_("Choose a US state (two letters)."), field="state")
    if "language" in clean and clean["language"] not in dict(LANGUAGE_CHOICES):
        raise ValidationFailed(_("Choose a language from the list."), field="language")
    if "specialty" in clean and not Specialty.objects.filter(pk=clean["specialty"]).exists():
        raise ValidationFailed(_("Unknown specialty."), field="specialty")
    return clean


class SpecialistViewSet(viewsets.GenericViewSet):
    """The specialists of the caller's networks (coordinators and specialists only)."""

    queryset = Specialist.objects.none()  # for the schema only
    serializer_class = SpecialistSerializer

    @extend_schema(parameters=[DirectoryFilterSerializer])
    def list(self, request):
        authz.require("directory.view", request.user)
        networks = request.user.organizations_for(Role.COORDINATOR, Role.SPECIALIST).values("pk")
        specialists = selectors.directory(**_filters(request.query_params)).filter(network__in=networks)
        page = self.paginate_queryset(selectors.ids_by_name(specialists))  # names are encrypted: sorted here
        return self.get_paginated_response(
            SpecialistSerializer(selectors.in_name_order(specialists, page), many=True).data)


class CaseCandidatesViewSet(viewsets.GenericViewSet):
    """The specialists a coordinator may offer a case to, ranked by the matching engine, with reasons."""

    queryset = Case.objects.none()  # for the schema only
    serializer_class = CandidateSerializer

    @extend_schema(parameters=[CASE_ID], responses=CandidateSerializer(many=True))
    @action(detail=True, methods=["get"])
    def candidates(self, request, pk=None):
        case = case_for(request, pk, action="matching.candidates", rule="case.match")
        return Response(CandidateSerializer(ranking.rank(case), many=True).data)

    @extend_schema(parameters=[CASE_ID], responses=EligibilitySerializer)
    @action(detail=True, methods=["get"])
    def eligibility(self, request, pk=None):
        """How many specialists may be offered the case; when none, who came nearest, which constraint failed
        (specialty, availability, licence, language, capacity, conflict, declined, delivery) and the ways out."""
        case = case_for(request, pk, action="matching.eligibility", rule="case.match")
        return Response(routing.explain(case, request.user))

    @extend_schema(parameters=[CASE_ID], request=WayOutInputSerializer, responses=EligibilitySerializer)
    @action(detail=True, methods=["post"], url_path="ways-out")
    def ways_out(self, request, pk=None):
        """Take a way out: "interpreter", "consult_path", "escalate" or "other_network" (with `network`); re-triage is
        the `retriage` transition."""
        case = case_for(request, pk, action="matching.way_out", rule="case.match", audit=False)
        data = WayOutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = routing.take_way_out(actor=request.user, case=case, **data.validated_data)
        return Response(routing.explain(case, request.user))
