"""Sign-in, second-factor and admin user forms."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import User

CODE_RE = re.compile(r"^\d{6}$")


class LoginForm(forms.Form):
    """Email and password; authentication happens in the view (it needs the request for throttling)."""

    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TOTPCodeForm(forms.Form):
    """A 6-digit code from an authenticator app, checked against `device`."""

    code = forms.CharField(
        label=_("6-digit code"),
        max_length=12,
        help_text=_("Open your authenticator app and type the code it shows for Konsil."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "size": 8}
        ),
    )

    def __init__(self, *args, device, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_code(self) -> str:
        code = re.sub(r"\s+", "", self.cleaned_data["code"])
        if not CODE_RE.match(code):
            raise forms.ValidationError(
                _("Enter the 6 digits shown in your authenticator app."), code="format"
            )
        allowed, _info = self.device.verify_is_allowed()
        if not allowed:
            raise forms.ValidationError(
                _("Too many wrong codes. Wait a few seconds, then try the newest code."), code="throttled"
            )
        if not self.device.verify_token(code):
            raise forms.ValidationError(
                _("That code is not valid. Use the newest code and check that your phone's clock is right."),
                code="invalid",
            )
        return code


def _email_taken(email: str, exclude_pk=None) -> bool:
    users = User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email))
    if exclude_pk is not None:
        users = users.exclude(pk=exclude_pk)
    return users.exists()


def _language_field() -> forms.ChoiceField:
    return forms.ChoiceField(label=_("preferred language"), choices=settings.LANGUAGES, initial="en")


class AdminUserAddForm(AdminUserCreationForm):
    """Create a user from an email address (the username mirrors it)."""

    preferred_language = _language_field()

    class Meta:
        model = User
        fields = ("email", "first_name", "last_name", "preferred_language")

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if _email_taken(email):
            raise forms.ValidationError(_("A user with this email already exists."), code="unique")
        return email

    def save(self, commit=True):
        self.instance.username = self.cleaned_data["email"]
        return super().save(commit=commit)


class AdminUserChangeForm(UserChangeForm):
    """Edit a user; the username follows the email."""

    preferred_language = _language_field()

    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if _email_taken(email, exclude_pk=self.instance.pk):
            raise forms.ValidationError(_("A user with this email already exists."), code="unique")
        return email

    def save(self, commit=True):
        self.instance.username = self.cleaned_data.get("email") or self.instance.username
        return super().save(commit=commit)
