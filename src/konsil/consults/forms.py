"""Booking and consult forms: choices come from the services (free slots, modes); the services validate."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from konsil.cases.choices import LANGUAGE_CHOICES
from konsil.opinions.forms import VerdictOnlyForm as ServiceForm

from .models import Mode, Party
from .slots import group_by_local_day

COMMON_ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
                "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico",
                "America/Mexico_City", "America/Bogota", "America/Lima", "America/Santiago",
                "America/Argentina/Buenos_Aires", "America/Sao_Paulo", "America/Toronto", "Europe/London",
                "Europe/Madrid", "Europe/Paris", "Europe/Berlin", "Asia/Tokyo", "Asia/Seoul", "Asia/Shanghai",
                "Asia/Manila", "Asia/Kolkata", "Asia/Dubai", "Australia/Sydney")


def zone_choices(current: str) -> list[tuple[str, str]]:
    zones = list(COMMON_ZONES)
    if current and current not in zones:
        zones.insert(0, current)
    return [(z, z.replace("_", " ")) for z in zones]


def slot_choices(free, zone: str) -> list:
    """Grouped by day in the patient's zone: (day label, [(ISO start in UTC, local time label)])."""
    from django.utils import formats

    groups = []
    for day, starts in group_by_local_day(free, zone):
        label = formats.date_format(day, "DATE_FORMAT")
        groups.append((label, [(_utc_iso(s),
                                formats.time_format(s, "TIME_FORMAT")) for s in starts]))
    return groups


def _utc_iso(local) -> str:
    from datetime import UTC

    return local.astimezone(UTC).isoformat()


class BookingForm(ServiceForm):
    mode = forms.ChoiceField(label=_("How would you like to meet?"), widget=forms.RadioSelect, choices=())
    patient_time_zone = forms.ChoiceField(label=_("Your time zone"), choices=(),
                                          help_text=_("Times are shown in this time zone."))
    starts_at = forms.ChoiceField(label=_("Time"), choices=(), help_text=_("Each consult lasts %(n)d minutes."))
    patient_phone = forms.CharField(label=_("Number to call (phone consults)"), required=False, max_length=32,
                                    help_text=_("With the country code, e.g. +1 555 010 0100."))
    invite_treating_physician = forms.BooleanField(
        label=_("Invite my treating physician"), required=False,
        help_text=_("They receive the invitation and can join you for the consult."))
    interpreter_language = forms.ChoiceField(label=_("I need an interpreter for"), required=False, choices=())
    interpreter_email = forms.EmailField(label=_("Interpreter's e-mail (if you bring your own)"), required=False)

    def __init__(self, *args, modes, free, zone: str, minutes: int, has_physician: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mode"].choices = [(m, label) for m, label in Mode.choices if m in modes]
        self.fields["patient_time_zone"].choices = zone_choices(zone)
        self.fields["patient_time_zone"].initial = zone
        self.fields["starts_at"].choices = [("", _("Choose a time"))] + slot_choices(free, zone)
        self.fields["starts_at"].help_text = self.fields["starts_at"].help_text % {"n": minutes}
        self.fields["interpreter_language"].choices = [("", _("No interpreter"))] + list(LANGUAGE_CHOICES)
        if not has_physician:
            del self.fields["invite_treating_physician"]


class RescheduleForm(ServiceForm):
    starts_at = forms.ChoiceField(label=_("New time"), choices=())

    def __init__(self, *args, free, zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["starts_at"].choices = [("", _("Choose a time"))] + slot_choices(free, zone)


class CancelForm(ServiceForm):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)


class AttendanceForm(ServiceForm):
    outcome = forms.ChoiceField(label=_("What happened?"), widget=forms.RadioSelect, choices=(
        ("held", _("The consult was held")), (Party.PATIENT, _("The patient's side did not come")),
        (Party.SPECIALIST, _("The specialist could not come"))))


class NoteForm(ServiceForm):
    body = forms.CharField(label=_("Consult notes"), widget=forms.Textarea(attrs={"rows": 6}))
    opinion_changed = forms.BooleanField(
        label=_("The opinion changes after this consult"), required=False,
        help_text=_("You then amend the signed opinion with the reason, through the review screen."))
