"""API glue: domain errors become JSON with field-level messages; nothing a client sends yields a 500.

Every error body has the same shape: {"code", "detail", "errors": {field: [messages]}}, where nested fields
are named with dots ("patient.birth_date", "questions.0").
"""

from __future__ import annotations

import json
import threading

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_handler

from .errors import DomainError, NotFound

IGNORED_KEYS = frozenset({"csrfmiddlewaretoken"})


def flatten_errors(data, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as {"a.b.0": [messages]}; a nested object's own errors go on its name."""
    if isinstance(data, dict):
        out: dict[str, list[str]] = {}
        for key, value in data.items():
            name = prefix if key in ("non_field_errors", api_settings.NON_FIELD_ERRORS_KEY) and prefix \
                else f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flatten_errors(value, name).items():
                out.setdefault(field, []).extend(messages)
        return out
    if isinstance(data, list) and any(isinstance(item, dict | list) for item in data):
        out = {}
        for index, item in enumerate(data):
            name = f"{prefix}.{index}" if prefix else str(index)
            for field, messages in (flatten_errors(item, name) if item else {}).items():
                out.setdefault(field, []).extend(messages)
        return out
    messages = data if isinstance(data, list) else [data]
    return {prefix or "non_field_errors": [str(m) for m in messages]}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"code": "invalid", "detail": _("Invalid input."), "errors": errors}, status=400)
    if isinstance(exc, SuspiciousOperation):  # an oversized or malformed request
        return Response({"code": "bad_request", "detail": _("The request could not be read."), "errors": {}},
                        status=400)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    response = drf_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, drf.ValidationError):
        response.data = {"code": "invalid", "detail": _("Invalid input."), "errors": flatten_errors(data)}
    elif isinstance(data, dict) and "detail" in data:
        response.data = {"code": getattr(data["detail"], "code", "error"), "detail": str(data["detail"]),
                         "errors": {}}
    return response


class StrictSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know (a typo is an error, not silently dropped)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(str(k) for k in data if k not in self.fields and k not in IGNORED_KEYS)
        if unknown:
            raise serializers.ValidationError({k[:64]: [gettext_lazy("Unknown field.")] for k in unknown})
        return value


class BinaryRenderer(BaseRenderer):
    """Lets file downloads answer any Accept header; errors on such routes still render as JSON.

    List it after JSONRenderer so that `*/*` and `application/json` clients get JSON errors."""

    media_type = "*/*"
    format = "bin"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return json.dumps(data, default=str).encode()


def object_or_404(queryset, pk, message=None):
    """One object of an already scoped queryset; malformed ids are a 404 like unknown ones."""
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, DjangoValidationError):
        raise NotFound(message or _("Not found.")) from None


def docs_public() -> bool:
    """The schema and Swagger UI need a signed-in user unless KONSIL_API_DOCS_PUBLIC is set."""
    return bool(getattr(settings, "KONSIL_API_DOCS_PUBLIC", False))


class SignedInSwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI for signed-in people (a sign-in redirect otherwise), unless the docs are public; its script is
    served as a file (no inline script under the Content-Security-Policy)."""

    def dispatch(self, request, *args, **kwargs):
        if not docs_public() and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return super().dispatch(request, *args, **kwargs)


class CachedSchemaView(SpectacularAPIView):
    """The OpenAPI schema, generated once per language and version under a lock, then served from memory.

    drf-spectacular builds the schema on every request and its generator is not safe to run in several threads at
    once (500s on the first concurrent requests under gunicorn threads)."""

    _cache: dict = {}
    _lock = threading.Lock()

    def get_permissions(self):
        return [AllowAny()] if docs_public() else [IsAuthenticated()]

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        language = translation.get_language()
        key = (version, language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE)
        with self._lock:
            schema = self._cache.get(key)
            if schema is None:
                generator = self.generator_class(urlconf=self.urlconf, api_version=version, patterns=self.patterns)
                schema = self._cache[key] = generator.get_schema(request=request, public=self.serve_public)
        return Response(data=schema, headers={
            "Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'})



# -- OpenAPI: every operation documents the error bodies it can answer ----------------------------------------------

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of /api/v1: a stable code, a sentence for people and field-level messages "
                   "(nested fields named with dots).",
    "properties": {
        "code": {"type": "string", "description": "A stable code for machines (invalid, not_authenticated, "
                                                  "permission_denied, not_found, conflict, throttled, ...)."},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                   "description": "Messages by field; empty when the error is about the request as a whole."},
    },
    "required": ["code", "detail", "errors"],
}

ERROR_DESCRIPTIONS = {
    400: "Invalid input: field-level messages in `errors`.",
    401: "Not signed in, or the token is expired or revoked.",
    403: "Signed in, but not allowed (role, relation to the case, multi-factor sign-in, token scope).",
    404: "No such object, or not one the caller may see.",
    409: "Valid, but the object's state forbids it (now: a later state, or another request, may allow it).",
    413: "The request body is too large.",
    415: "The request's content type is not accepted.",
    429: "Too many requests: wait for Retry-After seconds.",
}
UNSAFE = ("post", "put", "patch", "delete")
OPERATIONS = ("get", *UNSAFE)


def error_codes(method: str, operation: dict) -> list[int]:
    """The error statuses an /api/v1 operation can answer, from what it takes and who may call it."""
    params = operation.get("parameters") or []
    signed_in = {} not in (operation.get("security") or [{}])
    codes = {403, 429}
    if signed_in:
        codes.add(401)
    if method in UNSAFE or operation.get("requestBody") or any(p.get("in") == "query" for p in params):
        codes.add(400)
    if any(p.get("in") == "path" for p in params):
        codes.update((404, 409))  # an object whose state forbids it (slots of a case not yet delivered, say)
    if method in UNSAFE:
        codes.add(409)
    if operation.get("requestBody"):
        codes.update((413, 415))
    return sorted(codes)


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: an `Error` component and, on every /api/v1 operation, the error
    statuses it can answer with that body (a status a view already documents keeps its own description)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            if method not in OPERATIONS:
                continue
            responses = operation.setdefault("responses", {})
            for code in error_codes(method, operation):
                response = responses.setdefault(str(code), {"description": ERROR_DESCRIPTIONS[code]})
                response.setdefault("content", body)
    return result
