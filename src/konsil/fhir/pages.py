"""Integrations, on Konsil's own pages for organization admins: the organization's FHIR backend clients (register
with a JWKS, scopes, browser origins and the sender's FHIR base; switch off), its webhook subscriptions (the
signing secret shown once) and the delivery log with "send again". The same services as the CLI and the Django
admin; every view and change is audited."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from konsil.accounts.manage import managed_organizations
from konsil.accounts.models import Organization
from konsil.accounts.roles import OrganizationKind
from konsil.audit.services import emit
from konsil.core.pages import toggle_active

from . import webhooks
from .errors import FhirError
from .models import FhirClient, WebhookDelivery, WebhookSubscription
from .services import register_client

EVENT_CHOICES = [(webhooks.ALL, gettext_lazy("Every event"))] + [
    (e, e) for e in sorted({*webhooks.EVENTS.values(), *webhooks.PROGRAM_EVENTS})]


def _organizations(user):
    orgs = managed_organizations(user)
    if not orgs.exists():
        raise DjangoPermissionDenied(_("Only your organization's administrators manage its integrations."))
    return orgs


class ClientForm(forms.Form):
    organization = forms.ModelChoiceField(label=gettext_lazy("Organization"), queryset=Organization.objects.none(),
                                          empty_label=None)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    jwks = forms.CharField(label=gettext_lazy("JSON Web Key Set (public keys)"), widget=forms.Textarea(
        attrs={"rows": 6, "spellcheck": "false"}), max_length=20000,
        help_text=gettext_lazy("The client's public RS384 or ES384 keys, as JSON"))
    scopes = forms.CharField(label=gettext_lazy("Scopes"), max_length=500, initial="system/*.rs",
                             help_text=gettext_lazy("SMART system scopes separated by spaces, e.g. "
                                                    "system/ServiceRequest.crs system/*.rs"))
    origins = forms.CharField(label=gettext_lazy("Browser origins"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}),
                              help_text=gettext_lazy("Web origins allowed to call the APIs from a browser, one per "
                                                     "line (optional)"))
    source_base = forms.URLField(label=gettext_lazy("Sender's FHIR base URL"), required=False, max_length=300,
                                 assume_scheme="https",
                                 help_text=gettext_lazy("Referral documents sent by URL are fetched from under "
                                                        "this address (optional)"))

    def __init__(self, *args, organizations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations

    def clean_jwks(self):
        try:
            return json.loads(self.cleaned_data["jwks"])
        except ValueError:
            raise forms.ValidationError(_("Paste the JWKS as JSON.")) from None


class SubscriptionForm(forms.Form):
    organization = forms.ModelChoiceField(label=gettext_lazy("Organization"), queryset=Organization.objects.none(),
                                          empty_label=None)
    url = forms.CharField(label=gettext_lazy("Receiver URL"), max_length=500,
                          help_text=gettext_lazy("https address of your receiver; it must be reachable publicly"))
    events = forms.MultipleChoiceField(label=gettext_lazy("Events"), choices=EVENT_CHOICES,
                                       widget=forms.CheckboxSelectMultiple, initial=[webhooks.ALL])

    def __init__(self, *args, organizations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations


FIELDS = {"name": "name", "jwks": "jwks", "scope": "scopes", "origins": "origins", "source_base": "source_base",
          "url": "url", "events": "events"}


def _field_error(form, exc: FhirError) -> None:
    """A service's refusal on the field it names (else at the top of the form)."""
    form.add_error(FIELDS.get(str(exc.expression or "")), str(exc.message))


@login_required
def integrations(request):
    orgs = _organizations(request.user)
    clients = FhirClient.objects.filter(organization__in=orgs).select_related("organization", "network")
    subs = WebhookSubscription.objects.filter(organization__in=orgs).select_related("organization")
    deliveries = (WebhookDelivery.objects.filter(subscription__organization__in=orgs)
                  .select_related("subscription").order_by("-created_at")[:50])
    emit(actor=request.user, action="fhir.integrations.view", object_type="accounts.organization",
         object_id=",".join(str(o.pk) for o in orgs)[:64])
    return render(request, "fhir/integrations.html", {
        "clients": clients, "subscriptions": subs, "deliveries": deliveries, "organizations": orgs,
        "token_url": request.build_absolute_uri("/fhir/R4/auth/token"),
        "fhir_base": request.build_absolute_uri("/fhir/R4/")})


@login_required
def client_new(request):
    orgs = _organizations(request.user)
    form = ClientForm(request.POST or None, organizations=orgs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        network = data["organization"] if data["organization"].kind == OrganizationKind.PROVIDER_NETWORK else None
        try:
            client = register_client(actor=request.user, name=data["name"], organization=data["organization"],
                                     jwks=data["jwks"], scopes=data["scopes"], network=network,
                                     origins=data["origins"].split(), source_base=data["source_base"])
        except FhirError as exc:
            _field_error(form, exc)
        else:
            messages.success(request, _("Client %(name)s registered. Its client_id is %(id)s.")
                             % {"name": client.name, "id": client.client_id})
            return redirect("integrations:page")
    return render(request, "fhir/client_new.html", {"form": form})


@login_required
@require_POST
def client_toggle(request, pk):
    client = toggle_active(request.user, FhirClient.objects.filter(organization__in=_organizations(request.user)),
                           pk, on="fhir.client.active", off="fhir.client.inactive")
    messages.success(request, _("%(name)s is switched on.") % {"name": client.name} if client.active
                     else _("%(name)s is switched off: its tokens no longer work.") % {"name": client.name})
    return redirect("integrations:page")


@login_required
def subscription_new(request):
    orgs = _organizations(request.user)
    form = SubscriptionForm(request.POST or None, organizations=orgs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            sub = webhooks.subscribe(actor=request.user, organization=data["organization"], url=data["url"].strip(),
                                     events=data["events"])
        except FhirError as exc:
            _field_error(form, exc)
        else:
            return render(request, "fhir/subscription_created.html", {"subscription": sub})
    return render(request, "fhir/subscription_new.html", {"form": form})


@login_required
@require_POST
def subscription_toggle(request, pk):
    toggle_active(request.user, WebhookSubscription.objects.filter(organization__in=_organizations(request.user)),
                  pk, on="webhook.active", off="webhook.inactive")
    return redirect("integrations:page")


@login_required
@require_POST
def delivery_replay(request, pk):
    orgs = _organizations(request.user)
    delivery = WebhookDelivery.objects.filter(pk=pk, subscription__organization__in=orgs).first()
    if delivery is None:
        raise Http404
    webhooks.replay(actor=request.user, delivery=delivery)
    messages.success(request, _("The event will be sent again."))
    return redirect("integrations:page")
