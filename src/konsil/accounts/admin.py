"""A minimal admin for organizations, users and memberships.

Superusers (and staff holding the model permissions) see everything. An org admin sees the organizations
they administer and their members, and may add members and edit those who belong to no other organization.
Sign-in goes through Konsil's own pages (password, then TOTP); the MFA middleware covers /admin/.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import views
from .forms import AdminUserAddForm, AdminUserChangeForm
from .models import Membership, Organization, User
from .roles import Role


def admin_org_ids(request) -> set:
    """Ids of the organizations the requesting user administers (cached on the request)."""
    if not hasattr(request, "_konsil_admin_orgs"):
        user = request.user
        orgs = user.organizations_for(Role.ORG_ADMIN) if user.is_active and user.is_authenticated else []
        request._konsil_admin_orgs = {org.pk for org in orgs}
    return request._konsil_admin_orgs


def site_has_permission(request) -> bool:
    """Only staff open Django's admin (after MFA, enforced by middleware); a staff member who is also an org admin
    sees only their organizations. Org admins work on Konsil's own pages (accounts.manage)."""
    user = request.user
    return user.is_active and user.is_staff


def admin_login(request, extra_context=None):
    """Send the admin's sign-in to Konsil's sign-in page; org admins to Konsil's own admin pages; refuse others."""
    if request.user.is_authenticated:
        if admin_org_ids(request):
            return redirect(reverse("accounts:manage_users"))
        raise PermissionDenied
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"))


def _audited(admin_view):
    """Every admin page a signed-in person opens or posts to is an audit event (ids and page names only)."""
    def wrap(view, cacheable=False):
        inner = admin_view(view, cacheable)

        @wraps(inner)
        def audited(request, *args, **kwargs):
            response = inner(request, *args, **kwargs)
            if request.user.is_authenticated and response.status_code < 400 and site_has_permission(request):
                from konsil.audit.services import emit

                match = request.resolver_match
                emit(actor=request.user, action="admin.change" if request.method == "POST" else "admin.view",
                     object_type="admin.page", object_id=(match.url_name if match else "")[:64] or "admin",
                     role="admin", purpose="operations",
                     detail={"path": request.path[:200], "status": response.status_code})
            return response
        return audited
    return wrap


def _unregister_secrets() -> None:
    """TOTP seeds (django-otp's admin) and API tokens never appear in the admin."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if admin.site.is_registered(TOTPDevice):
        admin.site.unregister(TOTPDevice)


_unregister_secrets()
admin.site.admin_view = _audited(admin.site.admin_view)
admin.site.login = admin_login
admin.site.logout = views.logout_view
admin.site.has_permission = site_has_permission
admin.site.site_header = _("Konsil administration")
admin.site.site_title = _("Konsil administration")
admin.site.index_title = _("Organizations and users")


class OrgScopedMixin:
    """Rows reachable from the organizations an org admin administers (`org_lookup` names the path)."""

    org_lookup = "id"

    def is_global(self, request, action: str = "view") -> bool:
        perm = f"{self.opts.app_label}.{action}_{self.opts.model_name}"
        return request.user.is_superuser or request.user.has_perm(perm)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if self.is_global(request):
            return qs
        return qs.filter(**{f"{self.org_lookup}__in": admin_org_ids(request)}).distinct()

    def has_module_permission(self, request):
        return super().has_module_permission(request) or bool(admin_org_ids(request))

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or bool(admin_org_ids(request))


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("organization", "user", "role", "active")

    def _scoped(self, request) -> bool:
        return not (request.user.is_superuser or request.user.has_perm("accounts.change_membership"))

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("organization", "user")
        return qs.filter(organization_id__in=admin_org_ids(request)) if self._scoped(request) else qs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organization" and self._scoped(request):
            kwargs["queryset"] = Organization.objects.filter(pk__in=admin_org_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may_edit(self, request, obj) -> bool:
        if not self._scoped(request):
            return True
        parent_admin = self.admin_site._registry.get(self.parent_model)
        return bool(admin_org_ids(request)) and (
            obj is None or parent_admin is None or parent_admin.has_change_permission(request, obj)
        )

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or bool(admin_org_ids(request))

    def has_add_permission(self, request, obj):
        return super().has_add_permission(request, obj) or self._may_edit(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) or self._may_edit(request, obj)


class UserMembershipInline(MembershipInline):
    fields = ("organization", "role", "active")
    autocomplete_fields = ("organization",)

    def get_formset(self, request, obj=None, **kwargs):
        if self._scoped(request):  # an org admin's new user must belong to one of their organizations
            kwargs.update(min_num=1, validate_min=True)
        return super().get_formset(request, obj, **kwargs)


class OrganizationMembershipInline(MembershipInline):
    fields = ("user", "role", "active")
    autocomplete_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(OrgScopedMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "state", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [OrganizationMembershipInline]

    def get_readonly_fields(self, request, obj=None):
        return () if self.is_global(request, "change") else ("kind", "slug", "active")

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if self.is_global(request, "change") else {}

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed or bool(admin_org_ids(request)) and (obj is None or obj.pk in admin_org_ids(request))


@admin.register(User)
class UserAdmin(OrgScopedMixin, BaseUserAdmin):
    """Django's user admin, signing in by email."""

    org_lookup = "memberships__organization"
    form = AdminUserChangeForm
    add_form = AdminUserAddForm
    list_display = ("email", "first_name", "last_name", "is_active", "is_staff")
    list_filter = ("is_active", "is_staff", "is_superuser", "memberships__role")
    search_fields = ("email",)  # names are encrypted: whole words are matched by get_search_results
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    inlines = [UserMembershipInline]
    actions = ["reset_mfa", "sign_out_everywhere"]

    def get_search_results(self, request, queryset, search_term):
        found, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            found = found | queryset.filter(User.matching_name(search_term))
        return found, duplicates
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "preferred_language")}),
        (_("Permissions"), {
            "fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
        }),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    org_admin_fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "preferred_language")}),
        (_("Status"), {"fields": ("is_active",)}),
    )
    add_fieldsets = (
        (None, {
            "classes": ("wide",),
            "fields": ("email", "first_name", "last_name", "preferred_language", "usable_password",
                       "password1", "password2"),
        }),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not self.is_global(request, "change"):
            return self.org_admin_fieldsets
        return super().get_fieldsets(request, obj)

    def _may_change(self, request, obj) -> bool:
        """An org admin edits members who are not staff and belong to none but their organizations."""
        orgs = admin_org_ids(request)
        if not orgs:
            return False
        if obj is None:
            return True
        member_of = set(obj.memberships.values_list("organization_id", flat=True))
        return not (obj.is_staff or obj.is_superuser) and bool(member_of) and member_of <= orgs

    def has_add_permission(self, request):
        return super().has_add_permission(request) or bool(admin_org_ids(request))

    @admin.action(description=_("Reset two-factor sign-in (they enrol again, proving their e-mail first)"))
    def reset_mfa(self, request, queryset):
        from .mfa import reset_mfa

        users = [user for user in queryset if self.has_change_permission(request, user)]
        for user in users:
            reset_mfa(actor=request.user, user=user, reason="admin")
        self.message_user(request, _("Two-factor sign-in reset for %(n)d people.") % {"n": len(users)},
                          messages.SUCCESS)

    @admin.action(description=_("Sign out everywhere (sessions and API tokens)"))
    def sign_out_everywhere(self, request, queryset):
        from .tokens import end_everything

        users = [user for user in queryset if self.has_change_permission(request, user)]
        for user in users:
            end_everything(user=user, actor=request.user, reason="admin")
        self.message_user(request, _("Signed out everywhere: %(n)d people.") % {"n": len(users)}, messages.SUCCESS)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or self._may_change(request, obj)
