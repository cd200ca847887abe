"""REST API of a case's opinion: the working draft (autosave), the signed versions and the report PDF."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from konsil.cases import relations as rel
from konsil.cases.api import CASE_ID, audit_read, case_for
from konsil.cases.models import Case
from konsil.core import authz
from konsil.core.api import BinaryRenderer
from konsil.core.errors import NotFound, PermissionDenied

from . import panels, report, services
from .serializers import OpinionInputSerializer, OpinionSerializer, PanelAssembleSerializer, PanelSerializer


def _versions(user, case) -> list:
    """Signed versions to those who may read the report; the working draft to its author only."""
    versions = []
    if rel.SPECIALIST in rel.relations(user, case):
        draft = services.current_draft(case)
        versions += [draft] if draft else []
    if authz.can("case.read_report", user, case):
        versions += list(case.opinions.filter(signed_at__isnull=False).order_by("-version"))
    return versions


class CaseOpinionViewSet(viewsets.GenericViewSet):
    """The opinion of a case."""

    queryset = Case.objects.none()  # for the schema only
    serializer_class = OpinionSerializer

    @extend_schema(methods=["GET"], parameters=[CASE_ID], responses=OpinionSerializer)
    @extend_schema(methods=["PUT", "PATCH"], parameters=[CASE_ID], request=OpinionInputSerializer,
                   responses=OpinionSerializer)
    @action(detail=True, methods=["get", "put", "patch"])
    def opinion(self, request, pk=None):
        """GET: the working draft (its author) or the latest signed version. PUT/PATCH: save the draft."""
        if request.method == "GET":
            case = case_for(request, pk, action="opinion.read", audit=False)
            versions = _versions(request.user, case)
            hidden = not versions and case.opinions.exists()
            audit_read(request, case, "opinion.read", allowed=not hidden)
            if hidden:
                raise PermissionDenied(_("The opinion is not available to you yet."))
            if not versions:
                raise NotFound(_("There is no opinion yet."))
            return Response(OpinionSerializer(versions[0]).data)
        case = case_for(request, pk, action="opinion.save_draft", audit=False)
        data = OpinionInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        draft = services.save_draft(actor=request.user, case=case, data=dict(data.validated_data))
        return Response(OpinionSerializer(draft).data)

    @extend_schema(parameters=[CASE_ID], request=PanelAssembleSerializer, responses={201: PanelSerializer})
    @action(detail=True, methods=["post"])
    def panel(self, request, pk=None):
        """Assemble the case's multidisciplinary panel (coordinators). 409 unfilled_roles or no_seat_fillable:
        `errors` gives each empty seat's role code and why nobody eligible sits there; repeat with
        open_seats=true to convene with the seats that can be filled."""
        case = case_for(request, pk, action="panel.assemble_api", audit=False)
        data = PanelAssembleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        panel = panels.assemble_panel(actor=request.user, case=case, template_code=data.validated_data.get("template")
                                      or None, open_seats=data.validated_data["open_seats"])
        return Response(PanelSerializer(panel).data, status=201)

    @extend_schema(parameters=[CASE_ID], responses=OpinionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # a whole list (the schema says so)
    def opinions(self, request, pk=None):
        """Every version the caller may read, newest first."""
        case = case_for(request, pk, action="opinion.list")
        return Response(OpinionSerializer(_versions(request.user, case), many=True).data)


class ReportPdfViewSet(viewsets.GenericViewSet):
    """The signed report as a PDF, in the patient's language."""

    queryset = Case.objects.none()  # for the schema only
    renderer_classes = [JSONRenderer, BinaryRenderer]

    @extend_schema(parameters=[CASE_ID], responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def retrieve(self, request, pk=None):
        case = report.report_case(request.user, pk, action="report.download")
        return report.pdf_response(case, report.render_pdf(report.report_context(case)))
