"""Token sign-in (password plus TOTP for MFA roles), the owner's tokens (list, revoke, sign out everywhere) and the
signed-in user."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from konsil.core.api import object_or_404
from konsil.core.errors import ValidationFailed

from . import tokens
from .serializers import ApiTokenSerializer, MeSerializer, TokenRequestSerializer, TokenResponseSerializer


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "konsil.accounts.tokens.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": 'Token-based authentication: "Token ks_…", from POST /api/v1/auth/token/.'}


class AuthRateThrottle(ScopedRateThrottle):
    """Sign-in attempts per client address (django-axes also locks an account after repeated failures)."""

    THROTTLE_RATES = {"auth": "10/min"}


def _check_otp(user, code: str) -> None:
    devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    if not devices:
        raise ValidationFailed(_("Set up two-factor sign-in in the web app first."), field="otp",
                               code="mfa_setup_required")
    code = (code or "").strip().replace(" ", "")
    if not code:
        raise ValidationFailed(_("Enter the code from your authenticator app."), field="otp",
                               code="mfa_required")
    if not any(device.verify_is_allowed()[0] for device in devices):
        raise ValidationFailed(_("Too many wrong codes. Wait a moment and try again."), field="otp",
                               code="mfa_throttled")
    if not any(device.verify_token(code) for device in devices):
        raise ValidationFailed(_("The code is not valid. Try the current one."), field="otp")


class TokenView(APIView):
    """Exchange email, password and (for clinical and admin roles) a TOTP code for an API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenResponseSerializer}, auth=[])
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request._request, email=data.validated_data["email"].strip(),
                            password=data.validated_data["password"])
        if user is None:
            raise ValidationFailed(_("The email or the password is not correct."), field="password",
                                   code="invalid_credentials")
        if user.requires_mfa:
            _check_otp(user, data.validated_data.get("otp", ""))
        token, raw = tokens.issue(user=user, name=data.validated_data.get("name", ""),
                                  scopes=data.validated_data.get("scopes"),
                                  days=data.validated_data.get("expires_in_days"))
        return Response({"token": raw, "expires_at": token.expires_at, "scopes": token.scopes,
                         "user": MeSerializer(user).data})


class TokenListView(APIView):
    """The signed-in user's API tokens (never their secrets)."""

    @extend_schema(responses=ApiTokenSerializer(many=True))
    def get(self, request):
        return Response(ApiTokenSerializer(tokens.tokens_of(request.user), many=True).data)


class TokenDetailView(APIView):
    """Revoke one of the signed-in user's tokens."""

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        token = object_or_404(tokens.tokens_of(request.user), pk)
        tokens.revoke(actor=request.user, token=token)
        return Response(status=204)


class LogoutAllView(APIView):
    """Sign out everywhere: every session and every API token of the signed-in user ends."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        tokens.end_everything(user=request.user, reason="logout_all")
        return Response(status=204)


class MeView(APIView):
    """The signed-in user, their roles and organizations."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)
