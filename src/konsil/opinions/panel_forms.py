"""Forms of the panel pages and of blinded review; the services validate (`show_errors` shows their verdict)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .forms import ServiceForm, VerdictOnlyForm
from .models import Agreement


def _text(label, rows: int = 4, help_text: str = ""):
    return forms.CharField(label=label, required=False, strip=False, help_text=help_text,
                           widget=forms.Textarea(attrs={"rows": rows, "maxlength": 10000}))


class AssembleForm(ServiceForm):
    template = forms.ChoiceField(label=_("Panel template"), required=False,
                                 help_text=_("Leave on automatic to use the case's diagnoses and triage proposal."))

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", _("Automatic"))] + [(t.code, t.label) for t in templates]


class SeatFillForm(VerdictOnlyForm):
    specialist = forms.ChoiceField(label=_("Eligible specialist"))

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["specialist"].choices = [(str(row[0].pk), str(row[0])) for row in candidates]


class PanelInputForm(ServiceForm):
    assessment = _text(_("Your assessment"), rows=6)
    recommendation = _text(_("Your recommendation"), rows=4)


class AgreementForm(ServiceForm):
    agreement = forms.CharField(label=_("Your position on the consensus opinion"), required=False,
                                widget=forms.RadioSelect(choices=Agreement.choices))
    dissent_reason = _text(_("Reason for dissent"), rows=4,
                           help_text=_("Required when you dissent; it is shown in the report."))


class ReasonForm(ServiceForm):
    reason = _text(_("Reason"), rows=2)


class WaiveForm(VerdictOnlyForm):
    reason = forms.CharField(label=_("Reason for waiving the seat"), strip=False,
                             help_text=_("Shown to the panel and in the report."),
                             widget=forms.Textarea(attrs={"rows": 2, "maxlength": 10000}))


class ReviewPlanForm(ServiceForm):
    blinded = forms.BooleanField(
        label=_("Blinded review"), required=False,
        help_text=_("The reviewer records an independent assessment before seeing the submitted diagnosis and "
                    "the proposed treatment."))


class AssessmentForm(ServiceForm):
    diagnosis_impression = _text(_("Your diagnostic impression"), rows=4)
    impression_code = forms.CharField(
        label=_("ICD-10-CM code (optional)"), required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 10}))
    recommended_treatment = _text(_("The treatment you recommend"), rows=4)
