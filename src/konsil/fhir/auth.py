"""SMART Backend Services: a client proves itself with a JWT signed by a key of its registered JWKS and gets a
short-lived bearer token (RFC 7523 client assertion, OAuth 2.0 client credentials grant)."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from konsil.audit.services import emit

from . import scopes as smart_scopes
from .models import AccessToken, FhirClient, UsedAssertion, digest

ALGORITHMS = ["RS384", "ES384"]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_SECONDS = 300
MAX_ASSERTION_SECONDS = 300  # SMART: exp no more than five minutes in the future
LEEWAY = 30


class OAuthError(Exception):
    """An RFC 6749 error response: {"error", "error_description"} with its status."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def as_dict(self) -> dict:
        return {"error": self.error, "error_description": self.description}


def load_keyset(jwks) -> KeySet:
    """The client's public keys; refused when it holds a private key or none that signs RS384/ES384."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ValueError("a JWKS is an object with a non-empty 'keys' list")
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC") or "d" in key:
            raise ValueError("keys must be public RSA or EC keys")
    return KeySet.import_key_set(jwks)


def issue_token(*, grant_type: str, assertion_type: str, assertion: str, scope: str, audience: str) -> dict:
    """Check the assertion and the scopes; the token response. Every refusal raises OAuthError (audited)."""
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "grant_type must be client_credentials")
    if assertion_type != ASSERTION_TYPE or not assertion:
        raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
    client = _client_of(assertion)
    try:
        token = jwt.decode(assertion, load_keyset(client.jwks), algorithms=ALGORITHMS)
    except (JoseError, ValueError) as exc:
        _refuse(client, "bad_signature")
        raise OAuthError("invalid_client", "the assertion's signature does not verify", 401) from exc
    claims = token.claims
    now = time.time()
    problems = []
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        problems.append("iss and sub must be the client_id")
    aud = claims.get("aud")
    if audience not in (aud if isinstance(aud, list) else [aud]):
        problems.append("aud must be the token endpoint")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp < now - LEEWAY:
        problems.append("the assertion has expired")
    elif exp > now + MAX_ASSERTION_SECONDS + LEEWAY:
        problems.append("exp is more than five minutes ahead")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        problems.append("jti is required")
    if problems:
        _refuse(client, "bad_claims")
        raise OAuthError("invalid_client", "; ".join(problems), 401)
    granted = smart_scopes.narrow(scope, client.scopes)
    if not scope or len(granted) != len(scope.split()):
        _refuse(client, "scope")
        raise OAuthError("invalid_scope", "the client is not registered for the asked scopes")
    raw = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            UsedAssertion.objects.create(client=client, jti=jti,
                                         expires_at=datetime.fromtimestamp(exp, UTC))
            AccessToken.objects.create(client=client, digest=digest(raw), scopes=granted,
                                       expires_at=timezone.now() + timedelta(seconds=TOKEN_SECONDS))
            emit(actor=client.service_user, action="fhir.token", obj=client, detail={"scopes": granted})
    except IntegrityError:
        _refuse(client, "replay")
        raise OAuthError("invalid_client", "this assertion (jti) was already used", 401) from None
    return {"access_token": raw, "token_type": "bearer", "expires_in": TOKEN_SECONDS, "scope": " ".join(granted)}


def _client_of(assertion: str) -> FhirClient:
    """The client named by the (not yet verified) iss of the assertion."""
    try:
        iss = json.loads(jws.extract_compact(assertion.encode()).payload).get("iss")
    except (JoseError, ValueError, TypeError, AttributeError):
        iss = None
    client = FhirClient.objects.select_related("service_user").filter(
        client_id=str(iss or "")[:64], active=True).first() if isinstance(iss, str) else None
    if client is None:
        raise OAuthError("invalid_client", "unknown client", 401)
    return client


def _refuse(client: FhirClient, reason: str) -> None:
    emit(actor=client.service_user, action="fhir.token", obj=client, outcome="denied", detail={"reason": reason})


def authenticate(header: str) -> AccessToken | None:
    """The live token a `Authorization: Bearer ...` header carries, or None."""
    if not header.startswith("Bearer ") or len(header) > 300:
        return None
    token = AccessToken.objects.select_related("client__service_user", "client__organization").filter(
        digest=digest(header[7:].strip()), expires_at__gt=timezone.now(), client__active=True).first()
    return token
