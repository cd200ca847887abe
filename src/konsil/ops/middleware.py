"""An engine briefly away (the database restarting, S3 or Redis down): 503 with Retry-After, never a 500.

Django turns an exception in any layer into a 500 response before outer middleware sees it; the
`got_request_exception` signal marks the request when that exception was a transient one, and this middleware
(placed near the top) answers 503 instead: JSON for the APIs, a short page for people. The failed request's
transaction was rolled back (ATOMIC work is all or nothing), so nothing is half-written; the next request opens a
fresh database connection, so the app recovers without a restart.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .transient import is_transient

API_PREFIXES = ("/api/", "/fhir/", "/dicomweb/")


@receiver(got_request_exception)
def _mark_transient(sender, request=None, **kwargs) -> None:
    exc = sys.exc_info()[1]
    if request is not None and exc is not None and is_transient(exc):
        request.konsil_unavailable = type(exc).__name__


def unavailable_response(request) -> HttpResponse:
    retry_after = settings.KONSIL_RETRY_AFTER_SECONDS
    message = _("A service Konsil depends on is briefly unavailable. Nothing was saved; try again shortly.")
    if request.path.startswith(API_PREFIXES) or "json" in request.headers.get("Accept", ""):
        response = JsonResponse({"code": "unavailable", "detail": message, "retry_after": retry_after}, status=503)
    else:
        context = {"retry_after": retry_after, "brand": settings.KONSIL_BRAND_NAME, "LANGUAGE_CODE": get_language()}
        body = render_to_string("ops/unavailable.html", context)
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


class UnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, "konsil_unavailable", None):
            return unavailable_response(request)
        return response

    def process_exception(self, request, exception):
        if is_transient(exception):
            return unavailable_response(request)
        return None
