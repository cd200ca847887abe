"""REST API v1: one router over every app's viewsets (tokens or session; OpenAPI at /api/schema/)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from konsil.accounts.api import LogoutAllView, MeView, TokenDetailView, TokenListView, TokenView
from konsil.analytics.api_urls import urlpatterns as analytics_api_urls
from konsil.cases.api import CaseViewSet, Icd10LookupView, NotificationViewSet
from konsil.cases.emergency_api import CaseEmergencyViewSet
from konsil.consults.api import CaseConsultViewSet, ConsultViewSet
from konsil.matching.api import CaseCandidatesViewSet, SpecialistViewSet, SpecialtyViewSet
from konsil.opinions.api import CaseOpinionViewSet, ReportPdfViewSet
from konsil.outcomes.api import CaseOutcomeViewSet
from konsil.programs.api_urls import urlpatterns as program_urls
from konsil.records.pacs_api import CaseRetrievesView, FindView, SourcesView
from konsil.records.tus import UploadCreateView, UploadView
from konsil.triage.api import RecordIdentityView, TriageQuestionsView

app_name = "api"

router = DefaultRouter()
# Viewsets adding routes under cases/{id}/ first: the API root lists the last one registered for a prefix.
router.register("cases", CaseOpinionViewSet, basename="case-opinion")
router.register("cases", CaseCandidatesViewSet, basename="case-candidates")
router.register("cases", CaseEmergencyViewSet, basename="case-emergency")
router.register("cases", CaseConsultViewSet, basename="case-consults")
router.register("cases", CaseOutcomeViewSet, basename="case-outcome")
router.register("cases", CaseViewSet, basename="case")
router.register("specialists", SpecialistViewSet, basename="specialist")
router.register("specialties", SpecialtyViewSet, basename="specialty")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("consults", ConsultViewSet, basename="consult")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("auth/tokens/", TokenListView.as_view(), name="auth-tokens"),
    path("auth/tokens/<uuid:pk>/", TokenDetailView.as_view(), name="auth-token-detail"),
    path("auth/logout-all/", LogoutAllView.as_view(), name="auth-logout-all"),
    path("me/", MeView.as_view(), name="me"),
    path("icd10/", Icd10LookupView.as_view(), name="icd10"),
    path("cases/<str:pk>/report.pdf", ReportPdfViewSet.as_view({"get": "retrieve"}), name="case-report-pdf"),
    path("records/cases/<uuid:pk>/uploads/", UploadCreateView.as_view(), name="records-uploads"),
    path("cases/<uuid:pk>/triage/questions/", TriageQuestionsView.as_view(), name="case-triage-questions"),
    path("records/<uuid:pk>/identity/", RecordIdentityView.as_view(), name="record-identity"),
    path("records/uploads/<uuid:upload_id>", UploadView.as_view(), name="records-upload"),
    path("records/pacs/", SourcesView.as_view(), name="records-pacs"),
    path("records/pacs/<uuid:node_id>/find/", FindView.as_view(), name="records-pacs-find"),
    path("records/cases/<uuid:pk>/retrieves/", CaseRetrievesView.as_view(), name="records-retrieves"),
    *analytics_api_urls,
    *program_urls,
    *router.urls,
]
