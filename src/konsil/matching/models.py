"""Specialty catalog, specialist directory, licensure rules, network weights and batch-assignment proposals."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.fields import EncryptedJSONField
from konsil.core.models import BaseModel

from . import profile
from .npi import validate_npi


class Specialty(models.Model):
    """A routing specialty or subspecialty, with its NUCC taxonomy code."""

    code = models.SlugField(primary_key=True, max_length=64)
    name = models.CharField(_("name"), max_length=120)
    nucc_code = models.CharField(_("NUCC taxonomy code"), max_length=10, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="subspecialties"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "specialties"

    def __str__(self) -> str:
        from django.utils.translation import gettext

        return gettext(self.name)  # the catalogue's names are translated like any clinical vocabulary


def default_delivery_modes() -> list[str]:
    return ["written"]


class Specialist(BaseModel):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="specialist")
    network = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="specialists"
    )
    npi = models.CharField(_("NPI"), max_length=10, unique=True, validators=[validate_npi])
    specialties = models.ManyToManyField(Specialty, related_name="specialists")
    subspecialties = models.ManyToManyField(Specialty, related_name="subspecialists", blank=True,
                                            verbose_name=_("subspecialties"))
    board_certifications = models.JSONField(_("board certifications"), default=list, blank=True,
                                            validators=[profile.validate_board_certifications],
                                            help_text=_('[{"board", "specialty", "expires_on": "YYYY-MM-DD"}]'))
    imlc = models.BooleanField(_("participates in the Interstate Medical Licensure Compact"), default=False)
    languages = models.JSONField(_("languages"), default=list, validators=[profile.validate_languages])
    institution = models.CharField(_("institution"), max_length=200, blank=True)
    affiliations = models.JSONField(_("affiliations"), default=list, blank=True, validators=[profile.validate_names],
                                    help_text=_("Other institutions (for conflicts of interest)"))
    capacity = models.PositiveSmallIntegerField(_("capacity (active cases)"), default=5)
    weekly_hours = models.PositiveSmallIntegerField(_("weekly hours"), null=True, blank=True,
                                                    validators=[MaxValueValidator(168)])
    accepting = models.BooleanField(_("accepting new cases"), default=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="America/New_York")
    availability = models.JSONField(_("availability"), default=list, blank=True,
                                    validators=[profile.validate_availability],
                                    help_text=_('Weekly slots in the specialist\'s time zone: '
                                                '[{"day": 0-6, "start": "HH:MM", "end": "HH:MM"}]'))
    turnaround_hours = models.PositiveIntegerField(_("turnaround commitment (hours)"), default=72,
                                                   validators=[MinValueValidator(1)])
    delivery_modes = models.JSONField(_("delivery modes"), default=default_delivery_modes,
                                      validators=[profile.validate_delivery_modes])
    in_person_location = models.CharField(_("in-person location"), max_length=200, blank=True)
    fee = models.DecimalField(_("fee"), max_digits=10, decimal_places=2, null=True, blank=True,
                              validators=[MinValueValidator(0)])
    fee_currency = models.CharField(_("fee currency"), max_length=3, default="USD")
    on_time_rate = models.FloatField(_("on-time rate"), null=True, blank=True, validators=[profile.validate_fraction])
    completed_cases = models.PositiveIntegerField(_("completed cases"), default=0)
    peer_review_score = models.FloatField(_("peer review score"), null=True, blank=True,
                                          validators=[profile.validate_fraction])

    class Meta:
        # Names are encrypted, so the database cannot order by them: a lasting order on a clear column here, and
        # lists shown to people sorted by name in Python (selectors.by_name / ids_by_name).
        ordering = ["npi"]

    def __str__(self) -> str:
        return self.user.display_name

    @property
    def quality(self) -> float | None:
        """One quality signal in [0, 1]: the mean of the on-time rate and the peer review score known."""
        known = [v for v in (self.on_time_rate, self.peer_review_score) if v is not None]
        return sum(known) / len(known) if known else None


class License(BaseModel):
    """A licence (or a state telehealth registration) in a US state, or abroad when `country` is not US."""

    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE, related_name="licenses")
    country = models.CharField(_("country"), max_length=2, default="US")
    state = models.CharField(_("state"), max_length=2, blank=True)
    number = models.CharField(_("license number"), max_length=40)
    expires_on = models.DateField(_("expires on"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["specialist", "country", "state"],
                                               name="one_license_per_jurisdiction")]



class LicensureRule(BaseModel):
    """Who may give an opinion to a patient located in a jurisdiction (see data/README.md); admin-editable."""

    class Kind(models.TextChoices):
        STATE = "state", _("US state")
        COUNTRY = "country", _("Country")

    class Direct(models.TextChoices):
        ALLOWED = "allowed", _("Allowed directly to the patient")
        CONSULT_ONLY = "consult_only", _("Only in consultation with a local physician")
        NOT_ALLOWED = "not_allowed", _("Not allowed (a local licence is required)")

    code = models.CharField(_("code"), max_length=2, help_text=_("USPS state code or ISO 3166-1 country code"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120)
    direct_to_patient = models.CharField(_("out-of-jurisdiction opinions"), max_length=16, choices=Direct.choices)
    imlc_member = models.BooleanField(_("IMLC member"), default=False)
    source = models.TextField(_("source"))
    as_of = models.DateField(_("as of"))
    notes = models.TextField(_("notes"), blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["kind", "code"]
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="one_rule_per_jurisdiction")]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class NetworkWeights(BaseModel):
    """A provider network's soft-factor weights (scoring.Weights fields; missing ones take the defaults)."""

    network = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="matching_weights")
    weights = models.JSONField(_("weights"), default=dict, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name_plural = "network weights"

    def __str__(self) -> str:
        return str(self.network)


class ExpiryWarning(BaseModel):
    """One warning sent for one credential and its expiry date (so each is warned once per window)."""

    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE, related_name="expiry_warnings")
    kind = models.CharField(max_length=8)  # license | board
    item = models.CharField(max_length=200)
    expires_on = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["specialist", "kind", "item", "expires_on"],
                                               name="one_warning_per_credential_expiry")]


class AssignmentRun(BaseModel):
    """One batch assignment of a network's triaged, unoffered cases."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    network = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="assignment_runs")
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.QUEUED)
    trigger = models.CharField(_("trigger"), max_length=12, default="schedule")  # schedule | manual
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)
    cases = models.PositiveIntegerField(default=0)
    assigned = models.PositiveIntegerField(default=0)
    objective = models.FloatField(default=0.0)
    seconds = models.FloatField(default=0.0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]


class BatchProposal(BaseModel):
    """A run's proposal for one case: a specialist (or none, with the reasons why), for a coordinator to offer."""

    class State(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        OFFERED = "offered", _("Offered")
        SUPERSEDED = "superseded", _("Superseded")

    run = models.ForeignKey(AssignmentRun, on_delete=models.CASCADE, related_name="proposals")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="batch_proposals")
    specialist = models.ForeignKey(Specialist, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(null=True, blank=True)
    reasons = models.JSONField(default=list)
    factors = models.JSONField(default=list)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PROPOSED)
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["run", "-score"]


class RoutingSetting(BaseModel):
    """A provider network's auto-routing switch (edited by its org admins): when on, a submitted case whose triage
    is confident is offered to the top-ranked eligible specialist with no person in between."""

    network = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="routing_setting")
    auto_route = models.BooleanField(_("route confident cases automatically"), default=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    def __str__(self) -> str:
        return f"{self.network}: {'on' if self.auto_route else 'off'}"


class RoutingOutcome(BaseModel):
    """What auto-routing did with a submitted case: offered it, or gave it to the coordinators with the reasons."""

    class Outcome(models.TextChoices):
        OFFERED = "offered", _("offered automatically")
        COORDINATORS = "coordinators", _("needs a coordinator")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="routing_outcomes")
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    # lines in the deployment's language, or triage reasons in their stored form ({"key", "params"}), which may
    # quote the patient's words: sealed at rest like the proposal they come from
    reasons = EncryptedJSONField(_("reasons"), default=list)
    red_flag = models.BooleanField(_("red flag"), default=False)
    specialist = models.ForeignKey(Specialist, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    seconds = models.FloatField(_("seconds from submission"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def lines(self) -> list[str]:
        """The reasons in the reader's language (triage's stored reasons re-worded; catalog messages translated)."""
        from konsil.triage.reasons import render_one

        return [line for line in (render_one(item) for item in self.reasons or []) if line]
