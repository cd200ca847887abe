"""Backend clients on the admin pages: registered through the same service as `konsil fhir client add`."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import webhooks
from .errors import FhirError
from .models import FhirClient, Referral, WebhookDelivery, WebhookSubscription
from .services import clean_origins, register_client


class ClientAddForm(forms.ModelForm):
    jwks_text = forms.CharField(label=_("JSON Web Key Set (public keys)"), widget=forms.Textarea)
    scopes_text = forms.CharField(label=_("Scopes"), help_text=_("SMART system scopes separated by spaces"))
    origins_text = forms.CharField(label=_("Browser origins"), required=False,
                                   help_text=_("Web origins allowed to call the APIs from a browser, one per line"))

    class Meta:
        model = FhirClient
        fields = ("name", "organization", "network")

    def clean_jwks_text(self):
        try:
            return json.loads(self.cleaned_data["jwks_text"])
        except ValueError:
            raise forms.ValidationError(_("Paste the JWKS as JSON.")) from None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.registered = register_client(
                actor=self.request_user, name=data.get("name"), organization=data.get("organization"),
                jwks=data.get("jwks_text"), scopes=data.get("scopes_text"), network=data.get("network"),
                origins=(data.get("origins_text") or "").split())
        except FhirError as exc:
            raise forms.ValidationError(str(exc.message)) from None
        return data


class ClientChangeForm(forms.ModelForm):
    fetch_token = forms.CharField(label=_("Bearer token for fetching documents"), required=False,
                                  widget=forms.PasswordInput(render_value=False),
                                  help_text=_("Leave empty to keep the current token"))

    def clean_fetch_token(self):
        return self.cleaned_data.get("fetch_token") or (self.instance.fetch_token if self.instance.pk else "")

    def clean_allowed_origins(self):
        try:
            return clean_origins(self.cleaned_data.get("allowed_origins") or [])
        except FhirError as exc:
            raise forms.ValidationError(str(exc.message)) from None


@admin.register(FhirClient)
class FhirClientAdmin(admin.ModelAdmin):
    form = ClientChangeForm
    list_display = ("name", "client_id", "organization", "network", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "client_id")
    readonly_fields = ("client_id", "service_user", "organization", "jwks", "scopes", "created_at")
    fields = ("name", "client_id", "organization", "network", "service_user", "jwks", "scopes", "allowed_origins",
              "source_base", "fetch_token", "active")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs.update(form=ClientAddForm, fields=ClientAddForm.Meta.fields)
            form = super().get_form(request, obj, **kwargs)
            form.request_user = request.user
            return form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "organization", "network", "jwks_text", "scopes_text", "origins_text")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:  # registered in the form's clean (one transaction, audited)
            obj.__dict__.update(form.registered.__dict__)

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ("client", "system", "value", "case", "created_at")
    readonly_fields = ("client", "system", "value", "case")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("organization", "url", "active", "created_at")
    fields = ("organization", "url", "events", "active", "secret")
    readonly_fields = ("secret",)

    def save_model(self, request, obj, form, change):
        if not obj.secret:
            obj.secret = webhooks.new_secret()
        super().save_model(request, obj, form, change)


@admin.action(description=_("Send again"))
def replay_deliveries(modeladmin, request, queryset):
    for delivery in queryset:
        webhooks.replay(actor=request.user, delivery=delivery)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: every event, its attempts and the last answer; replay from the list."""

    list_display = ("event", "subscription", "state", "attempts", "last_status", "last_error", "created_at",
                    "delivered_at")
    list_filter = ("state", "event")
    readonly_fields = ("subscription", "event", "payload", "state", "attempts", "next_attempt_at", "last_status",
                       "last_error", "delivered_at")
    actions = [replay_deliveries]

    def has_add_permission(self, request):
        return False
