"""API routes, included from konsil.api_urls under analytics/."""

from django.urls import path

from .api import QuarterlyReportView, SummaryCsvView, SummaryView

urlpatterns = [
    path("analytics/summary/", SummaryView.as_view(), name="analytics-summary"),
    path("analytics/summary.csv", SummaryCsvView.as_view(), name="analytics-csv"),
    path("analytics/report.pdf", QuarterlyReportView.as_view(), name="analytics-report"),
]
