"""Sign-in with email and password (throttled by django-axes), the TOTP second factor, sign-out."""

from __future__ import annotations

import math
from base64 import b32encode

import qrcode
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from qrcode.image.svg import SvgPathImage

from konsil.audit.models import Outcome
from konsil.audit.services import emit

from .forms import LoginForm, TOTPCodeForm
from .models import Passkey, User

ANONYMOUS = "anonymous"


def next_param(request) -> str:
    """The ?next= (or posted next) target when it stays on this site, else ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def safe_next(request) -> str:
    """Where to go after signing in: a safe ?next= or the home page."""
    return next_param(request) or resolve_url(settings.LOGIN_REDIRECT_URL)


def lockout_message(request) -> str:
    """A translated explanation for a throttled sign-in."""
    cool_off = get_cool_off(request)
    if not cool_off:
        return _("Too many failed sign-in attempts. Ask your administrator to unlock your account.")
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60))
    return ngettext(
        "Too many failed sign-in attempts. Try again in %(minutes)d minute.",
        "Too many failed sign-in attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def _login_page(request, form, *, locked_out: str = "", status: int = 200):
    context = {"form": form, "next": next_param(request), "locked_out": locked_out}
    return render(request, "accounts/login.html", context, status=status)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: a translated page (or JSON for the API) instead of axes' plain text."""
    if getattr(original_response, "konsil_lockout", False):
        return original_response
    message = lockout_message(request)
    if request.path.startswith("/api/") or request.headers.get("x-requested-with") == "XMLHttpRequest":
        return JsonResponse({"code": "locked_out", "detail": message, "errors": {}}, status=429)
    return _lockout_page(request)


def _lockout_page(request):
    response = _login_page(request, LoginForm(), locked_out=lockout_message(request), status=429)
    response.konsil_lockout = True  # lockout_response passes it through unchanged
    return response


@sensitive_post_parameters("password")
@never_cache
def login_view(request):
    """Email + password. Users of clinical and admin roles continue to the second factor."""
    form = LoginForm(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid():
        return _login_page(request, form)
    user = authenticate(request, email=form.cleaned_data["email"], password=form.cleaned_data["password"])
    if getattr(request, "axes_locked_out", False):
        detail = {"reason": "locked_out"}
        emit(actor=ANONYMOUS, action="auth.login_failed", outcome=Outcome.DENIED, detail=detail)
        return _lockout_page(request)
    if user is None:
        emit(actor=ANONYMOUS, action="auth.login_failed", outcome=Outcome.FAILURE)
        form.add_error(None, _("The email or the password is not correct."))
        return _login_page(request, form)
    auth_login(request, user)
    emit(actor=user, action="auth.login")
    next_url = safe_next(request)
    if user.requires_mfa:
        return redirect(f"{reverse('accounts:mfa')}?{urlencode({'next': next_url})}")
    return redirect(next_url)


@require_POST
def logout_view(request):
    """Sign out (POST only, CSRF-protected) and return to the sign-in page."""
    if request.user.is_authenticated:
        emit(actor=request.user, action="auth.logout")
    auth_logout(request)
    messages.info(request, _("You have signed out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


def _qr_svg(url: str) -> str:
    """The otpauth:// URL as an inline SVG QR code, drawn on the server."""
    svg = qrcode.make(url, image_factory=SvgPathImage, box_size=10, border=2).to_string(encoding="unicode")
    label = escape(_("QR code for your authenticator app"))
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" class="qr" ', 1)


def _enrollment_device(user) -> TOTPDevice:
    """The user's pending (unconfirmed) device, created once so the QR code stays the same on reload."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    return device or TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)


@login_required
@never_cache
def mfa_view(request):
    """Second factor: enroll an authenticator app (after proving the account by an e-mailed code), then verify a
    code (or spend a recovery code) at each sign-in."""
    from . import mfa

    user = request.user
    next_url = safe_next(request)
    if user.is_verified():
        return redirect(next_url)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()
    passkey = Passkey.objects.filter(user=user, confirmed=True).order_by("created_at").first()
    enrolling = device is None and passkey is None
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if enrolling and settings.KONSIL_MFA_ENROL_PROOF and not mfa.enrolment_proven(request, user):
        return _mfa_prove(request, user, action)
    if not enrolling and action == "recovery":
        if mfa.use_recovery_code(user, request.POST.get("recovery_code", "")):
            otp_login(request, device or passkey)
            emit(actor=user, action="auth.mfa_verified", obj=device, detail={"by": "recovery_code"})
            left = user.recovery_codes.filter(used_at__isnull=True).count()
            messages.warning(request, ngettext("Recovery code accepted. %(n)d code left.",
                                               "Recovery code accepted. %(n)d codes left.", left) % {"n": left})
            return redirect(next_url)
        context = {"form": TOTPCodeForm(device=device) if device else None, "enrolling": False,
                   "next": next_param(request), "has_passkey": passkey is not None,
                   "recovery_error": _("That recovery code is not valid or was used already.")}
        return render(request, "accounts/mfa.html", context, status=400)
    if device is None and passkey is not None:  # passkeys only: the page offers them and the recovery codes
        return render(request, "accounts/mfa.html", {"form": None, "enrolling": False, "has_passkey": True,
                                                     "next": next_param(request)})
    if enrolling:
        device = _enrollment_device(user)
    form = TOTPCodeForm(request.POST if request.method == "POST" else None, device=device)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            if enrolling:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                emit(actor=user, action="auth.mfa_enrolled", obj=device)
                mfa.finish_enrolment(request)
            otp_login(request, device)
            emit(actor=user, action="auth.mfa_verified", obj=device)
            return redirect(next_url)
        emit(actor=user, action="auth.mfa_failed", obj=device, outcome=Outcome.FAILURE)
        status = 400
    context = {"form": form, "enrolling": enrolling, "next": next_param(request), "has_passkey": passkey is not None}
    if enrolling:
        context["secret"] = b32encode(device.bin_key).decode()
        context["qr_svg"] = mark_safe(_qr_svg(device.config_url))  # noqa: S308 - SVG drawn by qrcode, no user text
    return render(request, "accounts/mfa.html", context, status=status)


def _mfa_prove(request, user, action: str):
    """Before any authenticator is enrolled: a code e-mailed to the account, typed back."""
    from . import mfa

    error, status = "", 200
    if action == "send":
        mfa.send_enrolment_code(request, user)
        messages.info(request, _("We e-mailed a code to %(email)s.") % {"email": user.email})
        target = reverse("accounts:mfa") + (f"?{urlencode({'next': next_param(request)})}"
                                            if next_param(request) else "")
        return redirect(target)
    if action == "prove":
        error = mfa.check_enrolment_code(request, user, request.POST.get("email_code", ""))
        if not error:
            target = reverse("accounts:mfa") + (f"?{urlencode({'next': next_param(request)})}"
                                                if next_param(request) else "")
            return redirect(target)
        status = 400
    context = {"proving": True, "code_pending": mfa.code_pending(request, user), "email": user.email,
               "prove_error": error, "next": next_param(request)}
    return render(request, "accounts/mfa_prove.html", context, status=status)


@login_required
@never_cache
def mfa_recovery_codes(request):
    """New recovery codes for a verified user (POST); shown once."""
    from . import mfa

    if not request.user.is_verified():
        return redirect(reverse("accounts:mfa"))
    codes = mfa.new_recovery_codes(request.user) if request.method == "POST" else None
    return render(request, "accounts/mfa_recovery.html", {"codes": codes})


@require_POST
def set_language(request):
    """Django's language switch, which also keeps the choice as a signed-in user's preferred language: the
    e-mails they are sent are written in it."""
    from django.views.i18n import set_language as switch

    response = switch(request)
    code = request.POST.get("language", "")
    user = request.user
    if user.is_authenticated and code in dict(settings.LANGUAGES) and code != user.preferred_language:
        User.objects.filter(pk=user.pk).update(preferred_language=code)
    return response
