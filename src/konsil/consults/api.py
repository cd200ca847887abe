"""REST API of consults: a case's consults (list, book), its specialist's open slots, one consult (read, move,
cancel). Scoped like the pages (cases_for, then the consult rules), every read and write audited, refusals as
field-level 4xx JSON."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from konsil.cases import relations as rel
from konsil.cases.api import CASE_ID, audit_read, case_for
from konsil.cases.models import Case
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed

from . import selectors, services, slots
from .models import Consult
from .serializers import (
    BookInputSerializer,
    CancelInputSerializer,
    ConsultSerializer,
    MoveInputSerializer,
    SlotQuerySerializer,
    SlotSerializer,
)

CONSULT_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Consult id")


def _context(user, case) -> dict:
    return {"relations": rel.relations(user, case), "user_id": user.pk}


def _out(user, consult: Consult, **kwargs) -> Response:
    return Response(ConsultSerializer(consult, context=_context(user, consult.case)).data, **kwargs)


class CaseConsultViewSet(viewsets.GenericViewSet):
    """A case's consults and its specialist's open slots."""

    queryset = Case.objects.none()  # for the schema only
    serializer_class = ConsultSerializer

    @extend_schema(methods=["GET"], parameters=[CASE_ID], responses=ConsultSerializer(many=True))
    @extend_schema(methods=["POST"], parameters=[CASE_ID], request=BookInputSerializer,
                   responses={201: ConsultSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None)  # a whole list (the schema says so)
    def consults(self, request, pk=None):
        """GET: the case's consults, newest first. POST: book one (the patient's side or a coordinator, once the
        report is delivered): 409 `slot_taken` for a double booking, 400 on `starts_at` for a time in the past or
        outside the specialist's availability."""
        user = request.user
        if request.method == "GET":
            case = case_for(request, pk, action="consult.list", rule="consult.view")
            rows = list(selectors.consults_of(user, case))
            return Response(ConsultSerializer(rows, many=True, context=_context(user, case)).data)
        case = case_for(request, pk, action="consult.book", audit=False)
        data = BookInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            consult = services.book(actor=user, case=case, **data.validated_data)
        except PermissionDenied:
            audit_read(request, case, "consult.book", allowed=False)
            raise
        return _out(user, consult, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[CASE_ID, SlotQuerySerializer], responses=SlotSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="consult-slots")
    def consult_slots(self, request, pk=None):
        """The open slots of the case's specialist (UTC starts to send back), each also in `patient_time_zone`."""
        query = SlotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        zone = query.validated_data["patient_time_zone"]
        if not slots.is_time_zone(zone):
            raise ValidationFailed(_("Choose your time zone from the list."), field="patient_time_zone")
        case = case_for(request, pk, action="consult.slots", rule="consult.view")
        if case.assigned_specialist is None:
            raise Conflict(_("This case has no specialist to meet."))
        rows = [{"starts_at": s.starts_at, "ends_at": s.ends_at, "local_start": s.local(zone).isoformat()}
                for s in services.open_slots(case.assigned_specialist)]
        return Response(SlotSerializer(rows, many=True).data)


def _change(request, pk, action: str, body, change) -> Response:
    """Move and cancel: the consult as `action` allows (audited by the service), the validated `body`, then
    `change(consult, validated_data)`; the changed consult is the answer."""
    consult = selectors.get_consult(request.user, pk, action=action, audit=False)
    data = body(data=request.data)
    data.is_valid(raise_exception=True)
    return _out(request.user, change(consult, data.validated_data))


class ConsultViewSet(viewsets.GenericViewSet):
    """One consult: read, move to another open slot, cancel (late inside the window, which is recorded)."""

    queryset = Consult.objects.none()  # for the schema only
    serializer_class = ConsultSerializer

    @extend_schema(parameters=[CONSULT_ID], responses=ConsultSerializer)
    def retrieve(self, request, pk=None):
        return _out(request.user, selectors.get_consult(request.user, pk))

    @extend_schema(parameters=[CONSULT_ID], request=MoveInputSerializer, responses=ConsultSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move to another open slot: 409 `window_closed` inside the cancellation window, 409 `slot_taken`."""
        return _change(request, pk, "consult.reschedule", MoveInputSerializer,
                       lambda consult, data: services.reschedule(actor=request.user, consult=consult,
                                                                 starts_at=data["starts_at"]))

    @extend_schema(parameters=[CONSULT_ID], request=CancelInputSerializer, responses=ConsultSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return _change(request, pk, "consult.cancel", CancelInputSerializer,
                       lambda consult, data: services.cancel(actor=request.user, consult=consult,
                                                             reason=data["reason"]))
