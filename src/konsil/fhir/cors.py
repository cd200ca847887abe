"""CORS per client origin: a browser page on an origin a registered, active FHIR client lists may call /fhir/R4 and
/api/v1 with bearer tokens (never with cookies: credentials are not allowed)."""

from __future__ import annotations

from .models import FhirClient


def origin_allowed(sender, request, **kwargs) -> bool:
    """corsheaders' check_request_enabled (which the URL regex does not bound): on the APIs only, the Origin
    header is one an active client registered."""
    if not request.path.startswith(("/api/v1/", "/fhir/R4/")):
        return False
    origin = str(request.headers.get("Origin") or "").strip().lower().rstrip("/")
    if not origin or len(origin) > 200:
        return False
    return any(origin in (c or []) for c in FhirClient.objects.filter(active=True).exclude(allowed_origins=[])
               .values_list("allowed_origins", flat=True))
