"""HTML forms of the case pages. They parse and render; the services hold the rules and have the last word."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext as _vocab  # catalog words (specialty names), in the reader's language
from django.utils.translation import gettext_lazy as _

from konsil.core import geo
from konsil.core.errors import DomainError
from konsil.core.widgets import DateInput

from . import signers
from .choices import (
    LANGUAGE_CHOICES,
    STATE_CHOICES,
    STATE_NAMED_CHOICES,
    ConsentScope,
    Delivery,
    Sex,
    SignerRelationship,
    Status,
    Urgency,
    country_choices,
)

BLANK = [("", "—")]


class RowsWidget(forms.Widget):
    """Several inputs sharing one name (questions, codes); the template draws the rows."""

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name) or []


class RowsField(forms.Field):
    """A list of non-blank, trimmed strings."""

    widget = RowsWidget

    def to_python(self, value):
        if isinstance(value, str):
            value = [value]
        return [str(v).strip() for v in (value or []) if str(v or "").strip()]

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")


def apply_error(form: forms.Form, exc: DomainError, *, prefix: str = "", fields_only: bool = False) -> bool:
    """Put a service's DomainError on the form: each message next to its field, the rest on top.

    With `fields_only`, messages that name no field of the form are left to the caller (a page banner).
    Returns whether every message found its place on the form.
    """
    placed, missed = False, False
    for key, messages in exc.as_dict()["errors"].items():
        name = key[len(prefix):] if prefix and key.startswith(prefix) else key
        known = name in form.fields
        for message in messages:
            if known or not fields_only:
                form.add_error(name if known else None, message)
                placed = True
            else:
                missed = True
    if not placed and not fields_only:
        form.add_error(None, str(exc.message))
        placed = True
    return placed and not missed


class OnBehalfMixin:
    """An intake form worded for the patient; `on_behalf=True` words it about the patient for someone filling it
    in for them (a referring clinician, a caregiver): ON_BEHALF maps a field to the attributes it replaces."""

    ON_BEHALF: dict[str, dict] = {}

    def __init__(self, *args, on_behalf: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        for name, words in self.ON_BEHALF.items() if on_behalf else ():
            for attr, text in words.items():
                setattr(self.fields[name], attr, text)


class PatientForm(forms.Form):
    """Intake step 1: who the patient is."""

    given_name = forms.CharField(label=_("Given name"), max_length=100)
    family_name = forms.CharField(label=_("Family name"), max_length=100)
    birth_date = forms.DateField(label=_("Birth date"), widget=DateInput(),
                                 error_messages={"invalid": _("Enter a date as YYYY-MM-DD.")})
    sex = forms.ChoiceField(label=_("Sex"), choices=BLANK + list(Sex.choices))
    country = forms.ChoiceField(label=_("Country where the patient lives"), choices=country_choices,
                                initial="US")
    state = forms.ChoiceField(label=_("US state"), choices=BLANK + STATE_NAMED_CHOICES, required=False,
                              help_text=_("Required when the patient lives in the United States."))
    state.condition = _("required in the US")  # not "(optional)": clean() asks for it when the country is the US
    county = forms.ChoiceField(label=_("County"), required=False, choices=(),
                               help_text=_("Optional: it tells rural from urban access (USDA codes), nothing else."))
    language = forms.ChoiceField(label=_("Preferred language"), choices=LANGUAGE_CHOICES, initial="en")
    email = forms.EmailField(label=_("Email"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)

    def clean(self):
        data = super().clean()
        if data.get("country") == "US" and not data.get("state"):
            self.add_error("state", _("Choose the US state where the patient lives."))
        if data.get("county") and not geo.county_in_state(data["county"], data.get("state") or ""):
            self.add_error("county", _("Choose a county of the patient's state."))
        return data

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["county"].choices = BLANK + geo.county_groups()

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["birth_date"] = data["birth_date"].isoformat()
        return data


class QuestionsForm(forms.Form):
    """Intake step 2: the questions for the specialist, one per row."""

    questions = RowsField(label=_("Your questions"),
                          error_messages={"required": _("Ask at least one question for the specialist.")})


class ClinicalForm(OnBehalfMixin, forms.Form):
    """Intake step 3, in the patient's own words: the diagnosis, the proposed treatment, the history; codes are
    optional (a lookup helps those who want them; Konsil suggests codes that the care team confirms)."""

    diagnosis_text = forms.CharField(
        label=_("What is the diagnosis? (in your own words)"), required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: breast cancer in the left breast, found in March."))
    diagnoses = RowsField(label=_("Diagnosis codes (ICD-10-CM, optional)"), required=False,
                          help_text=_("Only if you know them: type a word (e.g. breast) or a code (e.g. C50.9) "
                                      "to look it up. The care team adds codes for you otherwise."))
    proposed_treatment = forms.CharField(
        label=_("What treatment was proposed? (in your own words)"), required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example: surgery to remove the breast, then chemotherapy."))
    proposed_cpt = forms.CharField(label=_("CPT code of the treatment (optional)"), required=False, max_length=5)
    treating_physician = forms.CharField(label=_("Treating physician"), required=False, max_length=200)
    CODE_SHAPE = re.compile(r"^[A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?(\s+—.*)?$")
    treating_physician_email = forms.EmailField(label=_("Treating physician's email"), required=False)
    treating_facility = forms.CharField(label=_("Facility"), required=False, max_length=200)
    clinical_summary = forms.CharField(
        label=_("Your history and symptoms (in your own words)"), required=False, max_length=20000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What happened, when, which tests and treatments you had so far."))
    ON_BEHALF = {"clinical_summary": {
        "label": _("The patient's history and symptoms"),
        "help_text": _("What happened, when, which tests and treatments the patient had so far.")}}

    @classmethod
    def _is_words(cls, row: str) -> bool:
        """Plain words ("breast cancer", "cancer"), not a code, a picked lookup entry or a mistyped code."""
        return not cls.CODE_SHAPE.match(row) and (" " in row.strip() or not any(c.isdigit() for c in row))

    def clean(self):
        """Words typed in a code box ("breast cancer") join the diagnosis in words rather than being refused."""
        data = super().clean()
        rows = data.get("diagnoses") or []
        words = [row for row in rows if self._is_words(row)]
        if words and "diagnosis_text" in data:
            data["diagnoses"] = [row for row in rows if not self._is_words(row)]
            data["diagnosis_text"] = "\n".join([data["diagnosis_text"], *words]).strip()[:5000]
        return data


class PreferencesForm(OnBehalfMixin, forms.Form):
    """Intake step 4: urgency and how the opinion is delivered."""

    urgency = forms.ChoiceField(label=_("How urgent is it?"), choices=[  # plain words, not the care team's "STAT"
        (Urgency.ROUTINE, _("Routine: no treatment decision is due in the next weeks")),
        (Urgency.URGENT, _("Urgent: a treatment decision is due within days")),
        (Urgency.STAT, _("Very urgent: a decision is due within a day or two"))], widget=forms.RadioSelect)
    preferred_delivery = forms.ChoiceField(label=_("How would you like to receive the opinion?"),
                                           choices=Delivery.choices, widget=forms.RadioSelect)
    interpreter_needed = forms.BooleanField(
        label=_("I need an interpreter"), required=False,
        help_text=_("Then a specialist who does not speak your language can take the case, with an interpreter."))
    ON_BEHALF = {"interpreter_needed": {
        "label": _("The patient needs an interpreter"),
        "help_text": _("Then a specialist who does not speak the patient's language can take the case, "
                       "with an interpreter.")}}

    def __init__(self, *args, covered=None, **kwargs):
        """`covered`: the deliveries the funding program pays for (None: no program, every one is offered)."""
        super().__init__(*args, **kwargs)
        field = self.fields["preferred_delivery"]
        offered = [(value, label) for value, label in field.choices if covered is None or value in covered]
        if offered and covered is not None:
            field.choices = offered
            field.help_text = _("The program that pays for this case covers these.")


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("Document"), error_messages={"required": _("Choose a file.")})
    description = forms.CharField(label=_("Description (optional)"), required=False, max_length=255)


# The authorization's parts in the words of someone who signs for the patient (ConsentScope has the patient's).
SCOPE_ON_BEHALF = [
    (ConsentScope.OBTAIN_RECORDS, _("Obtain the patient's medical records from their providers")),
    (ConsentScope.SHARE_WITH_REVIEWERS, _("Share the patient's records with the reviewing specialists")),
    (ConsentScope.SHARE_REPORT, _("Send the opinion to the patient's treating physician")),
]


class ConsentForm(forms.Form):
    """Intake step 6: the HIPAA authorization (scope, typed signature, the signer's relationship). `signer` is
    the kind of signer (cases.signers): the relationships offered are only theirs, the words theirs too."""

    # Required as the service requires them (so the page never marks them optional); the service's rules decide.
    scope = forms.MultipleChoiceField(label=_("I authorize Konsil to"), choices=ConsentScope.choices,
                                      widget=forms.CheckboxSelectMultiple,
                                      error_messages={"required": _("Choose what you authorize.")})
    signer_name = forms.CharField(label=_("Type your full name to sign"), max_length=200,
                                  error_messages={"required": _("Type your full name to sign.")})
    signer_relationship = forms.ChoiceField(
        label=_("Relationship to the patient"), choices=SignerRelationship.choices,
        error_messages={"required": _("Choose your relationship to the patient.")})

    def __init__(self, *args, signer: str = signers.PATIENT, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(SignerRelationship.choices)
        choices = [(value, labels[value]) for value in signers.ALLOWED.get(signer, ())]
        self.fields["signer_relationship"].choices = choices if len(choices) == 1 else BLANK + choices
        if signer != signers.PATIENT:
            self.fields["scope"].choices = SCOPE_ON_BEHALF
        if signer == signers.CLINICIAN:
            self.fields["scope"].label = _("With the patient's agreement, I ask Konsil to")


class MessageForm(forms.Form):
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 3}), max_length=10000,
                           error_messages={"required": _("Write a message.")})


# --- lifecycle actions --------------------------------------------------------------------------------------

class ActionForm(forms.Form):
    """The parameters of one lifecycle action; fields are added per the transition's `params`."""

    def __init__(self, transition, *args, specialties=(), specialists=(), **kwargs):
        kwargs.setdefault("auto_id", f"id_{transition.action}_%s")  # several action forms share a page
        super().__init__(*args, **kwargs)
        self.transition = transition
        self.specialists = list(specialists)
        for name in transition.params:
            if name == "specialty":
                self.fields[name] = forms.ChoiceField(label=_("Specialty"), required=False,
                                                      choices=BLANK + [(s.pk, _vocab(s.name)) for s in specialties])
            elif name == "urgency":
                self.fields[name] = forms.ChoiceField(label=_("Urgency"), required=False,
                                                      choices=Urgency.choices)
            elif name == "specialist":
                # Drawn as radio buttons with their ranking reasons; the service checks eligibility.
                self.fields[name] = forms.CharField(label=_("Specialist"), required=False)
            elif name == "reason":
                self.fields[name] = forms.CharField(label=_("Reason"), required=False,
                                                    widget=forms.Textarea(attrs={"rows": 2}))
            elif name == "message":
                self.fields[name] = forms.CharField(label=_("Message"), required=False,
                                                    widget=forms.Textarea(attrs={"rows": 3}))

    @property
    def confirm(self) -> bool:
        return self.transition.action in {"cancel", "withdraw", "decline", "retract_offer"}

    def params(self) -> dict:
        return {name: self.data.get(name, "") for name in self.fields}


# --- list filters -------------------------------------------------------------------------------------------

IN_WORK, OPEN, ALL = "in_work", "open", "all"


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[
        (IN_WORK, _("Cases in work")), (OPEN, _("Open cases")), (ALL, _("All cases")), *Status.choices])
    urgency = forms.ChoiceField(label=_("Urgency"), required=False, choices=BLANK + list(Urgency.choices))
    specialty = forms.ChoiceField(label=_("Specialty"), required=False)
    q = forms.CharField(label=_("Reference"), required=False, max_length=16)

    def __init__(self, *args, specialties=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["specialty"].choices = BLANK + [(s.pk, _vocab(s.name)) for s in specialties]


class DirectoryFilterForm(forms.Form):
    """Filters of the specialist list on the case page's offer form."""

    spec = forms.ChoiceField(label=_("Specialty they practise"), required=False)  # not the case's "Specialty"
    state = forms.ChoiceField(label=_("Licensed in"), required=False, choices=BLANK + STATE_CHOICES)
    lang = forms.ChoiceField(label=_("Speaks"), required=False, choices=BLANK + LANGUAGE_CHOICES)

    def __init__(self, *args, specialties=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["spec"].choices = BLANK + [(s.pk, _vocab(s.name)) for s in specialties]

    def filters(self) -> dict | None:
        """The chosen filters, or None when none is set (the ranked list is shown instead)."""
        if not self.is_bound or not self.is_valid():
            return None
        chosen = {"specialty": self.cleaned_data["spec"], "state": self.cleaned_data["state"],
                  "language": self.cleaned_data["lang"]}
        return {k: v for k, v in chosen.items() if v} or None
