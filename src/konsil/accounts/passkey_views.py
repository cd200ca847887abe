"""Passkey pages and their JSON steps (the browser's side is konsil/accounts/passkeys.js)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from konsil.core.errors import DomainError

from . import passkeys
from .views import safe_next

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _error(exc: DomainError) -> JsonResponse:
    return JsonResponse(exc.as_dict(), status=exc.status)


def _options(text: str) -> HttpResponse:
    return HttpResponse(text, content_type="application/json")


@never_cache
@login_required
def page(request):
    """The person's passkeys: add (through the script), rename, remove."""
    user = request.user
    if not passkeys.may_manage(request, user):
        return redirect_to_login(request.get_full_path(), reverse("accounts:mfa"))
    status = 200
    if request.method == "POST":
        passkey = passkeys.passkeys_of(user).filter(pk=_int(request.POST.get("passkey"))).first()
        action = request.POST.get("action", "")
        if passkey is None or action not in ("rename", "remove"):
            messages.error(request, _("That passkey was not found."))
            return redirect("accounts:passkeys")
        try:
            if action == "rename":
                passkeys.rename(actor=user, passkey=passkey, name=request.POST.get("name", ""))
                messages.success(request, _("The passkey was renamed."))
            else:
                passkeys.remove(actor=user, passkey=passkey)
                messages.success(request, _("The passkey was removed."))
            return redirect("accounts:passkeys")
        except DomainError as exc:
            messages.error(request, str(exc.message))
            status = exc.status
    return render(request, "accounts/passkeys.html", {"passkeys": passkeys.passkeys_of(user)}, status=status)


def _int(value) -> int | None:
    return int(value) if str(value or "").isdigit() and len(str(value)) < 12 else None


@never_cache
@require_POST
def register_options(request):
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("Sign in first.")}, status=401)
    try:
        return _options(passkeys.registration_options(request, request.user))
    except DomainError as exc:
        return _error(exc)


@never_cache
@require_POST
def register(request):
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("Sign in first.")}, status=401)
    from . import mfa

    try:
        data = passkeys.parse(request.body)
        passkey = passkeys.register(request, request.user, credential=data.get("credential"), name=data.get("name"))
    except DomainError as exc:
        return _error(exc)
    if not request.user.is_verified():  # the first factor of an enrolment the e-mailed code proved
        otp_login(request, passkey)
        mfa.finish_enrolment(request)
    return JsonResponse({"id": passkey.pk, "name": passkey.name}, status=201)


@never_cache
@require_POST
def authenticate_options(request):
    """For the second factor of the signed-in person, or for a passwordless sign-in."""
    user = request.user if request.user.is_authenticated else None
    try:
        return _options(passkeys.authentication_options(request, user))
    except DomainError as exc:
        return _error(exc)


@never_cache
@require_POST
def authenticate(request):
    from .onboarding import Throttled, client_address, throttle

    try:
        throttle("passkey", client_address(request), limit=30)
        data = passkeys.parse(request.body)
        passkey = passkeys.authenticate(request, credential=data.get("credential"))
    except Throttled:
        return JsonResponse({"detail": _("Too many attempts. Please wait an hour and try again.")}, status=429)
    except DomainError as exc:
        return _error(exc)
    if not request.user.is_authenticated:
        auth_login(request, passkey.user, backend=BACKEND)  # passwordless: the passkey verified the person
    otp_login(request, passkey)
    return JsonResponse({"redirect": safe_next(request)})
