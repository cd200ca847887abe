"""API glue: domain errors become JSON with field-level messages; nothing a client sends yields a 500."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from .errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"code": "invalid", "detail": "Invalid input.", "errors": errors}, status=400)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    response = drf_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, drf.ValidationError):
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        response.data = {"code": "invalid", "detail": "Invalid input.", "errors": errors}
    elif isinstance(data, dict) and "detail" in data:
        response.data = {"code": getattr(data["detail"], "code", "error"), "detail": str(data["detail"]),
                         "errors": {}}
    return response
