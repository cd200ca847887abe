"""Backend clients (SMART Backend Services), their tokens and used assertions, and received referrals."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.fields import BlindIndexField, EncryptedTextField, with_indexes
from konsil.core.models import BaseModel


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class FhirClient(BaseModel):
    """A system that calls the FHIR API on behalf of an organization, authenticated by its JWKS.

    It acts through `service_user`, a user with a membership in `organization`: what the client may read and
    write is what that membership allows on the pages (cases.selectors, core.authz). Referrals it sends go to
    `network`."""

    name = models.CharField(_("name"), max_length=200)
    client_id = models.CharField(max_length=64, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="fhir_clients")
    network = models.ForeignKey("accounts.Organization", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", help_text=_("The provider network that receives referrals"))
    service_user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                        related_name="fhir_client")
    jwks = models.JSONField(_("JSON Web Key Set"), default=dict)
    scopes = models.JSONField(_("scopes"), default=list)
    source_base = models.URLField(
        _("sender's FHIR base URL"), max_length=300, blank=True,
        help_text=_("Documents a referral sends by URL are fetched from under this address only"))
    fetch_token = EncryptedTextField(_("bearer token for fetching documents"), blank=True)
    allowed_origins = models.JSONField(
        _("browser origins"), default=list, blank=True,
        help_text=_("Web origins (https://app.example.org) whose pages may call the APIs with this client's tokens"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class UsedAssertion(BaseModel):
    """A client assertion's jti, kept until it expires: a replayed assertion is refused."""

    client = models.ForeignKey(FhirClient, on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "jti"], name="unique_fhir_assertion_jti")]


class AccessToken(BaseModel):
    """A short-lived bearer token; only its SHA-256 is stored."""

    client = models.ForeignKey(FhirClient, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField()


class Referral(BaseModel):
    """A ServiceRequest received from a client: its identifier names the case it became (idempotency)."""

    client = models.ForeignKey(FhirClient, on_delete=models.PROTECT, related_name="referrals")
    system = models.CharField(max_length=255, blank=True)
    value = models.CharField(max_length=255)
    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="fhir_referral")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "system", "value"],
                                               name="unique_fhir_referral_identifier")]


class WebhookSubscription(BaseModel):
    """An organization's endpoint for case events, signed per Standard Webhooks with its own secret."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                      related_name="webhook_subscriptions")
    url = models.URLField(_("URL"), max_length=500)
    secret = EncryptedTextField(_("signing secret"))  # "whsec_" + base64 of the key
    events = models.JSONField(_("events"), default=list)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["organization", "url"]

    def __str__(self) -> str:
        return f"{self.organization} → {self.url}"


class WebhookDelivery(BaseModel):
    """One event for one subscription: the payload (ids and references only, no PHI) and every attempt."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=48)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]


class RemoteDocument(BaseModel):
    """A referral's document sent by URL (DocumentReference.content.attachment.url): fetched from the sender's
    FHIR server after the referral commits, retried, then stored as a record of the case."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        FETCHED = "fetched", _("fetched")
        FAILED = "failed", _("failed")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="remote_documents")
    client = models.ForeignKey(FhirClient, on_delete=models.PROTECT, related_name="+")
    url = EncryptedTextField()  # may name the patient in its path or query: encrypted, never logged
    title = EncryptedTextField(blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    attachment = models.OneToOneField("cases.Attachment", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")

    class Meta:
        ordering = ["created_at"]


class PatientLink(BaseModel):
    """An identifier a sending organization gives a patient (its MRN, say), linked to Konsil's patient record: a
    later referral with the same identifier is the same person. The value is encrypted; lookups use its keyed
    hash."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("cases.Patient", on_delete=models.CASCADE, related_name="fhir_links")
    system = models.CharField(max_length=255, blank=True)
    value = EncryptedTextField()
    value_index = BlindIndexField(of=("system", "value"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "value_index"], name="one_link_per_identifier")]

    def save(self, *args, **kwargs):
        kwargs["update_fields"] = with_indexes(type(self), kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    @classmethod
    def value_index_q(cls, system: str, value: str):
        return cls._meta.get_field("value_index").matches(system, value)
