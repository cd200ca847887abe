"""The follow-up questionnaire as a Django form built from the FHIR Questionnaire; the cost table's form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from konsil.opinions.forms import VerdictOnlyForm

from . import questionnaires


class FollowUpForm(VerdictOnlyForm):
    def __init__(self, *args, respondent: str, **kwargs):
        super().__init__(*args, **kwargs)
        for q in questionnaires.questions_for(respondent):
            label = q.text[respondent]
            if q.kind == "choice":
                field = forms.ChoiceField(label=label, choices=q.options, widget=forms.RadioSelect,
                                          required=q.required)
            elif q.kind == "integer":
                field = forms.ChoiceField(label=label, choices=[(str(n), str(n)) for n in range(q.low, q.high + 1)],
                                          widget=forms.RadioSelect(attrs={"class": "scale"}), required=q.required)
            else:
                field = forms.CharField(label=label, required=False, max_length=questionnaires.MAX_COMMENT,
                                        widget=forms.Textarea(attrs={"rows": 3}))
            self.fields[q.link_id] = field


class CodeForm(VerdictOnlyForm):
    token = forms.CharField(label=_("Code from the e-mail"), max_length=100)


class CostForm(VerdictOnlyForm):
    code = forms.CharField(label=_("CPT code"), max_length=5)
    description = forms.CharField(label=_("Procedure"), max_length=200)
    amount = forms.CharField(label=_("Typical cost"))
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="USD")
    source = forms.CharField(label=_("Public source"), max_length=300,
                             help_text=_("Where the figure comes from, e.g. a fee schedule or a published study."))
    source_url = forms.URLField(label=_("Source address"), required=False, max_length=300, assume_scheme="https")
    year = forms.CharField(label=_("Year of the figure"))


class AlternativeForm(VerdictOnlyForm):
    alternative_code = forms.CharField(label=_("CPT code of the care that followed"), max_length=5, required=False)
