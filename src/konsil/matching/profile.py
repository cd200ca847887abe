"""Validators of the specialist profile's structured fields (used by the model, the admin and the import)."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DELIVERY_MODES = ("written", "video", "phone", "in_person")  # konsil.cases.choices.Delivery values
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_LANG = re.compile(r"^[a-z]{2}$")
MAX_ITEMS = 50


def _items(value, what: str) -> list:
    if not isinstance(value, list):
        raise ValidationError(_("Expected a list of %(what)s.") % {"what": what}, code="list")
    if len(value) > MAX_ITEMS:
        raise ValidationError(_("At most %(n)d entries.") % {"n": MAX_ITEMS}, code="too_many")
    return value


def parse_date(value) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(_("Enter a date as YYYY-MM-DD."), code="date") from None


def validate_languages(value) -> None:
    for code in _items(value, _("two-letter language codes")):
        if not isinstance(code, str) or not _LANG.match(code):
            raise ValidationError(_("Use two-letter lower-case language codes (ISO 639-1), e.g. en, es."),
                                  code="language")


def validate_names(value) -> None:
    for name in _items(value, _("names")):
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationError(_("Each entry must be a name of 1 to 200 characters."), code="name")


def validate_delivery_modes(value) -> None:
    modes = _items(value, _("delivery modes"))
    if not modes:
        raise ValidationError(_("Offer at least one delivery mode."), code="required")
    for mode in modes:
        if mode not in DELIVERY_MODES:
            raise ValidationError(_("Choose delivery modes among: %(modes)s.") % {"modes": ", ".join(DELIVERY_MODES)},
                                  code="delivery")


def validate_board_certifications(value) -> None:
    for item in _items(value, _("certifications")):
        if not isinstance(item, dict) or set(item) - {"board", "specialty", "expires_on"}:
            raise ValidationError(_("Each certification is {board, specialty, expires_on}."), code="board")
        if not str(item.get("board") or "").strip():
            raise ValidationError(_("Each certification names its board."), code="board")
        if not str(item.get("specialty") or "").strip():
            raise ValidationError(_("Each certification names its specialty."), code="board")
        if item.get("expires_on") not in (None, ""):
            parse_date(item["expires_on"])


def validate_availability(value) -> None:
    for slot in _items(value, _("weekly slots")):
        if not isinstance(slot, dict) or set(slot) != {"day", "start", "end"}:
            raise ValidationError(_("Each slot is {day, start, end}."), code="slot")
        day = slot["day"]
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValidationError(_("A slot's day is 0 (Monday) to 6 (Sunday)."), code="slot")
        start, end = slot["start"], slot["end"]
        if not (isinstance(start, str) and _HHMM.match(start) and isinstance(end, str) and _HHMM.match(end)):
            raise ValidationError(_("A slot's start and end are times HH:MM."), code="slot")
        if end <= start:
            raise ValidationError(_("A slot must end after it starts."), code="slot")


def validate_fraction(value) -> None:
    if value is not None and not 0 <= value <= 1:
        raise ValidationError(_("Enter a value between 0 and 1."), code="fraction")
