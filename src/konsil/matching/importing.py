"""Bulk import of specialists from CSV or JSON Lines, with a per-row report.

Each row is validated as a whole (every bad field reported) and saved in its own savepoint: a bad row never
half-saves and the rest continue. Rows are matched by NPI within the network (update) or create a specialist and
their sign-in (no password: they set one through the reset link). CSV cells hold lists separated by ";";
licenses as STATE:NUMBER:YYYY-MM-DD (or a JSON list of {state, country?, number, expires_on}), board
certifications as BOARD:SPECIALTY:YYYY-MM-DD (or JSON), availability as JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from konsil.accounts.models import Membership, User
from konsil.accounts.roles import Role
from konsil.audit.services import emit
from konsil.cases.choices import US_STATES
from konsil.core.errors import ValidationFailed

from . import profile, zones
from .models import License, Specialist, Specialty
from .npi import validate_npi

FORMATS = ("csv", "jsonl")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
REQUIRED = ("email", "npi", "specialties", "languages")
LISTS = ("specialties", "subspecialties", "languages", "affiliations", "delivery_modes")
STRUCTURED = ("licenses", "board_certifications", "availability")
BOOLS = ("imlc", "accepting")
KNOWN = frozenset({*REQUIRED, "first_name", "last_name", *LISTS, *STRUCTURED, *BOOLS, "institution", "capacity",
                   "weekly_hours", "time_zone", "turnaround_hours", "in_person_location", "fee", "fee_currency",
                   "on_time_rate", "completed_cases", "peer_review_score"})
_TRUE, _FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n", ""}
MAX_DEPTH = 20  # JSON nesting a profile needs is 3; deeper input is refused before parsing
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheet formula triggers (CSV injection)


@dataclass
class RowResult:
    row: int  # the line in the file
    ok: bool
    errors: dict[str, list[str]] = field(default_factory=dict)
    npi: str = ""
    action: str = ""  # created | updated


@dataclass
class ImportReport:
    rows: list[RowResult] = field(default_factory=list)
    file_error: str = ""

    @property
    def created(self) -> int:
        return sum(r.action == "created" for r in self.rows)

    @property
    def updated(self) -> int:
        return sum(r.action == "updated" for r in self.rows)

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.rows)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "failed": self.failed,
                "file_error": self.file_error,
                "rows": [{"row": r.row, "ok": r.ok, "npi": r.npi, "action": r.action, "errors": r.errors}
                         for r in self.rows]}


# --- reading ------------------------------------------------------------------------------------------------------

def _text(fileobj) -> str:
    data = fileobj.read(MAX_BYTES + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise ValueError(_("The file is larger than %(mb)d MB.") % {"mb": MAX_BYTES // (1024 * 1024)})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(_("The file is not UTF-8 text.")) from None


def _records(text: str, fmt: str):
    """(line, raw dict or an error message) per row."""
    if fmt == "jsonl":
        for line, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = _json(raw)
            except ValidationError as exc:
                yield line, exc.messages[0]
                continue
            yield line, record if isinstance(record, dict) else _("Each line must be a JSON object.")
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
    except csv.Error as exc:
        raise ValueError(_("Not valid CSV (%(error)s).") % {"error": exc}) from None
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ValueError(_("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)})
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:  # DictReader would silently keep the last of the two cells
        raise ValueError(_("Repeated columns: %(columns)s.") % {"columns": ", ".join(repeated)})
    try:
        for row in reader:
            if None in row:
                yield reader.line_num, _("More cells than columns.")
                continue
            yield reader.line_num, {k: v for k, v in row.items() if (v or "").strip() != ""}
    except csv.Error as exc:
        yield reader.line_num, _("Not valid CSV (%(error)s).") % {"error": exc}


def _depth(text: str) -> int:
    """The deepest bracket nesting of `text` (brackets inside strings counted too: an upper bound)."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _json(text: str):
    """Parsed JSON, or ValidationError for invalid, too deeply nested or unrepresentable input."""
    if _depth(text) > MAX_DEPTH:
        raise ValidationError(_("Not valid JSON (nested too deeply)."))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(_("Not valid JSON (%(error)s).") % {"error": exc.msg}) from None
    except (ValueError, RecursionError):  # e.g. an integer of more than 4300 digits
        raise ValidationError(_("Not valid JSON (a value is too large).")) from None


def _from_cell(name: str, value: str):
    """A CSV cell as the JSON Lines value."""
    value = value.strip()
    if name in LISTS:
        return [v.strip() for v in value.split(";") if v.strip()]
    if name in BOOLS:
        if value.lower() not in _TRUE | _FALSE:
            raise ValidationError(_("Expected true or false."))
        return value.lower() in _TRUE
    if name in STRUCTURED:
        if value.startswith("["):
            return _json(value)
        if name == "availability":
            raise ValidationError(_("Give the weekly slots as JSON."))
        parts = [p.split(":") for p in value.split(";") if p.strip()]
        if any(len(p) != 3 for p in parts):
            raise ValidationError(_("Expected entries like %(example)s separated by ';'.") % {
                "example": "CA:A12345:2027-06-30" if name == "licenses" else "ABIM:cardiology:2030-12-31"})
        keys = ("state", "number", "expires_on") if name == "licenses" else ("board", "specialty", "expires_on")
        return [dict(zip(keys, (x.strip() for x in p), strict=True)) for p in parts]
    return value


# --- validation ---------------------------------------------------------------------------------------------------

def _messages(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


def _number(value, *, kind=int, lo=None, hi=None):
    if isinstance(value, bool):
        raise ValidationError(_("Expected a number."))
    try:
        number = kind(str(value).strip()) if isinstance(value, str) else kind(value)
    except (TypeError, ValueError, InvalidOperation, OverflowError):
        raise ValidationError(_("Expected a whole number.") if kind is int else _("Expected a number.")) from None
    if kind is Decimal and not number.is_finite() or kind is float and not math.isfinite(number):
        raise ValidationError(_("Expected a number."))
    if kind is int and isinstance(value, float) and value != int(value):
        raise ValidationError(_("Expected a whole number."))
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise ValidationError(_("Expected a value between %(lo)s and %(hi)s.") % {"lo": lo, "hi": hi if hi is not None
                                                                                    else "∞"})
    return number


def _string(value, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(_("Expected text."))
    if len(value.strip()) > limit:
        raise ValidationError(_("Keep this under %(n)d characters.") % {"n": limit})
    return value.strip()


def _plain(value, limit: int) -> str:
    """Free text that a spreadsheet will not run as a formula when the directory is exported (CSV injection)."""
    value = _string(value, limit)
    if value.startswith(FORMULA_START):
        raise ValidationError(_("Text may not start with =, +, -, @ or a tab (spreadsheet formulas)."))
    return value


def _names(value) -> None:
    profile.validate_names(value)
    if any(name.strip().startswith(FORMULA_START) for name in value):
        raise ValidationError(_("Text may not start with =, +, -, @ or a tab (spreadsheet formulas)."))


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _codes(value, known: set[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(_("Expected a list of specialty codes."))
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ValidationError(_("Unknown specialty code: %(code)s.") % {"code": unknown[0]})
    return list(dict.fromkeys(value))


def _licenses(value) -> list[dict]:
    if not isinstance(value, list):
        raise ValidationError(_("Expected a list of licenses."))
    out, seen = [], set()
    for item in value:
        if not isinstance(item, dict):
            raise ValidationError(_("Each license is {state, number, expires_on}."))
        country = str(item.get("country") or "US").strip().upper()
        state = str(item.get("state") or "").strip().upper() if country == "US" else ""
        if country == "US" and state not in US_STATES:
            raise ValidationError(_("Unknown US state: %(state)s.") % {"state": item.get("state") or "—"})
        if len(country) != 2 or not country.isalpha():
            raise ValidationError(_("Use a two-letter country code."))
        number = str(item.get("number") or "").strip()
        if not number or len(number) > 40:
            raise ValidationError(_("Each license has a number of 1 to 40 characters."))
        if (country, state) in seen:
            raise ValidationError(_("Two licenses for %(where)s.") % {"where": state or country})
        seen.add((country, state))
        out.append({"country": country, "state": state, "number": number,
                    "expires_on": profile.parse_date(item.get("expires_on"))})
    return out


def clean_row(raw: dict, known_codes: set[str]) -> tuple[dict, dict[str, list[str]]]:
    """A normalized profile and every field error of one row (raw values as in JSON Lines)."""
    data: dict = {}
    errors: dict[str, list[str]] = {}

    def check(name: str, fn, *, required: bool = False, default=None):
        if name in errors:
            return
        if raw.get(name) in (None, "", []):
            if required:
                errors[name] = [_("This field is required.")]
            elif default is not None:
                data[name] = default
            return
        try:
            data[name] = fn(raw[name])
        except ValidationError as exc:
            errors[name] = _messages(exc)

    def validated(validator):
        def run(value):
            validator(value)
            return value
        return run

    for name in sorted(set(raw) - KNOWN):
        errors[name] = [_("Unknown field.")]
    nul = sorted(str(name) for name in raw if _has_nul(name) or _has_nul(raw[name]))
    for name in nul:  # the database refuses NUL characters: report them instead of failing the import
        errors[name] = [_("Contains a NUL character.")]
    raw = {k: v for k, v in raw.items() if k not in nul}
    check("email", lambda v: validated(validate_email)(_string(v, 254)).lower(), required=True)
    check("npi", lambda v: validated(validate_npi)(_string(str(v), 10)), required=True)
    check("first_name", lambda v: _plain(v, 150), default="")
    check("last_name", lambda v: _plain(v, 150), default="")
    check("specialties", lambda v: _codes(v, known_codes), required=True)
    check("subspecialties", lambda v: _codes(v, known_codes), default=[])
    check("languages", validated(profile.validate_languages), required=True)
    check("licenses", _licenses, default=[])
    check("board_certifications", validated(profile.validate_board_certifications), default=[])
    check("imlc", validated(_bool), default=False)
    check("accepting", validated(_bool), default=True)
    check("institution", lambda v: _plain(v, 200), default="")
    check("affiliations", validated(_names), default=[])
    check("capacity", lambda v: _number(v, lo=0, hi=500), default=5)
    check("weekly_hours", lambda v: _number(v, lo=0, hi=168))
    check("turnaround_hours", lambda v: _number(v, lo=1, hi=10000), default=72)
    check("time_zone", validated(_zone), default="America/New_York")
    check("availability", validated(profile.validate_availability), default=[])
    check("delivery_modes", validated(profile.validate_delivery_modes), default=["written"])
    check("in_person_location", lambda v: _plain(v, 200), default="")
    check("fee", lambda v: Decimal(str(_number(v, kind=Decimal, lo=0, hi=99999999))).quantize(Decimal("0.01")))
    check("fee_currency", validated(_currency), default="USD")
    check("on_time_rate", lambda v: _number(v, kind=float, lo=0, hi=1))
    check("peer_review_score", lambda v: _number(v, kind=float, lo=0, hi=1))
    check("completed_cases", lambda v: _number(v, lo=0), default=0)
    if "in_person" in data.get("delivery_modes", []) and not data.get("in_person_location"):
        errors.setdefault("in_person_location", []).append(_("Say where in-person opinions take place."))
    return data, errors


def _bool(value) -> None:
    if not isinstance(value, bool):
        raise ValidationError(_("Expected true or false."))


def _zone(value) -> None:
    if not isinstance(value, str) or not zones.valid_zone(value):
        raise ValidationError(_("Use a time zone name such as America/Chicago."))


def _currency(value) -> None:
    if not isinstance(value, str) or len(value) != 3 or not (value.isascii() and value.isalpha() and value.isupper()):
        raise ValidationError(_("Use a three-letter currency code such as USD."))


# --- saving -------------------------------------------------------------------------------------------------------

PROFILE_FIELDS = ("imlc", "accepting", "institution", "affiliations", "capacity", "weekly_hours", "turnaround_hours",
                  "time_zone", "availability", "delivery_modes", "in_person_location", "fee", "fee_currency",
                  "on_time_rate", "peer_review_score", "completed_cases", "languages", "board_certifications")


class RowError(Exception):
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.errors = {name: [message]}


def _save(data: dict, network) -> str:
    """Create or update one specialist from a clean row; returns "created" or "updated"."""
    specialist = Specialist.objects.select_related("user").filter(npi=data["npi"]).first()
    if specialist is not None:
        if specialist.network_id != network.pk:
            raise RowError("npi", _("This NPI belongs to a specialist of another network."))
        if specialist.user.email.lower() != data["email"]:
            raise RowError("email", _("This NPI is registered with another email address."))
        user, action = specialist.user, "updated"
    else:
        user = User.objects.filter(email__iexact=data["email"]).first()
        if user is not None and Specialist.objects.filter(user=user).exists():
            raise RowError("email", _("This person already has a specialist profile with another NPI."))
        if user is not None and (user.is_staff or user.is_superuser
                                 or user.memberships.exclude(organization=network).exists()):
            # another organization's account (or an administrator's): an import never takes it over
            raise RowError("email", _("This email belongs to an account outside this network."))
        if user is None:
            user = User.objects.create_user(data["email"], None)
        specialist, action = Specialist(user=user, network=network, npi=data["npi"]), "created"
    if data["first_name"] or data["last_name"]:
        user.first_name, user.last_name = data["first_name"] or user.first_name, data["last_name"] or user.last_name
        user.save(update_fields=["first_name", "last_name"])
    Membership.objects.get_or_create(user=user, organization=network, role=Role.SPECIALIST)
    for name in PROFILE_FIELDS:
        if name in data:
            setattr(specialist, name, data[name])
    specialist.full_clean(exclude=["user", "network"], validate_unique=False)
    specialist.save()
    specialist.specialties.set(data["specialties"])
    specialist.subspecialties.set(data.get("subspecialties", []))
    if data.get("licenses"):
        keep = []
        for lic in data["licenses"]:
            row, _created = License.objects.update_or_create(
                specialist=specialist, country=lic["country"], state=lic["state"],
                defaults={"number": lic["number"], "expires_on": lic["expires_on"]})
            keep.append(row.pk)
        specialist.licenses.exclude(pk__in=keep).delete()
    return action


def import_specialists(fileobj, *, fmt: str, network, actor) -> ImportReport:
    """Validate and save every row of `fileobj` (bytes or text) for `network`; the report says what happened."""
    if fmt not in FORMATS:
        raise ValidationFailed(_("Choose CSV or JSON Lines."), field="fmt")
    report = ImportReport()
    try:
        rows = list(_records(_text(fileobj), fmt))
    except ValueError as exc:
        report.file_error = str(exc)
        return report
    if len(rows) > MAX_ROWS:
        report.file_error = _("The file has more than %(n)d rows; split it.") % {"n": MAX_ROWS}
        return report
    if not rows:
        report.file_error = _("The file holds no rows.")
        return report
    known = set(Specialty.objects.values_list("code", flat=True))
    seen: dict[str, int] = {}
    for line, raw in rows:
        if isinstance(raw, str):
            report.rows.append(RowResult(line, False, {"row": [raw]}))
            continue
        if fmt == "csv":
            raw, cell_errors = _cells(raw)
        else:
            cell_errors = {}
        data, errors = clean_row(raw, known)
        errors = {**errors, **cell_errors}
        npi = str(raw.get("npi") or "")[:10]
        if not errors and (data["npi"] in seen or data["email"] in seen):
            key = "npi" if data["npi"] in seen else "email"
            errors[key] = [_("Same as row %(row)d of this file.") % {"row": seen[data[key]]}]
        if errors:
            report.rows.append(RowResult(line, False, errors, npi))
            continue
        seen[data["npi"]] = seen[data["email"]] = line
        try:
            with transaction.atomic():
                action = _save(data, network)
        except RowError as exc:
            report.rows.append(RowResult(line, False, exc.errors, npi))
        except ValidationError as exc:
            report.rows.append(RowResult(line, False, {k: [str(m) for m in v] for k, v in exc.message_dict.items()},
                                         npi))
        except DatabaseError:  # a constraint or a value the database refuses: the savepoint undid the row
            report.rows.append(RowResult(line, False, {"row": [_("Conflicts with an existing record.")]}, npi))
        else:
            report.rows.append(RowResult(line, True, {}, npi, action))
    with transaction.atomic():
        emit(actor=actor, action="matching.import", obj=network, purpose="operations",
             detail={"format": fmt, "created": report.created, "updated": report.updated, "failed": report.failed})
    return report


def _cells(row: dict) -> tuple[dict, dict[str, list[str]]]:
    raw, errors = {}, {}
    for name, value in row.items():
        if name not in KNOWN:
            raw[name] = value
            continue
        try:
            raw[name] = _from_cell(name, value)
        except ValidationError as exc:
            errors[name] = _messages(exc)
    return raw, errors
