"""Sponsor programs: who funds second opinions (payer or employer), their members, mandates and billing.

Names here are plain on purpose (analytics reads them): Program, MandatedProcedure, Member, RosterImport,
Enrollment, Mandate, Determination, ProgramEvent, Invoice, InvoiceLine, Claim, Payment.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from konsil.core.fields import BlindIndexField, EncryptedDateField, EncryptedTextField, with_indexes
from konsil.core.models import BaseModel

USER = settings.AUTH_USER_MODEL


class Service(models.TextChoices):
    WRITTEN = "written", _("Written opinion")
    VIDEO = "video", _("Video consult")
    PHONE = "phone", _("Phone consult")
    PANEL = "panel", _("Panel review")


class Eligibility(models.TextChoices):
    ROSTER = "roster", _("Members on the roster")
    OPEN = "open", _("Open with the enrolment code")


class Pricing(models.TextChoices):
    CASE_RATE = "case_rate", _("Case rate per service")
    PMPM = "pmpm", _("Per member per month")
    CLAIM = "claim", _("Per claim (837P)")


def new_enrolment_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
    return "".join(secrets.choice(alphabet) for _ in range(8))


class Program(BaseModel):
    """A sponsor (payer or employer) funding second opinions from a provider network, on its terms."""

    sponsor = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="programs")
    network = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="network_programs")
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("address"), max_length=80, unique=True)
    enrolment_code = models.CharField(_("enrolment code"), max_length=16, unique=True, default=new_enrolment_code)
    welcome = models.TextField(_("welcome text for members"), max_length=2000, blank=True)
    accent = models.CharField(_("accent colour"), max_length=7, blank=True)  # "#1d4ed8": checked by services
    languages = models.JSONField(_("languages"), default=list)  # ["en", "es"]
    services = models.JSONField(_("covered services"), default=list)  # Service values
    specialties = models.ManyToManyField("matching.Specialty", blank=True, related_name="programs",
                                         verbose_name=_("covered specialties"))  # none: every specialty
    eligibility = models.CharField(_("eligibility"), max_length=12, choices=Eligibility.choices,
                                   default=Eligibility.ROSTER)
    pricing = models.CharField(_("price terms"), max_length=12, choices=Pricing.choices, default=Pricing.CASE_RATE)
    case_rates = models.JSONField(_("case rates (cents per service)"), default=dict)  # {"written": 75000}
    pmpm_cents = models.PositiveIntegerField(_("per member per month (cents)"), default=0)
    self_pay_cents = models.PositiveIntegerField(_("self-pay price (cents)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    contacts = models.JSONField(_("contact people"), default=list)  # [{"name", "email", "phone", "role"}]
    payer_id = models.CharField(_("payer id (837P)"), max_length=80, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MandatedProcedure(BaseModel):
    """A procedure (CPT) that needs a second opinion before the sponsor authorizes it, and the decision time."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="mandated_procedures")
    cpt = models.CharField(_("CPT code"), max_length=5)
    description = models.CharField(_("procedure"), max_length=200)
    decision_days = models.PositiveSmallIntegerField(_("decision deadline (days)"), default=14)

    class Meta:
        ordering = ["cpt"]
        constraints = [models.UniqueConstraint(fields=["program", "cpt"], name="unique_program_mandate_cpt")]

    def __str__(self) -> str:
        return f"{self.cpt} {self.description}"


class Relationship(models.TextChoices):
    SUBSCRIBER = "subscriber", _("Subscriber")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    OTHER = "other", _("Other dependant")


class Member(BaseModel):
    """One covered person on a program's roster (subscriber or dependant) with one coverage period."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="members")
    member_id = models.CharField(_("member id"), max_length=40)
    subscriber_id = models.CharField(_("subscriber id"), max_length=40, blank=True)
    relationship = models.CharField(_("relationship"), max_length=12, choices=Relationship.choices,
                                    default=Relationship.SUBSCRIBER)
    given_name = EncryptedTextField(_("given name"))
    family_name = EncryptedTextField(_("family name"))
    birth_date = EncryptedDateField(_("birth date"))
    # Eligibility looks members up by member id and this keyed hash (Member.matching_birth_date), never the clear date.
    birth_date_index = BlindIndexField(of="birth_date")
    sex = models.CharField(_("sex"), max_length=8, blank=True)
    address = EncryptedTextField(_("address"), blank=True)
    city = EncryptedTextField(_("city"), blank=True)
    state = models.CharField(_("state"), max_length=2, blank=True)
    postal_code = models.CharField(_("ZIP code"), max_length=10, blank=True)
    coverage_start = models.DateField(_("coverage starts"))
    coverage_end = models.DateField(_("coverage ends"), null=True, blank=True)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of the roster values: re-imports change nothing

    class Meta:
        ordering = ["member_id"]
        constraints = [models.UniqueConstraint(fields=["program", "member_id"], name="unique_program_member")]

    def save(self, *args, **kwargs):
        kwargs["update_fields"] = with_indexes(type(self), kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    @classmethod
    def matching_birth_date(cls, birth_date) -> models.Q:
        return cls._meta.get_field("birth_date_index").matches(birth_date)

    def coverage_on(self, day) -> str:
        """"covered", "ended" or "future" (coverage starts later) on that day."""
        if self.coverage_start > day:
            return "future"
        return "ended" if self.coverage_end is not None and self.coverage_end < day else "covered"


class RosterImport(BaseModel):
    """One roster file imported: its hash, format, counts and per-row report (row numbers and codes, no PHI)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="roster_imports")
    format = models.CharField(max_length=8)  # "csv" or "834"
    sha256 = models.CharField(max_length=64)
    summary = models.JSONField(default=dict)  # {"added", "changed", "terminated", "unchanged", "rejected"}
    imported_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]


class Enrollment(BaseModel):
    """A case funded (or offered) by a program: its member, the eligibility found and any self-pay terms."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="enrollment")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrollments")
    service = models.CharField(_("service"), max_length=12, choices=Service.choices, default=Service.WRITTEN)
    eligible = models.BooleanField(_("eligible"), default=False)
    reason = models.CharField(_("eligibility reason"), max_length=32, blank=True)  # eligibility.REASONS code
    reason_date = models.DateField(null=True, blank=True)  # the termination date a reason names
    checked_on = models.DateField(_("checked for"), null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    self_pay = models.BooleanField(_("self-pay"), default=False)
    price_cents = models.PositiveIntegerField(_("price (cents)"), default=0)

    class Meta:
        ordering = ["-created_at"]

    @property
    def reason_message(self) -> str:
        from .eligibility import REASONS

        text = REASONS.get(self.reason)
        if text is None:
            return ""
        return str(text) % {"date": self.reason_date.isoformat() if self.reason_date else ""}


class Mandate(BaseModel):
    """A mandated second opinion a payer's care manager referred before authorizing a procedure."""

    class State(models.TextChoices):
        INVITED = "invited", _("Member invited")
        IN_PROGRESS = "in_progress", _("In progress")
        DETERMINED = "determined", _("Determination issued")
        CANCELLED = "cancelled", _("Cancelled")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="mandates")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="mandates")
    case = models.OneToOneField("cases.Case", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="mandate")
    requesting_npi = models.CharField(_("requesting provider NPI"), max_length=10)
    requesting_name = models.CharField(_("requesting provider"), max_length=200, blank=True)
    cpt = models.CharField(_("proposed procedure (CPT)"), max_length=5)
    procedure_text = EncryptedTextField(_("proposed procedure"))
    diagnoses = models.JSONField(_("diagnoses (ICD-10-CM)"), default=list)
    deadline = models.DateField(_("decision deadline"))
    state = models.CharField(max_length=12, choices=State.choices, default=State.INVITED)
    invite_email = EncryptedTextField(_("member's email"), blank=True)
    invite_token = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe)
    referred_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    share_clinical = models.BooleanField(default=False)  # the member's consent lets the payer read the report
    recommended_cpt = models.CharField(_("recommended procedure (CPT)"), max_length=5, blank=True)  # specialist

    class Meta:
        ordering = ["deadline", "created_at"]


class Outcome(models.TextChoices):
    AGREE = "agree", _("Agree")
    MODIFY = "modify", _("Modify")
    ALTERNATIVE = "alternative", _("Alternative")
    AGAINST = "against", _("Recommend against")


class Determination(BaseModel):
    """The structured result of a mandated review: what the payer sees (never the narrative)."""

    mandate = models.OneToOneField(Mandate, on_delete=models.CASCADE, related_name="determination")
    outcome = models.CharField(_("determination"), max_length=12, choices=Outcome.choices)
    recommended_cpt = models.CharField(_("recommended procedure (CPT)"), max_length=5, blank=True)
    decided_on = models.DateField(_("date"))
    opinion = models.ForeignKey("opinions.Opinion", null=True, on_delete=models.SET_NULL, related_name="+")
    diagnosis_changed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-decided_on"]


class ProgramEvent(BaseModel):
    """An outbox of webhook-ready events for the sponsor ({"type", "timestamp", "data"}: ids and codes only)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=48)
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]


class Invoice(BaseModel):
    """A sponsor's invoice for one program and period; lines refer to cases by reference only."""

    class State(models.TextChoices):
        ISSUED = "issued", _("Issued")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="invoices")
    sponsor = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(_("number"), max_length=32, unique=True)
    period_start = models.DateField(_("period starts"))
    period_end = models.DateField(_("period ends"))
    pricing = models.CharField(max_length=12, choices=Pricing.choices)
    total_cents = models.BigIntegerField(_("total (cents)"), default=0)
    currency = models.CharField(max_length=3, default="USD")
    state = models.CharField(max_length=8, choices=State.choices, default=State.ISSUED)
    issued_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-period_start"]
        constraints = [models.UniqueConstraint(fields=["program", "period_start", "period_end"],
                                               condition=~models.Q(state="void"), name="one_invoice_per_period")]


class InvoiceLine(BaseModel):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    case_reference = models.CharField(_("case"), max_length=16, blank=True)
    service = models.CharField(_("service"), max_length=12, blank=True)
    description = models.CharField(_("description"), max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_cents = models.BigIntegerField(default=0)
    amount_cents = models.BigIntegerField(default=0)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]


class Claim(BaseModel):
    """A professional claim (ANSI X12 837P 005010X222A1) for one delivered service of a program case."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="claims")
    control_number = models.CharField(max_length=9, unique=True)
    cpt = models.CharField(max_length=5)
    diagnoses = models.JSONField(default=list)
    amount_cents = models.BigIntegerField()
    x12 = EncryptedTextField()  # holds PHI: served only to the sponsor and the network, every read audited
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]


class Payment(BaseModel):
    """A self-pay payment recorded through a payment provider ("manual" in the embedded default)."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=32, default="manual")
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    reference = models.CharField(_("payment reference"), max_length=80, blank=True)
    state = models.CharField(max_length=12, default="recorded")
    recorded_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]


class BillingProfile(BaseModel):
    """How a provider network bills: the billing provider of its 837P claims (NPI, tax id, address)."""

    network = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="billing_profile")
    npi = models.CharField(_("billing NPI"), max_length=10)
    tax_id = models.CharField(_("tax id (EIN)"), max_length=9)
    address = models.CharField(_("address"), max_length=110)
    city = models.CharField(_("city"), max_length=60)
    state = models.CharField(_("state"), max_length=2)
    postal_code = models.CharField(_("ZIP code"), max_length=10)
    phone = models.CharField(_("billing phone"), max_length=20)
    submitter_id = models.CharField(_("submitter id"), max_length=40)
