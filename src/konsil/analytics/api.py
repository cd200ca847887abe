"""The analytics figures in the API: JSON, CSV and the quarterly PDF (same numbers as the page)."""

from __future__ import annotations

from dataclasses import replace

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from . import csvout, pdf, selectors

PARAMETERS = [
    OpenApiParameter("period", str, enum=["3m", "12m", "24m", "custom"],
                     description="Last N calendar months (up to today); or the dates below"),
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (submission date, reporting time zone)"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day"),
    OpenApiParameter("specialty", str, description="Specialty code; its subspecialties are included"),
    OpenApiParameter("channel", str, enum=["patient", "clinician", "payer", "employer"]),
    OpenApiParameter("program", str, description="Program slug"),
    OpenApiParameter("state", str, description="USPS state code of the patient"),
    OpenApiParameter("network", str, description="Network slug, for leaders of several networks"),
    OpenApiParameter("sponsor", str, description="Sponsor organization slug, for admins of several sponsors"),
]


def _csv_response(summary) -> HttpResponse:
    response = HttpResponse(csvout.render(summary), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="konsil-analytics.csv"'
    return response


class SummaryView(APIView):
    """Volume, turnaround, outcomes and access for the caller's network or program (docs/analytics.md names
    every key). Sponsors get their own programs only, with counts below 11 suppressed."""

    @extend_schema(parameters=PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        scope, filters = selectors.resolve(request.user, request.query_params)
        return Response(selectors.read_summary(request.user, scope, filters, view="api"))


class SummaryCsvView(APIView):
    """The same figures as CSV, one row per figure."""

    @extend_schema(parameters=PARAMETERS, responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request):
        scope, filters = selectors.resolve(request.user, request.query_params)
        return _csv_response(selectors.read_summary(request.user, scope, filters, view="csv"))


class QuarterlyReportView(APIView):
    """The quarterly report as PDF: `quarter=2026-Q1` (default: the last full quarter), with the filters."""

    @extend_schema(parameters=[*PARAMETERS, OpenApiParameter("quarter", str, description="e.g. 2026-Q1")],
                   responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request):
        scope, filters = selectors.resolve(request.user, request.query_params)
        label, start, end = pdf.quarter_bounds(request.query_params.get("quarter"))
        filters = replace(filters, start=start, end=end)
        summary = selectors.read_summary(request.user, scope, filters, view="pdf")
        response = HttpResponse(pdf.render(summary, quarter=label), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="konsil-analytics-{label}.pdf"'
        return response
