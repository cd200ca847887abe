"""Every clinical and admin role must pass a TOTP second factor before using the app."""

import threading
from contextlib import suppress

from django.db import models
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp import device_classes
from django_otp.middleware import OTPMiddleware

from konsil.core.prepared import Prepared

EXEMPT_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/shared/", "/verify/", "/healthz")


class MFARequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.requires_mfa
            and not user.is_verified()
            and not request.path.startswith(EXEMPT_PREFIXES)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"code": "mfa_required", "detail": _("Complete two-factor sign-in first."), "errors": {}},
                    status=403,
                )
            return redirect(f"{reverse('accounts:mfa')}?next={request.get_full_path()}")
        return self.get_response(request)


_device_reads: dict[str, Prepared] | None = None
_device_reads_lock = threading.Lock()


def _device_read(label: str) -> Prepared | None:
    """The prepared read of one installed device model ("app_label.model_name"), or None for another label."""
    global _device_reads
    if _device_reads is None:
        with _device_reads_lock:
            if _device_reads is None:
                _device_reads = {model._meta.label_lower: Prepared(
                    model, lambda pk, model=model: model.objects.filter(id=pk), pk=models.IntegerField())
                    for model in device_classes()}
    return _device_reads.get(label.lower())


class PreparedOTPMiddleware(OTPMiddleware):
    """django_otp's middleware with the session's second-factor device read prepared (core.prepared): every request
    of a signed-in user reads it. An id that names no installed device model, or no device, is no device (django_otp
    itself fails on a model that is not a device)."""

    def _device_from_persistent_id(self, persistent_id: str):
        persistent_id = self._normalize_persistent_id(persistent_id)
        label, _slash, device_id = persistent_id.rpartition("/")
        read = _device_read(label)
        if read is None:
            return None
        with suppress(ValueError):
            pk = int(device_id)
            return read.first(pk=pk) if 0 < pk < 2**63 else None
        return None
