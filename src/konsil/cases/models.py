"""The case (a FHIR ServiceRequest in spirit), its patient, consent, attachments, messages and timeline."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.fields import (
    BlindIndexField,
    EncryptedCharField,
    EncryptedDateField,
    EncryptedTextField,
    encrypted_fields,
    with_indexes,
)
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


class PersonDetails(models.Model):
    """Who a patient is: the details a Patient row holds and each version of its identity keeps."""

    given_name = EncryptedTextField(_("given name"))
    family_name = EncryptedTextField(_("family name"))
    birth_date = EncryptedDateField(_("birth date"))
    # Exact matches on the encrypted birth date (imaging inbox, demo): PersonDetails.matching_birth_date().
    birth_date_index = BlindIndexField(of="birth_date")
    sex = models.CharField(_("sex"), max_length=8, choices=Sex.choices)
    state = models.CharField(_("US state"), max_length=2, blank=True, choices=STATE_CHOICES)
    county = models.CharField(_("county"), max_length=5, blank=True,
                              help_text=_("County FIPS code (analytics: rural or urban by USDA RUCC)"))
    country = models.CharField(_("country"), max_length=2, default="US")
    language = models.CharField(_("preferred language"), max_length=8, choices=LANGUAGE_CHOICES, default="en")
    email = EncryptedTextField(_("email"), blank=True)
    phone = EncryptedTextField(_("phone"), blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def save(self, *args, **kwargs):
        kwargs["update_fields"] = with_indexes(type(self), kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    @classmethod
    def matching_birth_date(cls, birth_date, through: str = "") -> models.Q:
        return cls._meta.get_field("birth_date_index").matches(birth_date, through=through)

    @property
    def full_name(self) -> str:
        return str(self)


class Patient(BaseModel, PersonDetails):
    network = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="patients")
    user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="patients")

    class Meta:
        ordering = ["created_at"]  # names are encrypted: the database cannot sort by them

    def current_identity(self) -> PatientIdentity:
        """The newest version of the patient's identity (version 1 is taken from this row when none exists)."""
        identity = self.identities.order_by("-version").first()
        if identity is None:
            identity = PatientIdentity.objects.create(
                patient=self, version=1, **{name: getattr(self, name) for name in IDENTITY_FIELDS})
        return identity


IDENTITY_FIELDS = ("given_name", "family_name", "birth_date", "sex", "state", "county", "country", "language",
                   "email", "phone")


class IdentityLocked(Exception):
    """A version of a patient's identity used by a submitted case does not change."""


class PatientIdentity(BaseModel, PersonDetails):
    """One version of who the patient is (name, birth date, residence, contact), as a case was submitted with.

    A case points at the version it was submitted with; once a submitted case uses a version it never changes:
    an edit creates the next version (audited, shown on the case page). The report is signed for this version,
    and licensure reads its state.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="identities")
    version = models.PositiveIntegerField(_("version"))
    supersedes = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    changed_fields = models.JSONField(default=list, blank=True)  # names only, never values
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["patient", "version"]
        constraints = [models.UniqueConstraint(fields=["patient", "version"], name="unique_identity_version")]

    def save(self, *args, **kwargs):
        if not self._state.adding and self.locked:
            raise IdentityLocked(f"identity {self.pk} is used by a submitted case")
        super().save(*args, **kwargs)

    @property
    def locked(self) -> bool:
        """Used by a case that left the draft state: this version is part of the record now."""
        return self.pk is not None and self.cases.exclude(status=Status.DRAFT).exists()

    def values(self) -> dict:
        return {name: getattr(self, name) for name in IDENTITY_FIELDS}


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
    identity = models.ForeignKey(
        PatientIdentity, null=True, blank=True, on_delete=models.PROTECT, related_name="cases",
        help_text=_("The version of the patient's identity this case was submitted with"),
    )
    requester = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="requested_cases")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.PATIENT)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    preferred_delivery = models.CharField(
        _("preferred delivery"), max_length=12, choices=Delivery.choices, default=Delivery.WRITTEN
    )
    interpreter_needed = models.BooleanField(_("interpreter needed"), default=False)
    # Clinical free text is encrypted at rest (#10 finding 7): it is never filtered or sorted on in SQL.
    diagnosis_text = EncryptedTextField(_("diagnosis in your words"), blank=True)
    proposed_treatment = EncryptedTextField(_("proposed treatment"), blank=True)
    proposed_cpt = models.CharField(_("CPT code"), max_length=5, blank=True)
    treating_physician = models.CharField(_("treating physician"), max_length=200, blank=True)
    treating_physician_email = models.EmailField(_("treating physician email"), blank=True)
    treating_facility = models.CharField(_("treating facility"), max_length=200, blank=True)
    clinical_summary = EncryptedTextField(_("history and symptoms"), blank=True)
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

    def save(self, *args, **kwargs):
        if self.identity_id is None and self.patient_id is not None:
            self.identity = self.patient.current_identity()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "identity"}
        super().save(*args, **kwargs)


class CaseQuestion(BaseModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    text = EncryptedTextField(_("question"))

    class Meta:
        ordering = ["position", "created_at"]


class CaseDiagnosis(BaseModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="diagnoses")
    position = models.PositiveSmallIntegerField(default=0)
    # A case's codes are PHI: encrypted, matched and kept unique through a keyed hash (CaseDiagnosis.matching).
    code = EncryptedCharField(_("ICD-10-CM code"), plain_max_length=8)
    code_index = BlindIndexField(of="code")

    class Meta:
        ordering = ["position", "created_at"]
        constraints = [models.UniqueConstraint(fields=["case", "code_index"], name="unique_case_diagnosis")]

    def save(self, *args, **kwargs):
        kwargs["update_fields"] = with_indexes(type(self), kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    @classmethod
    def matching(cls, code: str) -> models.Q:
        return cls._meta.get_field("code_index").matches(code)

    @property
    def description(self) -> str:
        from konsil.core.icd10 import describe

        return describe(self.code)


class CodeSuggestion(BaseModel):
    """An ICD-10-CM code Konsil read in the patient's words or records: a proposal until a coordinator or the
    clinician confirms it (it becomes one of the case's diagnoses) or rejects it."""

    class Decision(models.TextChoices):
        SUGGESTED = "suggested", _("Suggested")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="code_suggestions")
    code = EncryptedCharField(_("ICD-10-CM code"), plain_max_length=8)
    code_index = BlindIndexField(of="code")
    source = models.CharField(max_length=16)  # "text" (the patient's words) or "records"
    matched = EncryptedTextField(blank=True)  # the title words found in the patient's text
    status = models.CharField(max_length=12, choices=Decision.choices, default=Decision.SUGGESTED)
    decided_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["case", "code_index"], name="unique_case_code_suggestion")]

    def save(self, *args, **kwargs):
        kwargs["update_fields"] = with_indexes(type(self), kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    @classmethod
    def matching(cls, code: str) -> models.Q:
        return cls._meta.get_field("code_index").matches(code)

    @property
    def description(self) -> str:
        from konsil.core.icd10 import describe

        return describe(self.code)


class Invitation(BaseModel):
    """An invitation by e-mail: a caregiver invited by the patient, or a referring clinician by a coordinator.

    The link carries a signed, expiring token naming this row; the row keeps no secret."""

    class Kind(models.TextChoices):
        CAREGIVER = "caregiver", _("Caregiver")
        CLINICIAN = "clinician", _("Referring clinician")

    kind = models.CharField(max_length=12, choices=Kind.choices)
    network = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    email = EncryptedTextField(_("email"))
    relationship = models.CharField(_("relationship"), max_length=64, blank=True)
    invited_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    npi = models.CharField(_("NPI"), max_length=10, blank=True)

    class Meta:
        ordering = ["-created_at"]


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
    body = EncryptedTextField(_("message"))

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


class EmergencyAccess(BaseModel):
    """A break-glass grant: a clinician of the case's network reads the case for a limited time, with a reason."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="emergency_grants")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="emergency_grants")
    reason = EncryptedTextField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["case", "user", "expires_at"])]


def clinical_text(via: str) -> list[str]:
    """A case's encrypted columns, named through the relation `via` (e.g. "case"), for `defer`: a list of offers
    or routing outcomes shows the case's reference and urgency, never its clinical text."""
    return [f"{via}__{field.name}" for field in encrypted_fields(Case)]
