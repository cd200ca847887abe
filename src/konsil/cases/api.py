"""REST API of cases: thin views; reads through the scoped, audited selectors, writes through the services."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from konsil.accounts.roles import OrganizationKind, Role
from konsil.audit.services import emit
from konsil.core import authz, context
from konsil.core.api import BinaryRenderer, object_or_404
from konsil.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from . import relations as rel
from . import selectors, services
from .models import Case, Notification
from .serializers import (
    AttachmentInputSerializer,
    AttachmentSerializer,
    CaseCreateSerializer,
    CaseDetailSerializer,
    CaseFilterSerializer,
    CaseStatusSerializer,
    CaseSummarySerializer,
    CaseWriteSerializer,
    CodeDecisionInputSerializer,
    CodeSuggestionSerializer,
    ConsentInputSerializer,
    ConsentSerializer,
    IcdQuerySerializer,
    IcdResultSerializer,
    MarkedSerializer,
    MessageInputSerializer,
    MessageSerializer,
    NotificationSerializer,
    NotificationsReadSerializer,
    TransitionInputSerializer,
    TriageProposalSerializer,
)


def case_for(request, pk, *, action: str, rule: str | None = None, audit: bool = True) -> Case:
    """The case as the caller may see it, or 404; with `rule`, that check too (403). The read is audited.

    With audit=False only refusals are recorded here: the service called next audits the write."""
    if rule is None:
        return selectors.get_case(request.user, pk, action=action, audit=audit)
    case = selectors.get_case(request.user, pk, action=action, audit=False)
    allowed = authz.can(rule, request.user, case)
    audit_read(request, case, action, allowed=allowed)
    if not allowed:
        raise PermissionDenied(_("You do not have permission to do this."))
    return case


def audit_read(request, case, action: str, *, allowed: bool = True) -> None:
    """Record a read of `case` (or its refusal) whose outcome the view decided after `case_for`."""
    emit(actor=request.user, action=action, obj=case, patient_id=case.patient_id,
         role=rel.primary_relation(rel.relations(request.user, case)),
         outcome="success" if allowed else "denied")


def _network_for(user, requested):
    """The provider network a new case goes to: the caller's (the one named, when they have several)."""
    networks = user.organizations_for(*Role.values).filter(kind=OrganizationKind.PROVIDER_NETWORK)
    if requested is not None:
        networks = networks.filter(pk=requested)
    network = networks.order_by("name").first()
    if network is None:
        raise ValidationFailed(_("You are not registered with this second-opinion network."), field="network")
    return network


CASE_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Case id")
CASE_BODY = OpenApiResponse(CaseDetailSerializer, description=(
    "The case; only id, reference and status when the caller no longer sees it (a declined offer)."))


class CaseViewSet(viewsets.GenericViewSet):
    """Cases the caller may see: their own, cared for, referred, coordinated, offered or assigned."""

    queryset = Case.objects.none()  # for the schema only: every read goes through `selectors`
    serializer_class = CaseDetailSerializer

    def _body(self, case) -> dict:
        with context.reading():  # after the write: the caller's relations to the case are read once
            return self._read_body(case)

    def _read_body(self, case) -> dict:
        if authz.can("case.view", self.request.user, case):
            body = CaseDetailSerializer(case, context=self.get_serializer_context()).data
            from konsil.opinions.blinded import hidden_for

            if hidden_for(self.request.user, case):  # blinded review: the first opinion stays hidden until then
                body.update(diagnoses=[], proposed_treatment="", proposed_cpt="", blinded=True)
            return body
        return CaseStatusSerializer(case).data

    @extend_schema(parameters=[CaseFilterSerializer], responses=CaseSummarySerializer(many=True))
    def list(self, request):
        filters = CaseFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        cases = selectors.for_summary(selectors.cases_for(request.user).filter(**filters.validated_data))
        page = self.paginate_queryset(cases)
        selectors.audit_list(request.user, page)
        return self.get_paginated_response(CaseSummarySerializer(page, many=True).data)

    @extend_schema(request=CaseCreateSerializer, responses={201: CaseDetailSerializer})
    def create(self, request):
        authz.require("case.create", request.user)
        data = CaseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        network = _network_for(request.user, fields.pop("network", None))
        case = services.create_case(actor=request.user, network=network, data=fields)
        return Response(self._body(case), status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[CASE_ID], responses=CaseDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(self._body(case_for(request, pk, action="case.read")))

    @extend_schema(parameters=[CASE_ID], request=CaseWriteSerializer, responses=CaseDetailSerializer)
    def partial_update(self, request, pk=None):
        case = case_for(request, pk, action="case.update", audit=False)
        data = CaseWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        case = services.update_case(actor=request.user, case=case, data=dict(data.validated_data))
        return Response(self._body(case))

    @extend_schema(parameters=[CASE_ID], request=ConsentInputSerializer, responses={201: ConsentSerializer})
    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        case = case_for(request, pk, action="consent.sign", audit=False)
        data = ConsentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        consent = services.sign_consent(actor=request.user, case=case, **data.validated_data)
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[CASE_ID], request=TransitionInputSerializer, responses=CASE_BODY)
    @action(detail=True, methods=["post"])
    def transitions(self, request, pk=None):
        case = case_for(request, pk, action="case.transition", audit=False)
        data = TransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        name = params.pop("action")
        case = services.transition(actor=request.user, case=case, action=name, **params)
        return Response(self._body(case))

    @extend_schema(methods=["GET"], parameters=[CASE_ID], responses=AttachmentSerializer(many=True))
    @extend_schema(methods=["POST"], parameters=[CASE_ID], responses={201: AttachmentSerializer},
                   request={"multipart/form-data": AttachmentInputSerializer})
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser, FormParser])
    def attachments(self, request, pk=None):
        if request.method == "GET":  # paged: a case's records grow without bound
            case = case_for(request, pk, action="attachment.list")
            page = self.paginate_queryset(selectors.attachments_for(request.user, case))
            return self.get_paginated_response(AttachmentSerializer(page, many=True).data)
        case = case_for(request, pk, action="attachment.create", audit=False)
        data = AttachmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        attachment = services.add_attachment(actor=request.user, case=case, upload=fields["file"],
                                             description=fields.get("description", ""))
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[CASE_ID, OpenApiParameter("attachment_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[^/.]+)/download",
            renderer_classes=[JSONRenderer, BinaryRenderer])
    def download(self, request, pk=None, attachment_id=None):
        case = case_for(request, pk, action="attachment.download", audit=False)
        attachment = object_or_404(selectors.attachments_for(request.user, case), attachment_id,
                                   _("Document not found."))
        from konsil.core import crypto, files
        from konsil.records import downloads

        try:  # decrypted piece by piece as it is sent (a pushed study: a zip of its instances), audited
            download = downloads.open_download(actor=request.user, attachment=attachment)
        except (files.IntegrityError, crypto.DecryptionError, OSError):
            raise Conflict(_("This document cannot be read right now. Please tell the care team."),
                           code="unreadable") from None
        response = StreamingHttpResponse(download.pieces, content_type="application/octet-stream")
        if download.size is not None:
            response["Content-Length"] = str(download.size)
        response["Content-Disposition"] = content_disposition_header(True, download.filename)
        return response

    @extend_schema(methods=["GET"], parameters=[CASE_ID], responses=MessageSerializer(many=True))
    @extend_schema(methods=["POST"], parameters=[CASE_ID], request=MessageInputSerializer,
                   responses={201: MessageSerializer})
    @action(detail=True, methods=["get", "post"])
    def messages(self, request, pk=None):
        if request.method == "GET":  # paged: a thread grows without bound
            case = case_for(request, pk, action="message.list")
            page = self.paginate_queryset(selectors.messages_for(request.user, case))
            return self.get_paginated_response(MessageSerializer(page, many=True).data)
        case = case_for(request, pk, action="message.create", audit=False)
        data = MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.post_message(actor=request.user, case=case, body=data.validated_data["body"])
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], parameters=[CASE_ID], responses=CodeSuggestionSerializer(many=True))
    @extend_schema(methods=["POST"], parameters=[CASE_ID], request=CodeDecisionInputSerializer,
                   responses={200: CodeSuggestionSerializer})
    @action(detail=True, methods=["get", "post"], url_path="code-suggestions", pagination_class=None)
    def code_suggestions(self, request, pk=None):
        """Codes Konsil read in the patient's words and records; a coordinator or the case's clinician confirms
        (the code joins the diagnoses) or rejects each."""
        from . import coding

        if request.method == "GET":
            case = case_for(request, pk, action="case.code_suggestions")
            return Response(CodeSuggestionSerializer(case.code_suggestions.all(), many=True).data)
        case = case_for(request, pk, action="case.code_decide", audit=False)
        data = CodeDecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        suggestion = coding.decide(actor=request.user, case=case, **data.validated_data)
        return Response(CodeSuggestionSerializer(suggestion).data)

    @extend_schema(parameters=[CASE_ID], responses=TriageProposalSerializer)
    @action(detail=True, methods=["get"])
    def triage(self, request, pk=None):
        from konsil.triage.services import latest_proposal

        case = case_for(request, pk, action="triage.read", rule="case.view_triage")
        proposal = latest_proposal(case)
        if proposal is None:
            raise NotFound(_("There is no triage proposal for this case yet."))
        return Response(TriageProposalSerializer(proposal).data)


class NotificationViewSet(viewsets.GenericViewSet):
    """The caller's own in-app notifications, newest first."""

    queryset = Notification.objects.none()  # for the schema only
    serializer_class = NotificationSerializer

    def list(self, request):
        page = self.paginate_queryset(selectors.notifications_for(request.user))
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)

    @extend_schema(request=NotificationsReadSerializer, responses=MarkedSerializer)
    @action(detail=False, methods=["post"])
    def read(self, request):
        data = NotificationsReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = None if data.validated_data.get("all") else data.validated_data["ids"]
        return Response({"marked": services.mark_notifications_read(actor=request.user, ids=ids)})


class Icd10LookupView(APIView):
    """Search-as-you-type over ICD-10-CM titles and inclusion terms (plain words understood: "breast cancer").

    Reference data only, no patient data: not audited."""

    @extend_schema(parameters=[IcdQuerySerializer], responses=IcdResultSerializer(many=True))
    def get(self, request):
        from konsil.core import icd10

        query = IcdQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data.get("q", "")
        if "\x00" in q:
            raise ValidationFailed(_("The search contains characters that are not allowed."), field="q")
        return Response(icd10.search(q, limit=query.validated_data.get("limit", 20)))
