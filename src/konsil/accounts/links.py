"""Single-use links without their secret in a logged URL.

An e-mailed link reads ``https://host/accounts/link/#<kind>.<secret>``: browsers never send the fragment, so no
access log, proxy or Referer sees it. The landing page's static script (konsil/link.js) reads the fragment, wipes
it from the address bar and history, and POSTs it; without JavaScript the person pastes it into the same form.
The server checks the secret and keeps what the next step needs in the (server-side) session: the password form
and the invitation page then live at plain URLs.

Kinds: ``verify.<uid>.<token>`` (e-mail verification), ``reset.<uid>.<token>`` (password reset),
``invite.<signed invitation id>``.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.encoding import force_str
from django.utils.http import urlencode, urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from konsil.audit.services import emit
from konsil.core.errors import DomainError

from . import onboarding
from .models import User
from .views import next_param

RESET_KEY = "konsil_link_reset"
INVITE_KEY = "konsil_link_invite"
MAX_LINK = 600
KINDS = ("verify", "reset", "invite")  # onboarding.fragment_link writes them


class LinkForm(forms.Form):
    link = forms.CharField(label=gettext_lazy("Your link"), max_length=MAX_LINK, help_text=gettext_lazy(
        "Opening the link from the e-mail fills this in. If it stays empty, paste the whole link here."))


def _landing(request, *, error: str = "", status: int = 200):
    form = LinkForm(request.POST if error else None)
    if error:
        form.is_valid()
        form.add_error("link", error)
    return render(request, "accounts/link.html", {"form": form}, status=status)


@sensitive_variables("link", "secret", "uid", "token")
@sensitive_post_parameters("link")
@never_cache
def link(request):
    """GET: the page the e-mailed link opens. POST: the fragment, checked; on to the next step."""
    if request.method != "POST":
        return _landing(request)
    link = str(request.POST.get("link", "")).strip()[:MAX_LINK]
    link = link.partition("#")[2] if "#" in link else link  # the whole pasted link, or just its fragment
    kind, _sep, secret = link.partition(".")
    if kind not in KINDS or not secret:
        return _landing(request, error=_("Paste the whole link from the e-mail, including the part after #."),
                        status=400)
    try:
        onboarding.throttle("link", onboarding.client_address(request), limit=20)
    except onboarding.Throttled:
        return render(request, "accounts/signup_invalid.html", status=429)
    if kind == "verify":
        uid, _sep, token = secret.partition(".")
        try:
            onboarding.verify_email(uidb64=uid, token=token)
        except DomainError:
            return render(request, "accounts/signup_invalid.html", status=400)
        messages.success(request, _("Your email address is confirmed. Sign in to start your case."))
        after = next_param(request) or reverse("accounts:welcome")  # the page the person signed up from, if any
        return redirect(f"{reverse('accounts:login')}?{urlencode({'next': after})}")
    if kind == "reset":
        uid, _sep, token = secret.partition(".")
        if _reset_user(uid, token) is None:
            return render(request, "accounts/password_reset_confirm.html", {"validlink": False}, status=400)
        request.session[RESET_KEY] = {"uid": uid, "token": token}
        return redirect("accounts:password_reset_confirm")
    try:
        onboarding.invitation_for(secret)
    except DomainError:
        return render(request, "accounts/invitation_invalid.html", status=400)
    request.session[INVITE_KEY] = secret
    return redirect("accounts:invitation_accept")


def _reset_user(uid: str, token: str) -> User | None:
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uid)))
    except Exception:  # noqa: BLE001 - a malformed or unknown id reads as an invalid link
        return None
    return user if user.is_active and default_token_generator.check_token(user, token) else None


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
def password_reset_confirm(request):
    """Choose a new password, for the account a checked reset link named (kept in the session, not the URL)."""
    state = request.session.get(RESET_KEY) or {}
    user = _reset_user(state.get("uid", ""), state.get("token", ""))
    if user is None:
        request.session.pop(RESET_KEY, None)
        return render(request, "accounts/password_reset_confirm.html", {"validlink": False}, status=400)
    form = SetPasswordForm(user, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            form.save()  # the token stops working: it is bound to the password hash
            request.session.pop(RESET_KEY, None)
            emit(actor=user, action="account.password_reset", obj=user)
            return redirect("accounts:password_reset_complete")
        return render(request, "accounts/password_reset_confirm.html", {"validlink": True, "form": form}, status=400)
    return render(request, "accounts/password_reset_confirm.html", {"validlink": True, "form": form})


def invitation_token(request) -> str:
    """The checked invitation secret this browser brought (empty when none)."""
    return str(request.session.get(INVITE_KEY, ""))


def forget_invitation(request) -> None:
    request.session.pop(INVITE_KEY, None)
