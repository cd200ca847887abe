"""API routes of programs, included by konsil/api_urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("programs/", api.ProgramListView.as_view(), name="programs"),
    path("programs/<uuid:pk>/", api.ProgramDetailView.as_view(), name="program"),
    path("programs/<uuid:pk>/eligibility/", api.EligibilityView.as_view(), name="program-eligibility"),
    path("programs/<uuid:pk>/roster/", api.RosterView.as_view(), name="program-roster"),
    path("programs/<uuid:pk>/mandates/", api.MandateListView.as_view(), name="program-mandates"),
    path("programs/<uuid:pk>/mandates/<uuid:mandate>/", api.MandateDetailView.as_view(), name="program-mandate"),
    path("programs/<uuid:pk>/events/", api.EventListView.as_view(), name="program-events"),
    path("programs/<uuid:pk>/dashboard/", api.DashboardView.as_view(), name="program-dashboard"),
    path("programs/<uuid:pk>/invoices/", api.InvoiceListView.as_view(), name="program-invoices"),
]
