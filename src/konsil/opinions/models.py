"""The structured opinion (versioned, signed, amended) and report access for the treating physician."""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.fields import EncryptedCharField, EncryptedJSONField, EncryptedTextField
from konsil.core.models import BaseModel


def new_verify_code() -> str:
    """The public code printed on a signed report (and in its QR): 60 random bits, no look-alike letters."""
    return base64.b32encode(secrets.token_bytes(10)).decode()[:12]


def new_public_id() -> str:
    """A share's public id: in the link and the access log; it opens nothing without the recipient's proof."""
    return secrets.token_urlsafe(12)


class DiagnosisVerdict(models.TextChoices):
    CONFIRMED = "confirmed", _("Diagnosis confirmed")
    REFINED = "refined", _("Diagnosis refined")
    CHANGED = "changed", _("Diagnosis changed")


class TreatmentVerdict(models.TextChoices):
    AGREE = "agree", _("Agree with the proposed treatment")
    MODIFY = "modify", _("Modify the proposed treatment")
    ALTERNATIVE = "alternative", _("Recommend an alternative")
    AGAINST = "against", _("Recommend against the proposed treatment")


# The treatment verdict as the report states it: the choices are worded as the specialist's options ("Recommend
# an alternative"), which read as an instruction under the report's heading.
TREATMENT_STATEMENTS = {
    TreatmentVerdict.AGREE: _("The specialist agrees with the proposed treatment."),
    TreatmentVerdict.MODIFY: _("The specialist recommends changing the proposed treatment."),
    TreatmentVerdict.ALTERNATIVE: _("The specialist recommends an alternative treatment."),
    TreatmentVerdict.AGAINST: _("The specialist recommends against the proposed treatment."),
}


class Confidence(models.TextChoices):
    HIGH = "high", _("High")
    MODERATE = "moderate", _("Moderate")
    LOW = "low", _("Low")


class Opinion(BaseModel):
    """One version of a case's opinion. A signed version is frozen; an amendment is a new version.

    Its words and codes are encrypted at rest (#10); nothing filters or sorts on them in SQL."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="opinions")
    version = models.PositiveSmallIntegerField(default=1)
    author = models.ForeignKey("matching.Specialist", on_delete=models.PROTECT, related_name="opinions")
    diagnosis_verdict = models.CharField(
        _("diagnosis"), max_length=12, choices=DiagnosisVerdict.choices, blank=True
    )
    revised_diagnosis = EncryptedCharField(_("revised ICD-10-CM code"), plain_max_length=8, blank=True)
    diagnosis_comment = EncryptedTextField(_("diagnosis comment"), blank=True)
    treatment_verdict = models.CharField(
        _("treatment"), max_length=12, choices=TreatmentVerdict.choices, blank=True
    )
    treatment_recommendation = EncryptedTextField(_("treatment recommendation"), blank=True)
    answers = EncryptedJSONField(_("answers to the patient's questions"), default=dict, blank=True)
    further_tests = EncryptedTextField(_("recommended further tests"), blank=True)
    narrative = EncryptedTextField(_("narrative"), blank=True)
    confidence = models.CharField(_("confidence"), max_length=10, choices=Confidence.choices, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    amendment_reason = EncryptedTextField(_("reason for amendment"), blank=True)
    verify_code = models.CharField(max_length=16, blank=True, db_index=True)  # set when signed; public

    class Meta:
        ordering = ["case", "-version"]
        constraints = [models.UniqueConstraint(fields=["case", "version"], name="unique_opinion_version")]

    @property
    def treatment_statement(self) -> str:
        """The treatment verdict as a sentence for the report (TREATMENT_STATEMENTS)."""
        return str(TREATMENT_STATEMENTS.get(self.treatment_verdict, self.get_treatment_verdict_display()))

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    def save(self, *args, **kwargs):
        if not self._state.adding and self.pk:
            stored = Opinion.objects.filter(pk=self.pk).values_list("signed_at", flat=True).first()
            if stored is not None:
                raise RuntimeError("a signed opinion is frozen; amend it instead")
        super().save(*args, **kwargs)


class ReportShare(BaseModel):
    """The report shared with the treating physician. The link carries only `public_id`; reading the report
    needs the recipient's proof (a code e-mailed to them, or the patient's birth date). Only hashes are kept."""

    class Proof(models.TextChoices):
        EMAIL_CODE = "email_code", _("A code sent to my email")
        BIRTH_DATE = "birth_date", _("The patient's date of birth")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="report_shares")
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    recipient_name = models.CharField(_("recipient name"), max_length=200)
    recipient_email = models.EmailField(_("recipient email"))
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    code_hash = models.CharField(max_length=64, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    codes_sent = models.PositiveSmallIntegerField(default=0)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)  # too many failed proofs: a new share is needed
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class Letterhead(BaseModel):
    """What a network's reports carry at the top: its name, logo, address and contact."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE,
                                        related_name="letterhead")
    display_name = models.CharField(_("name on the report"), max_length=200)
    address = models.TextField(_("address"), max_length=500, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    website = models.URLField(_("website"), max_length=200, blank=True)
    logo_png = models.TextField(blank=True)  # base64 PNG, re-encoded by Pillow on upload (nothing else kept)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")


# --- multidisciplinary panels (tumour boards) --------------------------------------------------------------

class Panel(BaseModel):
    """A case's multidisciplinary panel: a template's roles, each filled by one member, and a chair."""

    class Status(models.TextChoices):
        CONVENED = "convened", _("Convened")
        DISSOLVED = "dissolved", _("Dissolved")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="panels")
    template = models.CharField(_("template"), max_length=64)
    label = models.CharField(_("panel"), max_length=200)
    source = models.TextField(_("source"), blank=True)
    chair = models.ForeignKey("matching.Specialist", on_delete=models.PROTECT, related_name="chaired_panels")
    meeting_at = models.DateTimeField(_("meeting"), null=True, blank=True)
    meeting_minutes = models.PositiveSmallIntegerField(_("meeting length (minutes)"), default=60)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.CONVENED)
    assembled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["case"], condition=models.Q(status="convened"),
                                               name="one_convened_panel_per_case")]


class Agreement(models.TextChoices):
    AGREE = "agree", _("I agree with the consensus opinion")
    DISSENT = "dissent", _("I dissent from the consensus opinion")


class PanelMember(BaseModel):
    """One role of a panel, the member filling it, their input and their agreement with the consensus."""

    panel = models.ForeignKey(Panel, on_delete=models.CASCADE, related_name="members")
    specialist = models.ForeignKey("matching.Specialist", on_delete=models.PROTECT, related_name="panel_seats")
    role = models.ForeignKey("matching.Specialty", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)
    score = models.FloatField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    assessment = EncryptedTextField(_("assessment"), blank=True)
    recommendation = EncryptedTextField(_("recommendation"), blank=True)
    submitted_at = models.DateTimeField(_("input submitted at"), null=True, blank=True)
    agreement = models.CharField(_("agreement"), max_length=8, choices=Agreement.choices, blank=True)
    dissent_reason = EncryptedTextField(_("reason for dissent"), blank=True)
    agreement_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["panel", "position"]
        constraints = [
            models.UniqueConstraint(fields=["panel", "specialist"], name="one_seat_per_member"),
            models.UniqueConstraint(fields=["panel", "role"], name="one_member_per_role"),
        ]

    @property
    def is_chair(self) -> bool:
        return self.specialist_id == self.panel.chair_id


class OpenSeat(BaseModel):
    """A role of a panel nobody eligible could fill at assembly: filled by hand later, or waived with a reason.

    The consensus opinion cannot be signed while a seat is open and not waived."""

    panel = models.ForeignKey(Panel, on_delete=models.CASCADE, related_name="open_seats")
    role = models.ForeignKey("matching.Specialty", on_delete=models.PROTECT, related_name="+")
    codes = models.JSONField(default=list)  # the role's specialty codes (the role, then its accepted alternatives)
    position = models.PositiveSmallIntegerField(default=0)
    reasons = models.JSONField(default=list, blank=True)  # why nobody was eligible at assembly
    waived_reason = EncryptedTextField(_("reason for waiving the seat"), blank=True)
    waived_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    waived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["panel", "position"]
        constraints = [models.UniqueConstraint(fields=["panel", "role"], name="one_open_seat_per_role")]


# --- blinded review ------------------------------------------------------------------------------------------

class ReviewPlan(BaseModel):
    """How a case is reviewed: blinded means the reviewer assesses before seeing the first opinion."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="review_plan")
    blinded = models.BooleanField(_("blinded review"), default=False)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")


class IndependentAssessment(BaseModel):
    """The reviewer's own impression and treatment, recorded before the first opinion is shown (kept as is)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="independent_assessments")
    specialist = models.ForeignKey("matching.Specialist", on_delete=models.PROTECT, related_name="+")
    diagnosis_impression = EncryptedTextField(_("diagnostic impression"))
    impression_code = EncryptedCharField(_("ICD-10-CM code"), plain_max_length=8, blank=True)
    recommended_treatment = EncryptedTextField(_("recommended treatment"))
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        ordering = ["recorded_at"]
        constraints = [models.UniqueConstraint(fields=["case", "specialist"], name="one_assessment_per_reviewer")]
