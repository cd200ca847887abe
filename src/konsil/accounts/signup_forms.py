"""Forms of sign-up, password reset and invitations. They parse and render; `onboarding` holds the rules."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm
from django.utils.translation import gettext_lazy as _

from konsil.core.context import reader_language


class _PasswordPair(forms.Form):
    password1 = forms.CharField(label=_("Password"), strip=False, max_length=4096,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text=_("At least 10 characters; not a common password."))
    password2 = forms.CharField(label=_("Password again"), strip=False, max_length=4096,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def email_for_validation(self) -> str:
        return self.cleaned_data.get("email", "")

    def clean(self):
        data = super().clean()
        one, two = data.get("password1"), data.get("password2")
        if one and two and one != two:
            self.add_error("password2", _("The two passwords differ."))
        elif one:
            from .models import User

            try:
                password_validation.validate_password(one, User(email=self.email_for_validation()))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class SignupForm(_PasswordPair):
    """A patient's own account: e-mail, password, language. Names and details come with the first case."""

    field_order = ["email", "password1", "password2", "language", "agree"]
    email = forms.EmailField(label=_("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    language = forms.ChoiceField(label=_("Preferred language"), choices=settings.LANGUAGES, initial="en")
    agree = forms.BooleanField(label=_("I agree that Konsil stores my details to handle my request."),
                               error_messages={"required": _("Agree to continue.")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        active = reader_language()  # the language the page is read in
        if active in dict(settings.LANGUAGES):
            self.fields["language"].initial = active


class KonsilPasswordResetForm(PasswordResetForm):
    email = forms.EmailField(label=_("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def get_users(self, email):
        """Active accounts with this address, those without a password too: a specialist imported into the
        directory has none until they set one here (Django's form skips them, so nothing was ever sent)."""
        from django.contrib.auth import get_user_model

        model = get_user_model()
        field = model.get_email_field_name()
        found = model._default_manager.filter(**{f"{field}__iexact": email, "is_active": True})
        return (user for user in found if _same_address(email, getattr(user, field)))


class CaregiverInvitationForm(forms.Form):
    email = forms.EmailField(label=_("Their email"), max_length=254)
    relationship = forms.ChoiceField(label=_("They are my"), choices=[
        ("parent", _("Parent")), ("child", _("Son or daughter")), ("spouse", _("Spouse or partner")),
        ("guardian", _("Legal guardian")), ("representative", _("Personal representative")),
        ("other", _("Other"))])


class ClinicianInvitationForm(forms.Form):
    email = forms.EmailField(label=_("Clinician's email"), max_length=254)


class AcceptInvitationForm(_PasswordPair):
    """A new account for the invited address; clinicians add their name and NPI."""

    def __init__(self, *args, clinician: bool, new_account: bool, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.invited_email = email
        if clinician:
            self.fields["given_name"] = forms.CharField(label=_("Given name"), max_length=100,
                                                        required=new_account)
            self.fields["family_name"] = forms.CharField(label=_("Family name"), max_length=100,
                                                         required=new_account)
            self.fields["npi"] = forms.CharField(
                label=_("NPI"), max_length=10, min_length=10,
                help_text=_("Your 10-digit National Provider Identifier."),
                widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
        if not new_account:
            del self.fields["password1"]
            del self.fields["password2"]

    def email_for_validation(self) -> str:
        return self.invited_email


def _same_address(a: str, b: str) -> bool:
    """As Django's reset form compares addresses (Unicode case folding after NFKC)."""
    import unicodedata

    return unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()
