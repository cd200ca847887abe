"""REST API of programs (under /api/v1/programs/): the program, eligibility, roster upload, mandated reviews
with their determinations (never the narrative), webhook-ready events, the dashboard and invoices."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from konsil.core import authz
from konsil.core.errors import NotFound, ValidationFailed

from . import billing, dashboard, enrolment, mandates, selectors, services
from .models import Eligibility, Invoice, Mandate, Member, Pricing, Program, ProgramEvent

ERRORS = {400: OpenApiResponse(description="Field-level errors: {code, detail, errors: {field: [message]}}."),
          403: OpenApiResponse(description="Not allowed for this role."),
          404: OpenApiResponse(description="No such program (or not yours)."),
          409: OpenApiResponse(description="The state forbids it (duplicate referral or invoice).")}


class MandatedProcedureSerializer(serializers.Serializer):
    cpt = serializers.CharField()
    description = serializers.CharField()
    decision_days = serializers.IntegerField()


class ProgramSerializer(serializers.ModelSerializer):
    sponsor = serializers.CharField(source="sponsor.slug", read_only=True)
    network = serializers.CharField(source="network.slug", read_only=True)
    specialties = serializers.SerializerMethodField()
    mandated_procedures = MandatedProcedureSerializer(many=True, read_only=True)

    class Meta:
        model = Program
        fields = ["id", "name", "slug", "sponsor", "network", "enrolment_code", "welcome", "accent", "languages",
                  "services", "specialties", "eligibility", "pricing", "case_rates", "pmpm_cents",
                  "self_pay_cents", "currency", "contacts", "payer_id", "active", "mandated_procedures"]
        read_only_fields = fields

    def get_specialties(self, obj) -> list[str]:
        return list(obj.specialties.values_list("code", flat=True))


class ProgramInputSerializer(serializers.Serializer):
    """Every field optional: send what changes. Rates and prices in cents."""

    name = serializers.CharField(required=False)
    welcome = serializers.CharField(required=False, allow_blank=True)
    accent = serializers.CharField(required=False, allow_blank=True)
    languages = serializers.ListField(child=serializers.CharField(), required=False)
    services = serializers.ListField(child=serializers.CharField(), required=False)
    specialties = serializers.ListField(child=serializers.CharField(), required=False)
    eligibility = serializers.ChoiceField(choices=Eligibility.choices, required=False)
    pricing = serializers.ChoiceField(choices=Pricing.choices, required=False)
    case_rates = serializers.DictField(child=serializers.IntegerField(), required=False)
    pmpm_cents = serializers.IntegerField(required=False)
    self_pay_cents = serializers.IntegerField(required=False)
    currency = serializers.CharField(required=False)
    contacts = serializers.ListField(child=serializers.DictField(), required=False)
    payer_id = serializers.CharField(required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    mandated_procedures = MandatedProcedureSerializer(many=True, required=False)


class ProgramCreateSerializer(ProgramInputSerializer):
    """A new program: the sponsor's and the network's addresses (slugs), its own address, then its terms."""

    sponsor = serializers.CharField()
    network = serializers.CharField()
    slug = serializers.CharField(required=False, help_text="Default: made from the name.")
    name = serializers.CharField()


class ProgramEligibilityInputSerializer(serializers.Serializer):
    member_id = serializers.CharField(required=False)
    enrolment_code = serializers.CharField(required=False)
    birth_date = serializers.DateField()
    family_name = serializers.CharField()
    on = serializers.DateField(required=False)
    service = serializers.CharField(required=False)


class ProgramEligibilitySerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    reason = serializers.CharField()
    message = serializers.CharField()
    date = serializers.DateField(required=False)


class DeterminationSerializer(serializers.Serializer):
    determination = serializers.CharField(source="outcome")
    recommended_cpt = serializers.CharField()
    decided_on = serializers.DateField()


class MandateSerializer(serializers.ModelSerializer):
    member_id = serializers.CharField(source="member.member_id")
    case_reference = serializers.SerializerMethodField()
    determination = serializers.SerializerMethodField()
    report_shared = serializers.SerializerMethodField()

    class Meta:
        model = Mandate
        fields = ["id", "member_id", "requesting_npi", "requesting_name", "cpt", "diagnoses", "deadline", "state",
                  "case_reference", "determination", "report_shared", "created_at"]
        read_only_fields = fields

    def get_case_reference(self, obj) -> str:
        return obj.case.reference if obj.case_id else ""

    def get_report_shared(self, obj) -> bool:
        """The member agreed and the report is delivered: the sponsor's admins read it on the review's page."""
        return selectors.report_shared(obj)

    def get_determination(self, obj) -> dict | None:
        d = getattr(obj, "determination", None)
        return DeterminationSerializer(d).data if d is not None else None


class ReferralInputSerializer(serializers.Serializer):
    member_id = serializers.CharField()
    requesting_npi = serializers.CharField()
    requesting_name = serializers.CharField(required=False)
    cpt = serializers.CharField()
    procedure_text = serializers.CharField()
    diagnoses = serializers.ListField(child=serializers.CharField())
    deadline = serializers.DateField(required=False)
    email = serializers.EmailField(required=False)


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProgramEvent
        fields = ["id", "type", "payload", "created_at"]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    lines = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = ["id", "number", "period_start", "period_end", "pricing", "total_cents", "currency", "state",
                  "created_at", "lines"]
        read_only_fields = fields

    def get_lines(self, obj) -> list[dict]:
        return [{"case_reference": x.case_reference, "service": x.service, "description": x.description,
                 "quantity": x.quantity, "unit_cents": x.unit_cents, "amount_cents": x.amount_cents}
                for x in obj.lines.all()]


class InvoiceInputSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()


def _data(request) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise ValidationFailed(_("Send a JSON object."), field="non_field_errors")
    return data


class ProgramListView(APIView):
    @extend_schema(responses={200: ProgramSerializer(many=True)})
    def get(self, request):
        """Programs you administer or coordinate."""
        programs = selectors.programs_for(request.user).order_by("name")[:200]
        return Response(ProgramSerializer(programs, many=True).data)

    @extend_schema(request=ProgramCreateSerializer, responses={201: ProgramSerializer, **ERRORS})
    def post(self, request):
        """Set up a program (the sponsor's or the network's admins); nothing is saved unless every field is right."""
        program = services.create_program(actor=request.user, data=_data(request))
        return Response(ProgramSerializer(program).data, status=status.HTTP_201_CREATED)


class ProgramDetailView(APIView):
    @extend_schema(responses={200: ProgramSerializer, **ERRORS})
    def get(self, request, pk):
        return Response(ProgramSerializer(selectors.get_program(request.user, pk)).data)

    @extend_schema(request=ProgramInputSerializer, responses={200: ProgramSerializer, **ERRORS})
    def patch(self, request, pk):
        """Change the program's terms (the sponsor's or the network's admins); audited with the fields changed."""
        program = selectors.get_program(request.user, pk)
        program = services.update_program(actor=request.user, program=program, data=_data(request))
        return Response(ProgramSerializer(program).data)


class EligibilityView(APIView):
    @extend_schema(request=ProgramEligibilityInputSerializer, responses={200: ProgramEligibilitySerializer, **ERRORS})
    def post(self, request, pk):
        """Check one person's eligibility on a date (today by default)."""
        program = selectors.get_program(request.user, pk, check="programs.eligibility")
        result = enrolment.check(actor=request.user, program=program, data=_data(request))
        return Response(result.as_dict())


SUMMARY = inline_serializer("RosterSummary", fields={
    "added": serializers.IntegerField(), "changed": serializers.IntegerField(),
    "terminated": serializers.IntegerField(), "unchanged": serializers.IntegerField(),
    "rejected": serializers.ListField(child=serializers.DictField()),
    "warnings": serializers.ListField(child=serializers.DictField())})


class MemberSerializer(serializers.ModelSerializer):
    coverage = serializers.SerializerMethodField(help_text="On today's date: covered, ended or future.")

    class Meta:
        model = Member
        fields = ["member_id", "subscriber_id", "relationship", "given_name", "family_name", "birth_date", "sex",
                  "state", "coverage_start", "coverage_end", "coverage"]
        read_only_fields = fields

    def get_coverage(self, obj) -> str:
        return obj.coverage_on(self.context["today"])


class RosterFilterSerializer(serializers.Serializer):
    member_id = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                      help_text="The start of a member id; a subscriber's id finds the dependants.")
    birth_date = serializers.DateField(required=False)
    coverage = serializers.ChoiceField(choices=selectors.COVERAGE, required=False)


class RosterView(GenericAPIView):
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = MemberSerializer

    @extend_schema(parameters=[RosterFilterSerializer], responses={200: MemberSerializer(many=True), **ERRORS})
    def get(self, request, pk):
        """The roster's members in member id order, paged (sponsor's and network's admins); each one audited."""
        program = selectors.get_program(request.user, pk, check="programs.roster")
        filters = RosterFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        found = {k: v for k, v in filters.validated_data.items() if v not in ("", None)}
        today = timezone.localdate()
        page = self.paginate_queryset(selectors.members_for(request.user, program, today=today, **found))
        selectors.audit_members(request.user, page)
        return self.get_paginated_response(MemberSerializer(page, many=True, context={"today": today}).data)

    @extend_schema(request={"multipart/form-data": inline_serializer(
        "RosterUpload", fields={"file": serializers.FileField(), "format": serializers.CharField(required=False)})},
        responses={200: SUMMARY, **ERRORS})
    def post(self, request, pk):
        """Import a roster (CSV or X12 834); the summary has a per-row report."""
        from .roster import import_roster

        program = selectors.get_program(request.user, pk, check="programs.roster")
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(_("Send the roster as the file field."), field="file")
        fmt = request.data.get("format") or None
        if fmt is not None and fmt not in ("csv", "834"):
            raise ValidationFailed(_("Choose CSV or 834."), field="format")
        return Response(import_roster(actor=request.user, program=program, content=upload.read(), fmt=fmt))


class MandateListView(APIView):
    @extend_schema(responses={200: MandateSerializer(many=True), **ERRORS})
    def get(self, request, pk):
        """Mandated reviews and their determinations."""
        program = selectors.get_program(request.user, pk)
        rows = list(selectors.mandates_for(request.user, program)[:500])
        selectors.audit_mandates(request.user, rows)
        return Response(MandateSerializer(rows, many=True).data)

    @extend_schema(request=ReferralInputSerializer, responses={201: MandateSerializer, **ERRORS})
    def post(self, request, pk):
        """Refer a member for a mandated second opinion (a payer's care manager)."""
        program = selectors.get_program(request.user, pk)
        mandate = mandates.refer(actor=request.user, program=program, data=_data(request))
        return Response(MandateSerializer(mandate).data, status=status.HTTP_201_CREATED)


class MandateDetailView(APIView):
    @extend_schema(responses={200: MandateSerializer, **ERRORS})
    def get(self, request, pk, mandate):
        program = selectors.get_program(request.user, pk)
        return Response(MandateSerializer(selectors.get_mandate(request.user, program, mandate)).data)


class EventListView(APIView):
    @extend_schema(responses={200: EventSerializer(many=True), **ERRORS})
    def get(self, request, pk):
        """The program's webhook-ready events ({id, type, timestamp, data}), newest first."""
        program = selectors.get_program(request.user, pk)
        if not authz.can("programs.edit", request.user, program):
            raise NotFound(_("Program not found."))
        return Response(EventSerializer(program.events.all()[:200], many=True).data)


class DashboardView(APIView):
    @extend_schema(responses={200: inline_serializer("DashboardFigure", many=True, fields={
        "section": serializers.CharField(), "label": serializers.CharField(), "value": serializers.CharField()}),
        **ERRORS})
    def get(self, request, pk):
        """Aggregates without PHI; counts below 11 are "<11", and a count hidden only so that a suppressed one
        cannot be worked out from the total is "hidden"."""
        program = selectors.get_program(request.user, pk)
        return Response([{"section": f.section, "label": f.label, "value": str(f.value)}
                         for f in dashboard.figures(program)])


class InvoiceListView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(responses={200: InvoiceSerializer(many=True), **ERRORS})
    def get(self, request, pk):
        program = selectors.get_program(request.user, pk)
        return Response(InvoiceSerializer(selectors.invoices_for(request.user, program)[:100], many=True).data)

    @extend_schema(request=InvoiceInputSerializer, responses={201: InvoiceSerializer, **ERRORS})
    def post(self, request, pk):
        """Issue the invoice for a period (the network's coordinators and admins)."""
        program = selectors.get_program(request.user, pk)
        invoice = billing.issue_invoice(actor=request.user, program=program, data=_data(request))
        return Response(InvoiceSerializer(invoice).data, status=status.HTTP_201_CREATED)
