"""Parsing of user input shared by pages, the API and the command line: field-level errors, never a 500."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext as _

from konsil.core.errors import ValidationFailed


def text(data: dict, name: str, *, required: bool = True, limit: int = 200) -> str:
    value = data.get(name)
    if value is None or isinstance(value, str | int | float):
        value = "" if value is None else str(value).strip()
    else:
        raise ValidationFailed(_("Enter text."), field=name)
    if "\x00" in value:
        raise ValidationFailed(_("Enter text without control characters."), field=name)
    if required and not value:
        raise ValidationFailed(_("This field is required."), field=name)
    if len(value) > limit:
        raise ValidationFailed(_("Keep this under %(n)d characters.") % {"n": limit}, field=name)
    return value


def day(data: dict, name: str, *, required: bool = True) -> date | None:
    raw = data.get(name)
    if isinstance(raw, date):
        return raw
    raw = "" if raw is None else raw
    if not isinstance(raw, str):
        raise ValidationFailed(_("Enter a date as YYYY-MM-DD."), field=name)
    raw = raw.strip()
    if not raw:
        if required:
            raise ValidationFailed(_("This field is required."), field=name)
        return None
    try:
        value = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        value = None
    if value is None or not 1900 <= value.year <= 2200:
        raise ValidationFailed(_("Enter a date as YYYY-MM-DD."), field=name)
    return value


def cpt(data: dict, name: str, *, required: bool = True) -> str:
    value = text(data, name, required=required, limit=5).upper()
    if value and not (len(value) == 5 and value[:4].isdigit() and (value[4].isdigit() or value[4] in "FTU")):
        raise ValidationFailed(_("A CPT code has five characters, like 22630."), field=name)
    return value


def npi(data: dict, name: str) -> str:
    from konsil.matching.npi import npi_check_digit

    value = text(data, name, limit=10)
    if not (len(value) == 10 and value.isdigit() and npi_check_digit(value[:9]) == value[9]):
        raise ValidationFailed(_("An NPI has ten digits with a valid check digit."), field=name)
    return value


def cents(data: dict, name: str, *, limit: int = 100_000_000) -> int:
    """A money amount in dollars ("750", "750.00") or an int of cents when `name` ends with _cents."""
    raw = data.get(name)
    if raw is None or raw == "":
        return 0
    try:
        if name.endswith("_cents"):
            if isinstance(raw, bool) or not isinstance(raw, int | str):
                raise ValueError
            value = int(raw)
        else:
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise ValueError
            value = round(float(str(raw).replace(",", "")) * 100)
    except (ValueError, OverflowError):
        raise ValidationFailed(_("Enter an amount like 750.00."), field=name) from None
    if not 0 <= value <= limit:
        raise ValidationFailed(_("Enter an amount between 0 and %(max)s.") % {"max": f"{limit // 100:,}"},
                               field=name)
    return value


def collect(checks: dict):
    """Run every check; raise once with all field errors (with the failing check's own code when only one
    failed: "terminated", say)."""
    clean, errors, codes = {}, {}, []
    for name, check in checks.items():
        try:
            clean[name] = check()
        except ValidationFailed as exc:
            errors.update(exc.as_dict()["errors"] or {name: [str(exc.message)]})
            codes.append(exc.code)
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors,
                               code=codes[0] if len(codes) == 1 else None)
    return clean
