"""Forms of the program pages: they collect input; the services validate it and name the fields at fault."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from konsil.cases.choices import LANGUAGE_CHOICES, STATE_CHOICES, Sex
from konsil.core.widgets import DateInput

from .models import Eligibility, Pricing, Service


def put_errors(form, exc) -> None:
    """A DomainError's field messages on the form's fields (others on the form)."""
    for name, messages in exc.as_dict()["errors"].items():
        name = getattr(form, "FIELD_OF", {}).get(name, name)  # the service's name -> the form's field
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
    if not form.errors:
        form.add_error(None, str(exc.message))


class EligibilityForm(forms.Form):
    member_id = forms.CharField(label=_("Member id"), max_length=40, help_text=_("As on your benefits card."))
    family_name = forms.CharField(label=_("Family name"), max_length=100)
    birth_date = forms.CharField(label=_("Birth date"), max_length=10,
                                 widget=DateInput())
    service = forms.ChoiceField(label=_("Service"), choices=Service.choices, initial=Service.WRITTEN)

    def __init__(self, *args, program=None, **kwargs):
        super().__init__(*args, **kwargs)
        if program is not None:
            if program.services:
                self.fields["service"].choices = [c for c in Service.choices if c[0] in program.services]
            if program.eligibility == Eligibility.OPEN:
                del self.fields["member_id"]
                self.fields["enrolment_code"] = forms.CharField(label=_("Enrolment code"), max_length=16)


class StartForm(EligibilityForm):
    given_name = forms.CharField(label=_("Given name"), max_length=100)
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices)
    state = forms.ChoiceField(label=_("US state where you live"), choices=[("", "—"), *STATE_CHOICES],
                              required=False)
    self_pay = forms.BooleanField(label=_("Continue as self-pay at the price shown"), required=False)


class AcceptForm(forms.Form):
    family_name = forms.CharField(label=_("Family name"), max_length=100)
    birth_date = forms.CharField(label=_("Birth date"), max_length=10, widget=DateInput())
    state = forms.ChoiceField(label=_("US state where you live"), choices=[("", "—"), *STATE_CHOICES],
                              required=False)
    share_with_payer = forms.BooleanField(
        label=_("Let my health plan read the full report (otherwise it sees only the determination)"),
        required=False)


class ProgramForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    welcome = forms.CharField(label=_("Welcome text for members"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3}))
    accent = forms.CharField(label=_("Accent colour"), required=False, max_length=7,
                             help_text=_("A colour like #1d4ed8 for the member page."))
    languages = forms.MultipleChoiceField(label=_("Languages"), choices=LANGUAGE_CHOICES, required=False,
                                          widget=forms.CheckboxSelectMultiple)
    services = forms.MultipleChoiceField(label=_("Covered services"), choices=Service.choices,
                                         widget=forms.CheckboxSelectMultiple)
    eligibility = forms.ChoiceField(label=_("Eligibility"), choices=Eligibility.choices, widget=forms.RadioSelect)
    pricing = forms.ChoiceField(label=_("Price terms"), choices=Pricing.choices, widget=forms.RadioSelect)
    rate_written = forms.CharField(label=_("Case rate: written opinion"), required=False, max_length=16)
    rate_video = forms.CharField(label=_("Case rate: video consult"), required=False, max_length=16)
    rate_phone = forms.CharField(label=_("Case rate: phone consult"), required=False, max_length=16)
    rate_panel = forms.CharField(label=_("Case rate: panel review"), required=False, max_length=16)
    pmpm = forms.CharField(label=_("Per member per month"), required=False, max_length=16)
    self_pay = forms.CharField(label=_("Self-pay price"), required=False, max_length=16)
    payer_id = forms.CharField(label=_("Payer id for claims (837P)"), required=False, max_length=80)
    mandated = forms.CharField(
        label=_("Mandated procedures"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One a line: CPT | procedure | days to decide (e.g. 22630 | Lumbar fusion | 14)."))
    contacts = forms.CharField(label=_("Contact people"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                               help_text=_("One a line: name | email | phone | role."))
    active = forms.BooleanField(label=_("Active (the member page is open)"), required=False)

    RATES = ("written", "video", "phone", "panel")
    PRICE_FIELDS = ("pricing", "rate_written", "rate_video", "rate_phone", "rate_panel", "pmpm", "self_pay")
    FIELD_OF = {"pmpm_cents": "pmpm", "self_pay_cents": "self_pay", "mandated_procedures": "mandated",
                "case_rates": "rate_written", "decision_days": "mandated",
                **{f"case_rates.{k}": f"rate_{k}" for k in ("written", "video", "phone", "panel")}}

    def __init__(self, *args, prices_editable: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not prices_editable:  # shown, not posted: the form keeps the stored terms (programs.price)
            for name in self.PRICE_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Set by the network's admins.")

    @classmethod
    def initial_for(cls, program) -> dict:
        money = lambda cents: f"{cents / 100:.2f}"  # noqa: E731
        return {
            "name": program.name, "welcome": program.welcome, "accent": program.accent,
            "languages": program.languages, "services": program.services, "eligibility": program.eligibility,
            "pricing": program.pricing, "pmpm": money(program.pmpm_cents), "self_pay": money(program.self_pay_cents),
            "payer_id": program.payer_id, "active": program.active,
            **{f"rate_{k}": money(program.case_rates[k]) for k in cls.RATES if k in program.case_rates},
            "mandated": "\n".join(f"{m.cpt} | {m.description} | {m.decision_days}"
                                  for m in program.mandated_procedures.all()),
            "contacts": "\n".join(" | ".join(c.get(k, "") for k in ("name", "email", "phone", "role"))
                                  for c in program.contacts),
        }

    def service_data(self) -> dict:
        d = self.cleaned_data
        rates = {k: _cents(d[f"rate_{k}"]) for k in self.RATES if d.get(f"rate_{k}")}
        mandated = []
        for line in (d.get("mandated") or "").splitlines():
            parts = [p.strip() for p in line.split("|")]
            if any(parts):
                mandated.append({"cpt": parts[0], "description": parts[1] if len(parts) > 1 else "",
                                 "decision_days": parts[2] if len(parts) > 2 and parts[2] else 14})
        contacts = []
        for line in (d.get("contacts") or "").splitlines():
            parts = [p.strip() for p in line.split("|")] + ["", "", "", ""]
            if any(parts):
                contacts.append(dict(zip(("name", "email", "phone", "role"), parts[:4], strict=True)))
        return {"name": d["name"], "welcome": d["welcome"], "accent": d["accent"], "languages": d["languages"],
                "services": d["services"], "eligibility": d["eligibility"], "pricing": d["pricing"],
                "case_rates": rates, "pmpm_cents": _cents(d.get("pmpm")), "self_pay_cents": _cents(d.get("self_pay")),
                "payer_id": d["payer_id"], "active": d["active"], "mandated_procedures": mandated,
                "contacts": contacts}


def _cents(value) -> int | str:
    """Dollars typed on the page -> cents for the service ("" stays 0; bad text is reported by the service)."""
    value = (value or "").replace(",", "").strip()
    if not value:
        return 0
    try:
        return round(float(value) * 100)
    except (ValueError, OverflowError):
        return value


class RosterForm(forms.Form):
    file = forms.FileField(label=_("Roster file (CSV or X12 834)"))


class RosterSearchForm(forms.Form):
    """Find members on the roster page (GET): by member id, birth date and coverage today."""

    member_id = forms.CharField(label=_("Member id"), max_length=40, required=False,
                                help_text=_("The start of the id is enough; a subscriber's id also finds their "
                                            "dependants."))
    birth_date = forms.DateField(label=_("Birth date"), required=False, widget=DateInput())
    coverage = forms.ChoiceField(label=_("Coverage"), required=False, choices=[
        ("", _("Everyone")), ("covered", _("Covered today")), ("ended", _("Coverage ended")),
        ("future", _("Coverage starts later"))])

    def clean_member_id(self):
        return self.cleaned_data["member_id"].strip()


class ReferralForm(forms.Form):
    member_id = forms.CharField(label=_("Member id"), max_length=40)
    requesting_npi = forms.CharField(label=_("Requesting provider's NPI"), max_length=10)
    requesting_name = forms.CharField(label=_("Requesting provider"), max_length=200, required=False)
    cpt = forms.CharField(label=_("Proposed procedure (CPT)"), max_length=5)
    procedure_text = forms.CharField(label=_("Proposed procedure in words"), max_length=2000,
                                     widget=forms.Textarea(attrs={"rows": 2}))
    diagnoses = forms.CharField(label=_("Diagnoses (ICD-10-CM codes)"), max_length=200,
                                help_text=_("Separate codes with commas, e.g. M48.062, M54.16."))
    deadline = forms.CharField(label=_("Decision deadline"), max_length=10, required=False,
                               widget=DateInput(),
                               help_text=_("Empty: the program's deadline for this procedure."))
    email = forms.EmailField(label=_("Member's email for the invitation"), required=False)


class InvoiceForm(forms.Form):
    period_start = forms.CharField(label=_("Period starts"), max_length=10,
                                   widget=DateInput())
    period_end = forms.CharField(label=_("Period ends"), max_length=10, widget=DateInput())


class PaymentForm(forms.Form):
    amount = forms.CharField(label=_("Amount received"), max_length=16)
    reference = forms.CharField(label=_("Receipt or transfer reference"), max_length=80)


class RecommendForm(forms.Form):
    recommended_cpt = forms.CharField(label=_("Recommended procedure (CPT), if any"), max_length=5, required=False)


class ShareForm(forms.Form):
    share_with_payer = forms.TypedChoiceField(
        label=_("May your health plan read the full report?"), widget=forms.RadioSelect,
        coerce=lambda v: v == "yes",
        choices=[("yes", _("Yes, the plan may read the full report")),
                 ("no", _("No, the plan sees only the determination"))])


class NewProgramForm(ProgramForm):
    """A new program: who sponsors it, which network serves it, and its address, then the same terms."""

    sponsor = forms.ChoiceField(label=_("Sponsor (payer or employer)"))
    network = forms.ChoiceField(label=_("Provider network"))
    slug = forms.SlugField(label=_("Address of the member page"), max_length=80, required=False,
                           help_text=_("Letters, digits and hyphens; empty: made from the name."))
    field_order = ["sponsor", "network", "name", "slug"]

    def __init__(self, *args, sponsors=(), networks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sponsor"].choices = [("", "—"), *[(o.slug, o.name) for o in sponsors]]
        self.fields["network"].choices = [("", "—"), *[(o.slug, o.name) for o in networks]]
        self.order_fields(self.field_order)

    def service_data(self) -> dict:
        d = self.cleaned_data
        return {**super().service_data(), "sponsor": d["sponsor"], "network": d["network"], "slug": d["slug"]}


class BillingProfileForm(forms.Form):
    npi = forms.CharField(label=_("Billing NPI"), max_length=10)
    tax_id = forms.CharField(label=_("Tax id (EIN)"), max_length=12, help_text=_("Nine digits, like 12-3456789."))
    address = forms.CharField(label=_("Address"), max_length=110)
    city = forms.CharField(label=_("City"), max_length=60)
    state = forms.ChoiceField(label=_("State"), choices=[("", "—"), *STATE_CHOICES])
    postal_code = forms.CharField(label=_("ZIP code"), max_length=10)
    phone = forms.CharField(label=_("Billing phone"), max_length=20)
    submitter_id = forms.CharField(label=_("Submitter id (837P)"), max_length=40,
                                   help_text=_("The id your clearinghouse gave you."))
