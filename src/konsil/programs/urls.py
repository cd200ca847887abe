"""Program pages."""

from django.urls import path

from . import views

app_name = "programs"
urlpatterns = [
    path("", views.program_list, name="list"),
    path("new/", views.program_new, name="new"),
    path("networks/<uuid:network>/billing-profile/", views.billing_profile, name="billing_profile"),
    path("p/<slug:slug>/", views.public, name="public"),
    path("p/<slug:slug>/theme.css", views.theme, name="theme"),
    path("invite/<str:token>/", views.mandate_accept, name="mandate_accept"),
    path("cases/<uuid:case_id>/", views.case_program, name="case"),
    path("<uuid:pk>/", views.program_detail, name="detail"),
    path("<uuid:pk>/edit/", views.program_edit, name="edit"),
    path("<uuid:pk>/roster/", views.roster, name="roster"),
    path("<uuid:pk>/reviews/", views.reviews, name="reviews"),
    path("<uuid:pk>/reviews/new/", views.refer, name="refer"),
    path("<uuid:pk>/reviews/<uuid:mandate>/", views.review, name="review"),
    path("<uuid:pk>/reviews/<uuid:mandate>/report/", views.shared_report, name="shared_report"),
    path("<uuid:pk>/billing/", views.billing_page, name="billing"),
    path("<uuid:pk>/billing/invoices/<uuid:invoice>.<str:fmt>", views.invoice_file, name="invoice_file"),
    path("<uuid:pk>/billing/invoices/<uuid:invoice>/void/", views.void_invoice, name="void_invoice"),
    path("<uuid:pk>/billing/claims/<uuid:claim>.837", views.claim_file, name="claim_file"),
    path("<uuid:pk>/dashboard/", views.dashboard_page, name="dashboard"),
]
