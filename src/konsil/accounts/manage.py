"""Konsil's own admin pages for organization admins: the people of their organizations, their roles
(memberships), and pending invitations when the invitations feature is installed. Django's raw admin is kept for
superusers only. Every read of the list and every change is audited."""

from __future__ import annotations

from django import forms
from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from konsil.audit.services import emit
from konsil.core import authz

from .models import Membership, Organization, User
from .roles import Role


@authz.rule("accounts.manage")
def can_manage(user, _obj=None) -> bool:
    return user.has_role(Role.ORG_ADMIN)


def managed_organizations(user):
    """The organizations this admin administers."""
    return Organization.objects.filter(
        memberships__user=user, memberships__role=Role.ORG_ADMIN, memberships__active=True
    ).distinct().order_by("name")


def _require(user):
    if not authz.can("accounts.manage", user):
        raise DjangoPermissionDenied(_("You do not have permission to do this."))
    return managed_organizations(user)


def _managed_user(orgs, pk) -> User:
    """A user with at least one membership in one of the admin's organizations (404 otherwise)."""
    try:
        return User.objects.filter(memberships__organization__in=orgs).distinct().get(pk=pk)
    except (User.DoesNotExist, ValueError):
        raise Http404 from None


class UserSearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Name or email"), required=False, max_length=120)
    role = forms.ChoiceField(label=gettext_lazy("Role"), required=False,
                             choices=[("", gettext_lazy("Any role"))] + list(Role.choices))


class MembershipForm(forms.Form):
    organization = forms.ModelChoiceField(label=gettext_lazy("Organization"), queryset=Organization.objects.none(),
                                          empty_label=None)
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Role.choices)

    def __init__(self, *args, organizations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations


class PersonForm(MembershipForm):
    email = forms.EmailField(label=gettext_lazy("Email"), max_length=254)
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150, required=False)
    field_order = ["email", "first_name", "last_name", "organization", "role"]

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("Someone already has an account with this email."))
        return email


@login_required
def users(request):
    """People with a role in the admin's organizations, searchable by name/email and role."""
    orgs = _require(request.user)
    form = UserSearchForm(request.GET or None)
    query = form.cleaned_data if form.is_bound and form.is_valid() else {}
    members = Membership.objects.filter(organization__in=orgs).select_related("organization").order_by(
        "organization__name", "role")
    qs = User.objects.filter(memberships__organization__in=orgs)
    if query.get("q"):
        text = query["q"]
        qs = qs.filter(Q(email__icontains=text) | User.matching_name(text))  # names: whole words (encrypted)
    if query.get("role"):
        qs = qs.filter(memberships__role=query["role"], memberships__organization__in=orgs)
    qs = qs.distinct().prefetch_related(Prefetch("memberships", queryset=members, to_attr="managed_memberships"))
    # names are encrypted at rest: the database cannot sort by them, so the (organization-sized) list is sorted here
    people = sorted(qs, key=lambda u: (u.last_name.casefold(), u.first_name.casefold(), u.email))
    page = Paginator(people, 25).get_page(request.GET.get("page"))
    emit(actor=request.user, action="accounts.user_list", role=Role.ORG_ADMIN, purpose="operations",
         detail={"count": len(page.object_list), "filtered": bool(query.get("q") or query.get("role"))})
    return render(request, "accounts/manage/users.html", {
        "page": page, "form": form, "organizations": orgs, "invitations": _invitations(orgs),
    })


def _invitations(orgs):
    """Open invitations of referring clinicians to these organizations (caregiver invitations name a patient:
    not shown here). None when the invitations feature is not installed."""
    try:
        model = apps.get_model("cases", "Invitation")
    except LookupError:
        return None
    return list(model.objects.filter(network__in=orgs, kind="clinician", accepted_at__isnull=True,
                                     revoked_at__isnull=True, expires_at__gt=timezone.now())
                .select_related("invited_by").order_by("-created_at")[:50])


@login_required
def user_detail(request, pk):
    """One person: their roles in the admin's organizations; add a role, deactivate or reactivate one."""
    orgs = _require(request.user)
    person = _managed_user(orgs, pk)
    memberships = list(person.memberships.filter(organization__in=orgs).select_related("organization")
                       .order_by("organization__name", "role"))
    form = MembershipForm(organizations=orgs)
    if request.method == "POST":
        form = MembershipForm(request.POST, organizations=orgs)
        if form.is_valid():
            org, role = form.cleaned_data["organization"], form.cleaned_data["role"]
            with transaction.atomic():
                membership, created = Membership.objects.get_or_create(user=person, organization=org, role=role)
                if not created and membership.active:
                    form.add_error("role", _("This person already has this role there."))
                else:
                    if not created:
                        membership.active = True
                        membership.save(update_fields=["active", "updated_at"])
                    emit(actor=request.user, action="membership.create", obj=membership, role=Role.ORG_ADMIN,
                         purpose="operations", detail={"role": role, "organization": str(org.pk)})
            if not form.errors:
                messages.success(request, _("Role added: %(role)s, %(org)s.") % {
                    "role": Role(role).label, "org": org.name})
                return redirect("accounts:manage_user", pk=person.pk)
    emit(actor=request.user, action="accounts.user_read", obj=person, role=Role.ORG_ADMIN, purpose="operations")
    return render(request, "accounts/manage/user.html", {
        "person": person, "memberships": memberships, "form": form, "is_self": person.pk == request.user.pk,
    })


@require_POST
@login_required
def membership_toggle(request, pk, membership):
    """Deactivate or reactivate one role. An admin cannot remove their own admin role (no lock-out)."""
    orgs = _require(request.user)
    person = _managed_user(orgs, pk)
    with transaction.atomic():  # the row locked: two admins switching the same role at once flip it once each
        try:
            item = person.memberships.select_for_update().get(pk=membership, organization__in=orgs)
        except (Membership.DoesNotExist, ValueError):
            raise Http404 from None
        if item.active and person.pk == request.user.pk and item.role == Role.ORG_ADMIN:
            messages.error(request, _("You cannot remove your own admin role. Ask another admin."))
            return redirect("accounts:manage_user", pk=person.pk)
        item.active = not item.active
        item.save(update_fields=["active", "updated_at"])
        emit(actor=request.user, action="membership.activate" if item.active else "membership.deactivate",
             obj=item, role=Role.ORG_ADMIN, purpose="operations", detail={"role": item.role})
    text = _("Role restored: %(role)s.") if item.active else _("Role removed: %(role)s.")
    messages.success(request, text % {"role": item.get_role_display()})
    return redirect("accounts:manage_user", pk=person.pk)


@login_required
def user_new(request):
    """Add a person with one role; they set their password through the password-reset link."""
    orgs = _require(request.user)
    form = PersonForm(request.POST or None, organizations=orgs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                person = User.objects.create_user(email=data["email"], username=data["email"], password=None,
                                                  first_name=data["first_name"], last_name=data["last_name"])
                membership = Membership.objects.create(user=person, organization=data["organization"],
                                                       role=data["role"])
                emit(actor=request.user, action="user.create", obj=person, role=Role.ORG_ADMIN,
                     purpose="operations", detail={"role": data["role"], "membership": str(membership.pk)})
        except IntegrityError:
            form.add_error("email", _("Someone already has an account with this email."))
        else:
            messages.success(request, _("%(name)s was added. They choose a password with the “Forgot your password?” "
                                        "link on the sign-in page.") % {"name": person.display_name})
            return redirect("accounts:manage_user", pk=person.pk)
    return render(request, "accounts/manage/user_new.html", {"form": form})
