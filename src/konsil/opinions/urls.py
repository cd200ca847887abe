"""Specialist workspace and review screen; panels and blinded review; the report, its PDF and its shared link."""

from django.urls import path

from . import panel_views, share_views, views

app_name = "opinions"

urlpatterns = [
    path("specialist/", views.workspace, name="workspace"),
    path("specialist/offers/<uuid:pk>/<slug:action>/", views.respond, name="respond"),
    path("specialist/cases/<uuid:pk>/review/", views.review, name="review"),
    path("specialist/cases/<uuid:pk>/opinion/", views.autosave, name="autosave"),
    path("specialist/cases/<uuid:pk>/amend/", views.amend, name="amend"),
    path("cases/<uuid:pk>/report/", views.report_page, name="report"),
    path("cases/<uuid:pk>/report.pdf", views.report_pdf, name="report_pdf"),
    path("cases/<uuid:pk>/report/share/", share_views.share, name="share"),
    path("cases/<uuid:pk>/report/shares/<uuid:share_id>/revoke/", share_views.share_revoke, name="share_revoke"),
    path("specialist/cases/<uuid:pk>/assessment/", views.independent_assessment, name="assessment"),
    path("cases/<uuid:pk>/panel/", panel_views.panel_page, name="panel"),
    path("cases/<uuid:pk>/panel/assemble/", panel_views.panel_assemble, name="panel_assemble"),
    path("cases/<uuid:pk>/panel/input/", panel_views.panel_input, name="panel_input"),
    path("cases/<uuid:pk>/panel/agreement/", panel_views.panel_agreement, name="panel_agreement"),
    path("cases/<uuid:pk>/panel/dissolve/", panel_views.panel_dissolve, name="panel_dissolve"),
    path("cases/<uuid:pk>/panel/seats/<uuid:seat_id>/fill/", panel_views.panel_seat_fill, name="panel_seat_fill"),
    path("cases/<uuid:pk>/panel/seats/<uuid:seat_id>/waive/", panel_views.panel_seat_waive,
         name="panel_seat_waive"),
    path("cases/<uuid:pk>/review-plan/", panel_views.review_plan, name="review_plan"),
    path("shared/<str:public_id>/", share_views.shared, name="shared"),
    path("shared/<str:public_id>/code/", share_views.shared_code, name="shared_code"),
    path("shared/<str:public_id>/report.pdf", share_views.shared_pdf, name="shared_pdf"),
    path("verify/", views.verify_lookup, name="verify_lookup"),
    path("verify/<str:code>/", views.verify, name="verify"),
    path("network/letterhead/", views.letterhead, name="letterhead"),
    path("network/<uuid:org_id>/letterhead/", views.letterhead, name="letterhead_for"),
    path("network/<uuid:org_id>/logo.png", views.letterhead_logo, name="letterhead_logo"),
]
