"""Pages: patient sign-up and e-mail verification, password reset (Django's views, Konsil's templates, throttled),
invitations for caregivers and referring clinicians, and the welcome page of a new patient."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from konsil.core.errors import DomainError

from . import links, onboarding
from .roles import Role
from .signup_forms import (
    AcceptInvitationForm,
    CaregiverInvitationForm,
    ClinicianInvitationForm,
    KonsilPasswordResetForm,
    SignupForm,
)
from .views import next_param

SIGNUP_LIMIT = 5  # per hour, per client address and per address typed
RESET_LIMIT = 5
ACCEPT_LIMIT = 20


def _base_url(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _throttled(request, template: str, form, status: int = 429):
    form.add_error(None, _("Too many attempts. Please wait an hour and try again."))
    return render(request, template, {"form": form}, status=status)


def _put(form, exc: DomainError) -> None:
    for name, messages_ in exc.as_dict()["errors"].items():
        for message in messages_:
            form.add_error(name if name in form.fields else None, message)
    if not form.errors:
        form.add_error(None, str(exc.message))


@sensitive_post_parameters("password1", "password2")
@never_cache
def signup(request):
    """A patient creates an account; the same answer whether or not the address already has one."""
    if request.user.is_authenticated:
        return redirect(next_param(request) or "accounts:welcome")
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        try:
            onboarding.throttle("signup", onboarding.client_address(request), limit=SIGNUP_LIMIT)
        except onboarding.Throttled:
            return _throttled(request, "accounts/signup.html", form)
        if form.is_valid():
            data = form.cleaned_data
            try:
                onboarding.throttle("signup-email", data["email"], limit=SIGNUP_LIMIT)
                onboarding.register_patient(email=data["email"], password=data["password1"],
                                            language=data["language"], base_url=_base_url(request),
                                            next_url=next_param(request))
            except onboarding.Throttled:
                pass  # answered like a success: the address's owner already has mail from us
            except DomainError as exc:
                _put(form, exc)
                return render(request, "accounts/signup.html", {"form": form, "next": next_param(request)},
                              status=400)
            sent = reverse("accounts:signup_sent")
            target = next_param(request)  # where they were going (a program's page): kept for "Go to sign in"
            return redirect(f"{sent}?{urlencode({'next': target})}" if target else sent)
        return render(request, "accounts/signup.html", {"form": form, "next": next_param(request)}, status=400)
    return render(request, "accounts/signup.html", {"form": form, "next": next_param(request)})


def signup_sent(request):
    return render(request, "accounts/signup_sent.html", {"next": next_param(request)})


@login_required
def welcome(request):
    """Where a new patient lands: what happens next, and the button to start a case."""
    return render(request, "accounts/signup_welcome.html", {
        "is_patient": request.user.has_role(Role.PATIENT, Role.CAREGIVER),
        "has_cases": request.user.requested_cases.exists(),
    })


# --- password reset: Django's views, throttled, never telling whether the address is known ---------------------

@method_decorator(never_cache, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    form_class = KonsilPasswordResetForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def post(self, request, *args, **kwargs):
        try:
            onboarding.throttle("reset", onboarding.client_address(request), limit=RESET_LIMIT)
            onboarding.throttle("reset-email", str(request.POST.get("email", ""))[:254], limit=RESET_LIMIT)
        except onboarding.Throttled:
            return redirect(self.success_url)  # the same answer: nothing is sent
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        from konsil.audit.services import emit

        emit(actor="anonymous", action="account.password_reset_request")
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- invitations -----------------------------------------------------------------------------------------------

@login_required
def invitations(request):
    """A patient invites a caregiver; a coordinator invites a referring clinician. Lists what they sent."""
    from konsil.cases.models import Invitation

    user = request.user
    kind = (Invitation.Kind.CLINICIAN if user.has_role(Role.COORDINATOR)
            else Invitation.Kind.CAREGIVER if user.has_role(Role.PATIENT) else None)
    if kind is None:
        raise DjangoPermissionDenied(_("You do not have permission to do this."))
    form_class = ClinicianInvitationForm if kind == Invitation.Kind.CLINICIAN else CaregiverInvitationForm
    form = form_class(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                onboarding.throttle("invite", str(user.pk), limit=SIGNUP_LIMIT * 4)
                onboarding.invite(actor=user, kind=kind, base_url=_base_url(request), **form.cleaned_data)
            except onboarding.Throttled:
                form.add_error(None, _("Too many attempts. Please wait an hour and try again."))
                status = 429
            except DomainError as exc:
                _put(form, exc)
                status = exc.status
            else:
                messages.success(request, _("The invitation was sent."))
                return redirect("accounts:invitations")
        else:
            status = 400
    sent = Invitation.objects.filter(invited_by=user).order_by("-created_at")[:50]
    return render(request, "accounts/invitations.html", {"form": form, "kind": kind, "sent": sent,
                                                         "now": timezone.now()}, status=status)


@login_required
@require_POST
def invitation_revoke(request, pk):
    from konsil.cases.models import Invitation

    invitation = Invitation.objects.filter(pk=pk, invited_by=request.user).first()
    if invitation is None:
        raise DjangoPermissionDenied(_("You do not have permission to do this."))
    try:
        onboarding.revoke_invitation(actor=request.user, invitation=invitation)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The invitation was revoked."))
    return redirect("accounts:invitations")


@sensitive_post_parameters("password1", "password2")
@never_cache
def invitation_accept(request):
    """After an invitation's link (accounts.links): sign in (same address) or create the account, then join."""
    from konsil.cases.models import Invitation

    try:
        onboarding.throttle("accept", onboarding.client_address(request), limit=ACCEPT_LIMIT)
        invitation = onboarding.invitation_for(links.invitation_token(request))
    except onboarding.Throttled:
        return render(request, "accounts/invitation_invalid.html", status=429)
    except DomainError:
        return render(request, "accounts/invitation_invalid.html", status=400)
    user = request.user if request.user.is_authenticated else None
    clinician = invitation.kind == Invitation.Kind.CLINICIAN
    form = AcceptInvitationForm(request.POST if request.method == "POST" else None, clinician=clinician,
                                new_account=user is None, email=invitation.email)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                onboarding.accept_invitation(
                    invitation=invitation, user=user, password=data.get("password1", ""),
                    npi=data.get("npi", ""), given_name=data.get("given_name", ""),
                    family_name=data.get("family_name", ""))
            except DomainError as exc:
                _put(form, exc)
                status = exc.status
            else:
                links.forget_invitation(request)
                messages.success(request, _("Welcome to Konsil. You have joined."))
                if user is None:
                    return redirect(f"{reverse('accounts:login')}?{urlencode({'next': reverse('home')})}")
                return redirect("home")
        else:
            status = 400
    return render(request, "accounts/invitation_accept.html", {
        "form": form, "invitation": invitation, "clinician": clinician, "signed_in": user is not None,
    }, status=status)
