"""Specialist workspace and review screen; the report, its PDF and the treating physician's link."""

from django.urls import path

from . import views

app_name = "opinions"

urlpatterns = [
    path("specialist/", views.workspace, name="workspace"),
    path("specialist/offers/<uuid:pk>/<slug:action>/", views.respond, name="respond"),
    path("specialist/cases/<uuid:pk>/review/", views.review, name="review"),
    path("specialist/cases/<uuid:pk>/opinion/", views.autosave, name="autosave"),
    path("specialist/cases/<uuid:pk>/amend/", views.amend, name="amend"),
    path("cases/<uuid:pk>/report/", views.report_page, name="report"),
    path("cases/<uuid:pk>/report.pdf", views.report_pdf, name="report_pdf"),
    path("cases/<uuid:pk>/report/share/", views.share, name="share"),
    path("r/<str:token>/", views.shared, name="shared"),
    path("r/<str:token>/report.pdf", views.shared_pdf, name="shared_pdf"),
]
