"""URL map: pages per app, the REST API under /api/v1/, OpenAPI at /api/schema/."""

from django.contrib import admin
from django.urls import include, path

from konsil.accounts import views as accounts_views
from konsil.core import health
from konsil.core import views as core_views
from konsil.core.api import CachedSchemaView, SignedInSwaggerView

handler404 = "konsil.core.views.not_found"  # offers break-glass on a hidden case page to an eligible clinician

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", health.liveness, name="healthz"),
    path("readyz", health.readiness, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("i18n/setlang/", accounts_views.set_language, name="set_language"),  # keeps a user's preference
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("konsil.accounts.urls")),
    path("cases/", include("konsil.cases.urls")),
    path("audit/", include("konsil.audit.urls")),
    path("records/", include("konsil.records.urls")),
    path("matching/", include("konsil.matching.urls")),
    path("triage/", include("konsil.triage.urls")),
    path("analytics/", include("konsil.analytics.urls")),
    path("consults/", include("konsil.consults.urls")),
    path("follow-up/", include("konsil.outcomes.urls")),
    path("dicomweb/cases/<uuid:case_id>/", include("konsil.records.dicomweb_urls")),
    path("", include("konsil.opinions.urls")),
    path("fhir/R4/", include("konsil.fhir.urls")),
    path("integrations/", include("konsil.fhir.page_urls")),
    path("programs/", include("konsil.programs.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("konsil.api_urls")),
    path("api/schema/", CachedSchemaView.as_view(), name="schema"),
    path("api/docs/", SignedInSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
