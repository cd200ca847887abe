"""The case (a FHIR ServiceRequest in spirit), its patient, consent, attachments, messages and timeline."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.fields import EncryptedTextField
from konsil.core.models import BaseModel

from .choices import (
    LANGUAGE_CHOICES,
    STATE_CHOICES,
    Channel,
    Delivery,
    MessageKind,
    OfferStatus,
    Sex,
    Status,
    Urgency,
)

USER = settings.AUTH_USER_MODEL


class Patient(BaseModel):
    network = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="patients")
    user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="patients")
    given_name = EncryptedTextField(_("given name"))
    family_name = EncryptedTextField(_("family name"))
    birth_date = models.DateField(_("birth date"))
    sex = models.CharField(_("sex"), max_length=8, choices=Sex.choices)
    state = models.CharField(_("US state"), max_length=2, blank=True, choices=STATE_CHOICES)
    country = models.CharField(_("country"), max_length=2, default="US")
    language = models.CharField(_("preferred language"), max_length=8, choices=LANGUAGE_CHOICES, default="en")
    email = EncryptedTextField(_("email"), blank=True)
    phone = EncryptedTextField(_("phone"), blank=True)

    class Meta:
        ordering = ["created_at"]  # names are encrypted: the database cannot sort by them

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def full_name(self) -> str:
        return str(self)


class CaregiverAuthorization(BaseModel):
    """A recorded authorization for a caregiver to act for a patient."""

    caregiver = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="caregiver_authorizations")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="caregiver_authorizations")
    relationship = models.CharField(_("relationship"), max_length=64)
    signed_by = EncryptedTextField(_("signed by"))
    signed_at = models.DateTimeField(_("signed at"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)


def new_reference() -> str:
    return "K-" + secrets.token_hex(4).upper()


class Case(BaseModel):
    reference = models.CharField(_("reference"), max_length=16, unique=True, default=new_reference)
    network = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="cases")
    sponsor = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="sponsored_cases",
        help_text=_("Referring hospital, payer or employer program"),
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="cases")
    requester = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="requested_cases")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.PATIENT)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    preferred_delivery = models.CharField(
        _("preferred delivery"), max_length=12, choices=Delivery.choices, default=Delivery.WRITTEN
    )
    interpreter_needed = models.BooleanField(_("interpreter needed"), default=False)
    proposed_treatment = models.TextField(_("proposed treatment"), blank=True)
    proposed_cpt = models.CharField(_("CPT code"), max_length=5, blank=True)
    treating_physician = models.CharField(_("treating physician"), max_length=200, blank=True)
    treating_physician_email = models.EmailField(_("treating physician email"), blank=True)
    treating_facility = models.CharField(_("treating facility"), max_length=200, blank=True)
    clinical_summary = models.TextField(_("history and symptoms"), blank=True)
    specialty = models.ForeignKey(
        "matching.Specialty", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    assigned_specialist = models.ForeignKey(
        "matching.Specialist", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    wizard_step = models.PositiveSmallIntegerField(default=1)
    submitted_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Offers and SLAs (cases.offers, cases.sla): escalated to the coordinators; review deadline and its alerts.
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    review_due_at = models.DateTimeField(_("review due at"), null=True, blank=True)
    review_reminded_at = models.DateTimeField(null=True, blank=True)
    review_breached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["network", "status"])]

    def __str__(self) -> str:
        return self.reference


class CaseQuestion(BaseModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    text = models.TextField(_("question"))

    class Meta:
        ordering = ["position", "created_at"]


class CaseDiagnosis(BaseModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="diagnoses")
    position = models.PositiveSmallIntegerField(default=0)
    code = models.CharField(_("ICD-10-CM code"), max_length=8)

    class Meta:
        ordering = ["position", "created_at"]
        constraints = [models.UniqueConstraint(fields=["case", "code"], name="unique_case_diagnosis")]

    @property
    def description(self) -> str:
        from konsil.core.icd10 import describe

        return describe(self.code)


class Consent(BaseModel):
    """HIPAA authorization to obtain and share records for this case."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="consent")
    scope = models.JSONField(_("scope"), default=list)
    signer_name = EncryptedTextField(_("signed by"))
    signer_relationship = models.CharField(_("relationship to patient"), max_length=64, default="self")
    signed_at = models.DateTimeField(_("signed at"))
    ip = models.GenericIPAddressField(null=True, blank=True)


class Attachment(BaseModel):
    """A record stored encrypted; the row keeps the wrapped data key and the plaintext hash, never the content.

    Files inside an archive or a CD export are attachments too, with `parent` pointing at the archive.
    """

    class Processing(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="entries")
    batch = models.UUIDField(null=True, blank=True)
    filename = EncryptedTextField(_("file name"))
    content_type = models.CharField(max_length=100)
    description = EncryptedTextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=12, blank=True)  # records.detect kinds: pdf, dicom, zip, fhir...
    status = models.CharField(_("status"), max_length=12, choices=Processing.choices, default=Processing.QUEUED)
    error_code = models.CharField(max_length=32, blank=True)  # records.errors.REASONS
    detail = models.JSONField(default=dict, blank=True)  # counts only (pages, images, series): no content
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=200, unique=True)
    wrapped_key = models.BinaryField()
    key_id = models.CharField(max_length=32)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["case", "sha256"])]

    @property
    def error_message(self) -> str:
        from konsil.records.errors import REASONS

        return str(REASONS.get(self.error_code, "")) if self.error_code else ""


class StatusChange(BaseModel):
    """The case's timeline: every transition taken."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="timeline")
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=20, choices=Status.choices)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    actor = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    role = models.CharField(max_length=32, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]


class Offer(BaseModel):
    """A case offered to one specialist, open until `expires_at`; automatic offers have no `offered_by`.

    The ranking at the time is kept (position, score, reasons, engine), and when a coordinator chose someone
    other than the top-ranked specialist, that proposal and the reason: feedback for matching.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="offers")
    specialist = models.ForeignKey("matching.Specialist", on_delete=models.PROTECT, related_name="offers")
    offered_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=OfferStatus.choices, default=OfferStatus.PENDING)
    responded_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    rank = models.PositiveSmallIntegerField(_("rank"), null=True, blank=True)  # 1 = top; None: not ranked
    score = models.FloatField(_("score"), null=True, blank=True)
    reasons = models.JSONField(_("ranking reasons"), default=list, blank=True)
    engine = models.CharField(_("matching engine"), max_length=64, blank=True)
    proposed_specialist = models.ForeignKey(
        "matching.Specialist", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("The top-ranked specialist when a coordinator chose someone else"),
    )
    override_reason = models.TextField(_("override reason"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "expires_at"])]

    @property
    def is_override(self) -> bool:
        return bool(self.override_reason)


class Message(BaseModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    author_role = models.CharField(max_length=32, blank=True)
    kind = models.CharField(max_length=16, choices=MessageKind.choices, default=MessageKind.MESSAGE)
    body = models.TextField(_("message"))

    class Meta:
        ordering = ["created_at"]


class Notification(BaseModel):
    """An in-app notification; `kind` selects a translated text rendered in the reader's language."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="notifications")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=48)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
