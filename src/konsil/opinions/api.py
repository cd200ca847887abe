"""REST API of a case's opinion: the working draft (autosave), the signed versions and the report PDF."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
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

from . import panels, report, seats, services
from .serializers import (
    OpinionInputSerializer,
    OpinionSerializer,
    PanelAssembleSerializer,
    PanelSerializer,
    SeatCandidateSerializer,
    SeatFillSerializer,
    SeatWaiveSerializer,
)

SEAT_PATH = r"panel/seats/(?P<seat_id>[^/.]+)"
SEAT_ID = OpenApiParameter("seat_id", OpenApiTypes.UUID, OpenApiParameter.PATH,
                           description="An open seat of the panel (GET .../panel/: open_seats[].id)")


def _versions(user, case) -> list:
    """Signed versions to those who may read the report; the working draft to its author only."""
    versions = []
    if rel.SPECIALIST in rel.relations(user, case):
        draft = services.current_draft(case)
        versions += [draft] if draft else []
    if authz.can("case.read_report", user, case):
        versions += list(case.opinions.filter(signed_at__isnull=False).order_by("-version"))
    return versions


def _panel(request, pk, *, action: str):
    """The case's convened panel for a coordinator or a member (audited), or 404."""
    case, panel, _seat, _coordinator = panels.panel_access(request.user, pk, action=action)
    if panel is None:
        raise NotFound(_("This case has no panel."))
    panel.case = case  # read once
    return panel


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

    @extend_schema(methods=["GET"], parameters=[CASE_ID], responses=PanelSerializer)
    @extend_schema(methods=["POST"], parameters=[CASE_ID], request=PanelAssembleSerializer,
                   responses={201: PanelSerializer})
    @action(detail=True, methods=["get", "post"])
    def panel(self, request, pk=None):
        """GET: the case's convened panel (its coordinators and members; 404 when it has none). POST: assemble it
        (coordinators). 409 unfilled_roles or no_seat_fillable: `errors` gives each empty seat's role code and why
        nobody eligible sits there; repeat with open_seats=true to convene with the seats that can be filled, then
        fill or waive each open seat (panel/seats/{seat_id}/...)."""
        if request.method == "GET":
            return Response(PanelSerializer(_panel(request, pk, action="panel.read_api")).data)
        case = case_for(request, pk, action="panel.assemble_api", audit=False)
        data = PanelAssembleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        panel = panels.assemble_panel(actor=request.user, case=case, template_code=data.validated_data.get("template")
                                      or None, open_seats=data.validated_data["open_seats"])
        return Response(PanelSerializer(panel).data, status=201)

    @extend_schema(parameters=[CASE_ID, SEAT_ID], responses=SeatCandidateSerializer(many=True))
    @action(detail=True, methods=["get"], url_path=f"{SEAT_PATH}/candidates", pagination_class=None)
    def seat_candidates(self, request, pk=None, seat_id=None):
        """The specialists eligible for an open seat of the panel, best first (coordinators; 409 seat_not_open)."""
        panel = _panel(request, pk, action="panel.seat_candidates_api")
        rows = seats.seat_candidates(actor=request.user, panel=panel, seat_id=seat_id)
        return Response(SeatCandidateSerializer([
            {"specialist": specialist.pk, "name": specialist.user.display_name, "role": code, "score": score}
            for specialist, score, code, _reasons in rows], many=True).data)

    @extend_schema(parameters=[CASE_ID, SEAT_ID], request=SeatFillSerializer, responses=PanelSerializer)
    @action(detail=True, methods=["post"], url_path=f"{SEAT_PATH}/fill")
    def seat_fill(self, request, pk=None, seat_id=None):
        """Seat one of the seat's candidates; they are invited (coordinators). 400 on `specialist` when they are
        not eligible; 409 seat_not_open, panel_dissolved or panel_closed."""
        panel = _panel(request, pk, action="panel.seat_fill_api")
        data = SeatFillSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        seats.fill_seat(actor=request.user, panel=panel, seat_id=seat_id,
                        specialist_id=data.validated_data["specialist"])
        return Response(PanelSerializer(panels.active_panel(panel.case)).data)

    @extend_schema(parameters=[CASE_ID, SEAT_ID], request=SeatWaiveSerializer, responses=PanelSerializer)
    @action(detail=True, methods=["post"], url_path=f"{SEAT_PATH}/waive")
    def seat_waive(self, request, pk=None, seat_id=None):
        """Let the panel go on without the seat's role, with a reason shown to the panel and in the report
        (coordinators). 409 seat_waived, seat_not_open, panel_dissolved or panel_closed."""
        panel = _panel(request, pk, action="panel.seat_waive_api")
        data = SeatWaiveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        seats.waive_seat(actor=request.user, panel=panel, seat_id=seat_id, reason=data.validated_data["reason"])
        return Response(PanelSerializer(panels.active_panel(panel.case)).data)

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
