"""The owner's API tokens page: list, create (the secret shown once), revoke, sign out everywhere."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from . import tokens


@login_required
@never_cache
def tokens_page(request):
    user, new_secret, errors, status = request.user, None, {}, 200
    if user.requires_mfa and not user.is_verified():  # /accounts/ is outside the MFA middleware: check here
        return redirect_to_login(request.get_full_path(), reverse("accounts:mfa"))
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "create":
            name = request.POST.get("name", "").strip()[:100]
            scopes = [s for s in request.POST.getlist("scopes") if s in ("read", "write")] or ["read"]
            try:
                days = int(request.POST.get("days") or settings.KONSIL_API_TOKEN_DAYS)
            except ValueError:
                days = 0
            if not 1 <= days <= settings.KONSIL_API_TOKEN_MAX_DAYS:
                errors["days"] = _("Between 1 and %(n)d days.") % {"n": settings.KONSIL_API_TOKEN_MAX_DAYS}
                status = 400
            else:
                _token, new_secret = tokens.issue(user=user, name=name, scopes=scopes, days=days)
        elif action == "revoke":
            token = tokens.tokens_of(user).filter(pk=request.POST.get("token") or None).first() \
                if _is_uuid(request.POST.get("token", "")) else None
            if token is None:
                messages.error(request, _("That token was not found."))
                return redirect("accounts:tokens")
            tokens.revoke(actor=user, token=token)
            messages.success(request, _("The token was revoked."))
            return redirect("accounts:tokens")
        elif action == "logout_all":
            tokens.end_everything(user=user, reason="logout_all")
            auth_logout(request)
            messages.info(request, _("You have signed out everywhere."))
            return redirect(settings.LOGOUT_REDIRECT_URL)
        else:
            status = 400
    context = {"tokens": tokens.tokens_of(user), "new_secret": new_secret, "errors": errors,
               "default_days": settings.KONSIL_API_TOKEN_DAYS, "max_days": settings.KONSIL_API_TOKEN_MAX_DAYS}
    return render(request, "accounts/tokens.html", context, status=status)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
