"""The structured opinion (versioned, signed, amended) and report access for the treating physician."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.models import BaseModel


class DiagnosisVerdict(models.TextChoices):
    CONFIRMED = "confirmed", _("Diagnosis confirmed")
    REFINED = "refined", _("Diagnosis refined")
    CHANGED = "changed", _("Diagnosis changed")


class TreatmentVerdict(models.TextChoices):
    AGREE = "agree", _("Agree with the proposed treatment")
    MODIFY = "modify", _("Modify the proposed treatment")
    ALTERNATIVE = "alternative", _("Recommend an alternative")
    AGAINST = "against", _("Recommend against the proposed treatment")


class Confidence(models.TextChoices):
    HIGH = "high", _("High")
    MODERATE = "moderate", _("Moderate")
    LOW = "low", _("Low")


class Opinion(BaseModel):
    """One version of a case's opinion. A signed version is frozen; an amendment is a new version."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="opinions")
    version = models.PositiveSmallIntegerField(default=1)
    author = models.ForeignKey("matching.Specialist", on_delete=models.PROTECT, related_name="opinions")
    diagnosis_verdict = models.CharField(
        _("diagnosis"), max_length=12, choices=DiagnosisVerdict.choices, blank=True
    )
    revised_diagnosis = models.CharField(_("revised ICD-10-CM code"), max_length=8, blank=True)
    diagnosis_comment = models.TextField(_("diagnosis comment"), blank=True)
    treatment_verdict = models.CharField(
        _("treatment"), max_length=12, choices=TreatmentVerdict.choices, blank=True
    )
    treatment_recommendation = models.TextField(_("treatment recommendation"), blank=True)
    answers = models.JSONField(_("answers to the patient's questions"), default=dict, blank=True)
    further_tests = models.TextField(_("recommended further tests"), blank=True)
    narrative = models.TextField(_("narrative"), blank=True)
    confidence = models.CharField(_("confidence"), max_length=10, choices=Confidence.choices, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    amendment_reason = models.TextField(_("reason for amendment"), blank=True)

    class Meta:
        ordering = ["case", "-version"]
        constraints = [models.UniqueConstraint(fields=["case", "version"], name="unique_opinion_version")]

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
    """Access to the report given to the treating physician through a secret link."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="report_shares")
    recipient_name = models.CharField(_("recipient name"), max_length=200)
    recipient_email = models.EmailField(_("recipient email"))
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_viewed_at = models.DateTimeField(null=True, blank=True)
