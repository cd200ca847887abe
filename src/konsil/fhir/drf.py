"""The REST API at /api/v1 accepts the FHIR API's SMART bearer tokens (service accounts for integrations).

The client acts through its service user, so /api/v1 shows it exactly what the FHIR API and the pages would. The
token's SMART scopes bound what it may do there: reading needs a read or search scope on ServiceRequest (the case),
writing needs a create or update scope on it. Konsil's own API tokens (`ks_...`) are left to their own class."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from konsil.audit.services import emit

from . import auth
from . import scopes as smart_scopes

SAFE = ("GET", "HEAD", "OPTIONS")


class SmartBearerAuthentication(BaseAuthentication):
    """`Authorization: Bearer <access token from /fhir/R4/auth/token>`."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer" or parts[1].startswith(b"ks_"):
            return None
        try:
            header = "Bearer " + parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        token = auth.authenticate(header)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        user = token.client.service_user
        wanted = ("r", "s") if request.method in SAFE else ("c", "u")
        if not any(smart_scopes.allows(token.scopes, "ServiceRequest", p) for p in wanted):
            emit(actor=user, action="fhir.scope", object_type="fhir.client", object_id=str(token.client_id),
                 outcome="denied", detail={"api": request.method})
            raise exceptions.PermissionDenied(_("The token's scopes do not allow this."))
        return user, token

    def authenticate_header(self, request):
        return 'Bearer realm="konsil"'


class SmartBearerScheme(OpenApiAuthenticationExtension):
    target_class = "konsil.fhir.drf.SmartBearerAuthentication"
    name = "smartBearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A SMART Backend Services access token from /fhir/R4/auth/token (client credentials "
                               "with a signed JWT assertion); reads need system/ServiceRequest.rs, writes .c or .u."}
