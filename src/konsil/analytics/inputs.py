"""The filter of every analytics view (page, API, CSV, PDF, CLI): one form, field-level messages."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from konsil.cases.choices import STATE_NAMED_CHOICES, Channel
from konsil.core.errors import ValidationFailed
from konsil.core.widgets import DateInput

from .measures import Filters

BLANK = [("", _("All"))]
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


def specialty_choices():
    from konsil.matching.models import Specialty

    return BLANK + [(s.code, str(s)) for s in Specialty.objects.all()]


PERIODS = [("all", _("Any time")), ("3m", _("Last 3 calendar months")), ("12m", _("Last 12 calendar months")),
           ("24m", _("Last 24 calendar months")), ("custom", _("Between the dates below"))]
MONTHS = {"3m": 3, "12m": 12, "24m": 24}  # the periods that count calendar months back from today


def months_back(today: date, months: int) -> date:
    """The first day of the month `months - 1` months before today's (the last N calendar months)."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


class FilterForm(forms.Form):
    period = forms.ChoiceField(label=_("Period"), required=False, choices=PERIODS)
    start = forms.DateField(label=_("From"), required=False, widget=DateInput())
    end = forms.DateField(label=_("To"), required=False, widget=DateInput())
    specialty = forms.ChoiceField(label=_("Specialty"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=BLANK + list(Channel.choices))
    program = forms.SlugField(label=_("Program"), required=False, max_length=80)
    state = forms.ChoiceField(label=_("State"), required=False, choices=BLANK + STATE_NAMED_CHOICES)

    def __init__(self, *args, programs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["specialty"].choices = specialty_choices()
        if programs:
            self.fields["program"] = forms.ChoiceField(label=_("Program"), required=False,
                                                       choices=BLANK + list(programs))

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):
            value = data.get(name)
            if value and not EARLIEST <= value <= LATEST:
                self.add_error(name, _("Choose a date between 2000 and 2100."))
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The end of the period must not be before its start."))
        return data

    def filters(self, today: date | None = None) -> Filters:
        data = self.cleaned_data
        start, end = data.get("start"), data.get("end")
        period = data.get("period") or ""
        if period == "all":
            start = end = None
        elif period in MONTHS:
            today = today or timezone.localdate()
            start, end = months_back(today, MONTHS[period]), today
        return Filters(start=start, end=end, specialty=data.get("specialty") or "",
                       channel=data.get("channel") or "", program=data.get("program") or "",
                       state=data.get("state") or "")


ALIASES = {"from": "start", "to": "end"}
NAMES = ("period", "from", "to", "start", "end", "specialty", "channel", "program", "state")  # start/end: the page


def parse(params, *, programs=()) -> Filters:
    """Filters from query parameters (`from`, `to`, `specialty`, `channel`, `program`, `state`), or a
    ValidationFailed naming each field at fault."""
    data = {ALIASES.get(key, key): params.get(key) for key in NAMES if params.get(key) not in (None, "")}
    unknown = sorted(set(params) - set(NAMES) - {"network", "sponsor", "quarter"})
    if ("from" in params and "start" in params) or ("to" in params and "end" in params):
        unknown.append("start" if "start" in params else "end")
    form = FilterForm(data, programs=programs)
    if unknown or not form.is_valid():
        errors = {{"start": "from", "end": "to"}.get(k, k): [str(m) for m in v] for k, v in form.errors.items()}
        for key in unknown:
            errors[key[:40]] = [str(_("Unknown filter."))]
        raise ValidationFailed(_("Check the filters."), errors=errors)
    return form.filters()
