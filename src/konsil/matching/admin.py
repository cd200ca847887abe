"""Admin of the directory, the licensure table (curated data operators must check) and network weights."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Q

from konsil.accounts.models import User
from konsil.core.errors import ValidationFailed

from . import services
from .models import AssignmentRun, License, LicensureRule, NetworkWeights, Specialist, Specialty


@admin.register(Specialty)
class SpecialtyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "nucc_code", "parent")
    search_fields = ("code", "name", "nucc_code")


class LicenseInline(admin.TabularInline):
    model = License
    extra = 0
    fields = ("country", "state", "number", "expires_on")


@admin.register(Specialist)
class SpecialistAdmin(admin.ModelAdmin):
    list_display = ("__str__", "npi", "network", "institution", "capacity", "accepting", "imlc")
    list_filter = ("network", "accepting", "imlc", "specialties")
    search_fields = ("npi", "user__email", "institution")  # names are encrypted: see get_search_results
    ordering = ("user__email",)  # the database cannot order encrypted names
    filter_horizontal = ("specialties", "subspecialties")
    raw_id_fields = ("user",)
    inlines = [LicenseInline]

    def get_search_results(self, request, queryset, search_term):
        """NPI, e-mail and institution as Django searches them, and names by whole words (first or last name,
        any case) through the users' keyed name index: every word of the search must be one of the names."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        words = search_term.split()[:5]
        if words:
            index, q = User._meta.get_field("name_index"), Q()
            for word in words:
                q &= index.matches(word, through="user__")
            found = found | queryset.filter(q)
        return found, duplicates


@admin.register(LicensureRule)
class LicensureRuleAdmin(admin.ModelAdmin):
    """Each save records who changed the row and writes an audit event."""

    list_display = ("code", "name", "kind", "direct_to_patient", "imlc_member", "as_of", "updated_by")
    list_filter = ("kind", "direct_to_patient", "imlc_member")
    search_fields = ("code", "name", "source", "notes")
    readonly_fields = ("updated_by", "updated_at")
    fields = ("kind", "code", "name", "direct_to_patient", "imlc_member", "source", "as_of", "notes", "updated_by",
              "updated_at")

    def save_model(self, request, obj, form, change):
        obj.code = obj.code.upper()
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        services.record_rule_change(actor=request.user, rule=obj, created=not change)


class NetworkWeightsForm(forms.ModelForm):
    class Meta:
        model = NetworkWeights
        fields = ("network", "weights")

    def clean_weights(self):
        try:
            return services.clean_weights(self.cleaned_data.get("weights") or {})
        except ValidationFailed as exc:
            raise forms.ValidationError(str(exc.message)) from None


@admin.register(NetworkWeights)
class NetworkWeightsAdmin(admin.ModelAdmin):
    form = NetworkWeightsForm
    list_display = ("network", "weights", "updated_by", "updated_at")
    readonly_fields = ("updated_by",)

    def save_model(self, request, obj, form, change):
        row = services.set_network_weights(actor=request.user, network=obj.network, weights=obj.weights)
        obj.pk, obj.updated_by = row.pk, row.updated_by


@admin.register(AssignmentRun)
class AssignmentRunAdmin(admin.ModelAdmin):
    list_display = ("created_at", "network", "state", "trigger", "cases", "assigned", "objective", "seconds")
    list_filter = ("state", "trigger", "network")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

