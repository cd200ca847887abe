"""What became of a second opinion: follow-up questionnaires (FHIR Questionnaire / QuestionnaireResponse shapes),
the outcome record per case and the cost table that prices it.

Other apps (analytics) read `Outcome`: plan_changed, procedure_avoided, cost_difference, nps.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.fields import EncryptedTextField
from konsil.core.models import BaseModel

USER = settings.AUTH_USER_MODEL


class Respondent(models.TextChoices):
    PATIENT = "patient", _("Patient")
    PHYSICIAN = "physician", _("Treating physician")


class FollowUpStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENT = "sent", _("Sent, waiting for an answer")
    ANSWERED = "answered", _("Answered")
    NO_RESPONSE = "no_response", _("No response")
    CANCELLED = "cancelled", _("Cancelled")


class FollowUp(BaseModel):
    """One questionnaire for one respondent at one interval after delivery (30 or 90 days by default).

    The e-mailed link carries a secret in its fragment (never sent to the server in a URL); only its SHA-256 is
    kept here. The answer is a FHIR QuestionnaireResponse (JSON, encrypted at rest). A questionnaire nobody answers
    is closed as `no_response`: never guessed."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="follow_ups")
    respondent = models.CharField(_("respondent"), max_length=12, choices=Respondent.choices)
    day = models.PositiveSmallIntegerField(_("days after delivery"))
    questionnaire = models.CharField(max_length=120)  # canonical URL|version of the Questionnaire used
    due_at = models.DateTimeField(_("due at"))
    language = models.CharField(_("language"), max_length=8, default="en")
    email = EncryptedTextField(_("email"), blank=True)
    status = models.CharField(_("status"), max_length=12, choices=FollowUpStatus.choices,
                              default=FollowUpStatus.SCHEDULED)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    expires_at = models.DateTimeField(_("link expires at"), null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    answered_via = models.CharField(max_length=12, blank=True)  # "link" | "case_page"
    response = EncryptedTextField(blank=True)  # QuestionnaireResponse JSON
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [models.Index(fields=["status", "due_at"])]
        constraints = [models.UniqueConstraint(fields=["case", "respondent", "day"],
                                               name="one_follow_up_per_respondent_and_day")]


class YesNoUnknown(models.TextChoices):
    YES = "yes", _("Yes")
    NO = "no", _("No")
    UNKNOWN = "unknown", _("Unknown")


class Followed(models.TextChoices):
    YES = "yes", _("Yes")
    PARTLY = "partly", _("Partly")
    NO = "no", _("No")
    UNKNOWN = "unknown", _("Unknown")


class ProcedureStatus(models.TextChoices):
    DONE = "done", _("Done as proposed")
    CHANGED = "changed", _("Changed to another treatment")
    AVOIDED = "avoided", _("Avoided")
    PENDING = "pending", _("Not decided yet")
    UNKNOWN = "unknown", _("Unknown")


class PatientStatus(models.TextChoices):
    BETTER = "better", _("Better")
    SAME = "same", _("About the same")
    WORSE = "worse", _("Worse")
    UNKNOWN = "unknown", _("Unknown")


class CostEntry(BaseModel):
    """An editable price of a procedure (by CPT code) with its public source and year."""

    code = models.CharField(_("CPT code"), max_length=5)
    description = models.CharField(_("description"), max_length=200)
    amount = models.DecimalField(_("typical cost"), max_digits=12, decimal_places=2,
                                 validators=[MinValueValidator(0)])
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    source = models.CharField(_("source"), max_length=300)
    source_url = models.URLField(_("source address"), max_length=300, blank=True)
    year = models.PositiveSmallIntegerField(_("year"), validators=[MinValueValidator(1990), MaxValueValidator(2100)])
    updated_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["code", "-year"]
        verbose_name_plural = "cost entries"
        constraints = [models.UniqueConstraint(fields=["code", "year", "currency"], name="one_cost_per_code_year")]

    def __str__(self) -> str:
        return f"{self.code} {self.description} ({self.year})"


class Outcome(BaseModel):
    """The case's outcome record, built from the follow-up answers (the physician's word on the clinical plan
    first, then the patient's) and the cost table; `unknown` until someone says otherwise.

    cost_difference = cost of the care that followed − cost of the proposed procedure (negative: money saved);
    None when it cannot be estimated (no price for the proposed code, or the procedure's fate unknown)."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="outcome")
    recommendation_followed = models.CharField(_("recommendation followed"), max_length=8,
                                               choices=Followed.choices, default=Followed.UNKNOWN)
    diagnosis_changed = models.CharField(_("diagnosis changed"), max_length=8, choices=YesNoUnknown.choices,
                                         default=YesNoUnknown.UNKNOWN)
    plan_changed = models.CharField(_("treatment plan changed"), max_length=8, choices=YesNoUnknown.choices,
                                    default=YesNoUnknown.UNKNOWN)
    procedure_status = models.CharField(_("proposed procedure"), max_length=8, choices=ProcedureStatus.choices,
                                        default=ProcedureStatus.UNKNOWN)
    procedure_avoided = models.BooleanField(_("procedure avoided"), null=True, blank=True)
    patient_status = models.CharField(_("how the patient is"), max_length=8, choices=PatientStatus.choices,
                                      default=PatientStatus.UNKNOWN)
    nps = models.PositiveSmallIntegerField(_("likelihood to recommend (0-10)"), null=True, blank=True,
                                           validators=[MaxValueValidator(10)])
    alternative_code = models.CharField(_("CPT code of the care that followed"), max_length=5, blank=True)
    cost_proposed = models.ForeignKey(CostEntry, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    cost_alternative = models.ForeignKey(CostEntry, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    cost_difference = models.DecimalField(_("estimated cost difference"), max_digits=12, decimal_places=2,
                                          null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    answers = models.PositiveSmallIntegerField(_("follow-up answers"), default=0)
    non_responses = models.PositiveSmallIntegerField(_("follow-ups without an answer"), default=0)
    last_answer_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(nps__isnull=True) | models.Q(nps__lte=10),
                                              name="outcome_nps_0_10")]
