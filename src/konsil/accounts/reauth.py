"""Confirming who signs: an electronic signature asks again, inside a signed-in session, for something only the
signer has (21 CFR 11.200(a)): their password, or a current code from their authenticator app. Wrong passwords
count towards django-axes' lockout like a failed sign-in; wrong codes towards the device's throttle."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_totp.models import TOTPDevice

from konsil.audit.models import Outcome
from konsil.audit.services import emit
from konsil.core.errors import ValidationFailed

FIELD = "signing_secret"


class SignatureForm(forms.Form):
    """The field a signing form adds (rendered with the design system's field partial)."""

    signing_secret = forms.CharField(
        label=gettext_lazy("Your password or a code from your authenticator app"), required=True, max_length=256,
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=gettext_lazy("Signing is your electronic signature: confirm that it is you."))


def _code_matches(user, code: str) -> bool:
    if not (code.isdigit() and 6 <= len(code) <= 8):
        return False
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if device.verify_is_allowed()[0] and device.verify_token(code):
            return True
    return False


def confirm_signer(request, secret, *, what: str) -> None:
    """Raise a field error on FIELD unless `secret` is the signed-in user's password or a current TOTP code; a
    refusal is audited (`what`: the object about to be signed, e.g. "opinion")."""
    user = request.user
    secret = str(secret or "")
    if not secret.strip():
        raise ValidationFailed(_("Enter your password or a code from your authenticator app to sign."),
                               field=FIELD, code="reauth_required")
    if _code_matches(user, secret.strip().replace(" ", "")):
        return
    checked = authenticate(request, email=user.email, password=secret)
    if checked is not None and checked.pk == user.pk:
        return
    emit(actor=user, action="signature.reauth", object_type=what, outcome=Outcome.DENIED)
    raise ValidationFailed(_("That is neither your password nor a current code from your authenticator app."),
                           field=FIELD, code="reauth_failed")
