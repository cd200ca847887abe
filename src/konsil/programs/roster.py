"""Roster import: CSV or ANSI X12 834 (005010X220A1, parsed and validated with pyx12) -> members.

Additions, changes and terminations with effective dates, dependants, a per-row report. The whole file is one
transaction and each row is validated before it is written, so a bad row never half-saves; rows are compared
by a fingerprint of their values, so importing the same file again changes nothing. A CSV without an optional
column says nothing about it: the members' stored values stay. A change that ends today's coverage of a member
is saved and named in the report's warnings. Errors and warnings name the row and the field, never the person.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.core import authz
from konsil.core.errors import ValidationFailed

from . import x12
from .models import Member, Program, Relationship, RosterImport

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
CSV_COLUMNS = ("member_id", "subscriber_id", "relationship", "given_name", "family_name", "birth_date", "sex",
               "coverage_start", "coverage_end", "address", "city", "state", "postal_code", "action")
REQUIRED_COLUMNS = ("member_id", "given_name", "family_name", "birth_date", "coverage_start")
KEPT_WHEN_ABSENT = ("subscriber_id", "relationship", "sex", "coverage_end", "address", "city", "state",
                    "postal_code")  # optional columns: a file without one says nothing about it
ACTIONS = ("add", "change", "terminate", "")
SEXES = {"f": "female", "female": "female", "m": "male", "male": "male", "u": "unknown", "unknown": "unknown",
         "": "", "o": "other", "other": "other"}
RELATIONSHIPS = {"": Relationship.SUBSCRIBER, **{v: v for v in Relationship.values},
                 "self": Relationship.SUBSCRIBER, "employee": Relationship.SUBSCRIBER,
                 "dependant": Relationship.OTHER, "dependent": Relationship.OTHER}


@dataclass
class Row:
    row: int
    values: dict = field(default_factory=dict)
    action: str = ""
    error: str = ""
    columns: frozenset | None = None  # the CSV's columns; None: the row carries every field (an 834 loop)


class RosterRejected(ValidationFailed):
    """The file as a whole cannot be read (not CSV, not an 834, missing columns, envelope errors)."""


def _rejected(row: Row, message: str) -> Row:
    row.error = row.error or message
    return row


# --- reading ------------------------------------------------------------------------------------------------

def _decode(content: bytes) -> str:
    if len(content) > MAX_BYTES:
        raise RosterRejected(_("The file is larger than %(n)d MB.") % {"n": MAX_BYTES // 1024 // 1024},
                             field="file", code="too_large")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterRejected(_("The file is not UTF-8 text."), field="file", code="encoding") from None


def detect(text: str) -> str:
    return "834" if text.lstrip().startswith("ISA") else "csv"


def parse_csv(text: str) -> list[Row]:
    """One Row per data line (row = the line number in the file, the header being line 1)."""
    if "\x00" in text:
        raise RosterRejected(_("The file holds binary data; send a CSV or an 834 file."), field="file",
                             code="binary")
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise RosterRejected(_("The CSV header cannot be read (%(error)s).") % {"error": exc}, field="file",
                             code="csv") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise RosterRejected(_("Columns missing: %(columns)s.") % {"columns": ", ".join(missing)}, field="file",
                             code="columns")
    reader.fieldnames = header
    present = frozenset(header)
    rows = []
    try:
        for number, record in enumerate(reader, start=2):
            if len(rows) >= MAX_ROWS:
                raise RosterRejected(_("More than %(n)d rows.") % {"n": MAX_ROWS}, field="file", code="too_many")
            if not any((v or "").strip() for k, v in record.items() if k):
                continue
            row = Row(row=number, columns=present)
            if None in record:  # more cells than columns
                rows.append(_rejected(row, _("Row %(row)d has more cells than the header.") % {"row": number}))
                continue
            values = {k: (record.get(k) or "").strip() for k in CSV_COLUMNS}
            row.action = values.pop("action").lower()
            row.values = values
            if row.action not in ACTIONS:
                _rejected(row, _("action must be add, change or terminate."))
            rows.append(row)
    except csv.Error as exc:
        raise RosterRejected(_("The CSV cannot be read near line %(line)d (%(error)s).")
                             % {"line": reader.line_num, "error": exc}, field="file", code="csv") from None
    return rows


def parse_834(text: str) -> list[Row]:
    """One Row per member loop (INS). The 834 is validated against the 005010X220A1 map first: envelope and
    header errors reject the file, errors inside a member's loop reject that member."""
    report = x12.validate(text, expect="834")
    envelope = [e for e in report.errors if e.level != "segment"]
    if envelope:
        raise RosterRejected(_("Not a valid 834 file: %(error)s") % {"error": envelope[0].message}, field="file",
                             code="x12")
    rows = [_row_from_834(number, member) for number, member in enumerate(x12.members_834(text), start=1)]
    for err in report.errors:
        target = next((r for r in reversed(rows) if r.values["_line"] <= err.line), None) if err.line else None
        if target is None:
            raise RosterRejected(_("Not a valid 834 file: %(error)s") % {"error": err.message}, field="file",
                                 code="x12")
        _rejected(target, _("Line %(line)d (%(segment)s): %(error)s")
                  % {"line": err.line, "segment": err.segment, "error": err.message})
    if not rows:
        raise RosterRejected(_("The 834 file holds no member (INS) loop."), field="file", code="x12")
    return rows


INS_ACTIONS = {"021": "add", "001": "change", "024": "terminate", "025": "add", "030": "", "032": "change"}
INS_RELATIONSHIPS = {"18": Relationship.SUBSCRIBER, "01": Relationship.SPOUSE, "19": Relationship.CHILD}


def _row_from_834(number: int, m: dict) -> Row:
    row = Row(row=number, action=INS_ACTIONS.get(m.get("INS03", ""), "change"))
    row.values = {
        "_line": m["_line"],
        "member_id": m.get("NM109") or (m.get("REF0F", "") if m.get("INS01") == "Y" else ""),
        "subscriber_id": m.get("REF0F", ""),
        "relationship": INS_RELATIONSHIPS.get(m.get("INS02", ""), Relationship.OTHER),
        "given_name": m.get("NM104", "").title(), "family_name": m.get("NM103", "").title(),
        "birth_date": x12.d8(m.get("DMG02", "")), "sex": m.get("DMG03", ""),
        "coverage_start": x12.d8(m.get("DTP348") or m.get("DTP356", "")),
        "coverage_end": x12.d8(m.get("DTP349") or m.get("DTP357", "")),
        "address": m.get("N301", "").title(), "city": m.get("N401", "").title(), "state": m.get("N402", ""),
        "postal_code": m.get("N403", ""),
    }
    return row


# --- validating ---------------------------------------------------------------------------------------------

def _date(row: Row, name: str, *, required: bool) -> date | None:
    raw = str(row.values.get(name) or "")
    if not raw:
        if required:
            _rejected(row, _("%(field)s is required.") % {"field": name})
        return None
    try:
        value = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        value = None
    if value is None or not 1900 <= value.year <= 2200:
        _rejected(row, _("%(field)s is not a date (YYYY-MM-DD).") % {"field": name})
    return value


def clean(row: Row) -> dict | None:
    """The member's values ready to save, or None with `row.error` set."""
    v = row.values
    out = {}
    for name, limit in (("member_id", 40), ("subscriber_id", 40), ("given_name", 100), ("family_name", 100),
                        ("address", 110), ("city", 60), ("state", 2), ("postal_code", 10)):
        value = str(v.get(name) or "").strip()
        if name == "state":
            value = value.upper()
        if not value and name in ("member_id", "given_name", "family_name"):
            _rejected(row, _("%(field)s is required.") % {"field": name})
        elif len(value) > limit or any(ord(c) < 32 for c in value):
            _rejected(row, _("%(field)s is too long or holds control characters.") % {"field": name})
        out[name] = value
    out["birth_date"] = _date(row, "birth_date", required=True)
    out["coverage_start"] = _date(row, "coverage_start", required=row.action != "terminate")
    out["coverage_end"] = _date(row, "coverage_end", required=row.action == "terminate")
    sex = SEXES.get(str(v.get("sex") or "").strip().lower())
    relationship = RELATIONSHIPS.get(str(v.get("relationship") or "").strip().lower())
    if sex is None:
        _rejected(row, _("sex must be F, M, U or empty."))
    if relationship is None:
        _rejected(row, _("relationship must be subscriber, spouse, child or other."))
    out["sex"], out["relationship"] = sex or "", relationship or ""
    if out["birth_date"] and out["birth_date"] > timezone.localdate():
        _rejected(row, _("birth_date is in the future."))
    start, end = out["coverage_start"], out["coverage_end"]
    if start and end and end < start:
        _rejected(row, _("Dates out of order: coverage_end is before coverage_start."))
    if out["birth_date"] and start and start < out["birth_date"]:
        _rejected(row, _("Dates out of order: coverage_start is before birth_date."))
    return None if row.error else out


def _overlaps(a_start, a_end, b_start, b_end) -> bool:
    far = date.max
    return a_start <= (b_end or far) and b_start <= (a_end or far)


def _covered_by(values, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    start, end = values["coverage_start"], values["coverage_end"]
    return bool(start) and start <= today and (end is None or end >= today)


def _covered(member) -> bool:
    return _covered_by({"coverage_start": member.coverage_start, "coverage_end": member.coverage_end})


def fingerprint(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


# --- importing ----------------------------------------------------------------------------------------------

def import_roster(*, actor, program: Program, content: bytes, fmt: str | None = None,
                  check_permission: bool = True) -> dict:
    """Import a roster file; returns {"added", "changed", "terminated", "unchanged", "rejected": [{row, error}]}.

    The command line passes `check_permission=False` (it runs as the operator of the installation)."""
    if check_permission:
        authz.require("programs.roster", actor, program)
    if not isinstance(content, bytes | bytearray):
        raise RosterRejected(_("Send a file."), field="file")
    text = _decode(bytes(content))
    if not text.strip():
        raise RosterRejected(_("The file is empty."), field="file", code="empty")
    fmt = fmt or detect(text)
    if fmt not in ("csv", "834"):
        raise RosterRejected(_("Choose CSV or 834."), field="format")
    rows = parse_834(text) if fmt == "834" else parse_csv(text)
    summary = {"added": 0, "changed": 0, "terminated": 0, "unchanged": 0, "rejected": [], "warnings": []}
    with transaction.atomic():
        existing = {m.member_id: m for m in Member.objects.filter(program=program)}
        seen: dict[str, tuple] = {}
        for row in rows:
            values = None if row.error else clean(row)
            if values is not None:
                _apply(program, row, values, existing, seen, summary)
            if row.error:
                summary["rejected"].append({"row": row.row, "error": row.error})
        RosterImport.objects.create(program=program, format=fmt, sha256=hashlib.sha256(content).hexdigest(),
                                    summary=summary, imported_by=actor if getattr(actor, "pk", None) else None)
        emit(actor=actor, action="program.roster_import", obj=program, purpose="payment",
             detail={"format": fmt, **{k: v for k, v in summary.items() if k not in ("rejected", "warnings")},
                     "rejected": len(summary["rejected"]), "warnings": len(summary["warnings"])})
    return summary


def _apply(program, row: Row, values: dict, existing: dict, seen: dict, summary: dict) -> None:
    mid = values["member_id"]
    period = (values["coverage_start"], values["coverage_end"])
    if mid in seen:
        prev = seen[mid]
        if prev[0] and period[0] and _overlaps(prev[0], prev[1], *period):
            _rejected(row, _("Overlapping coverage: this member_id has another row for the same dates "
                             "(row %(row)d).") % {"row": prev[2]})
            return
    member = existing.get(mid)
    if row.action in ("change", "terminate") and member is None:
        _rejected(row, _("Unknown member: no member with this member_id to %(action)s.") % {"action": row.action})
        return
    if member is not None and row.action == "terminate":
        values = {**{k: getattr(member, k) for k in ("member_id", "subscriber_id", "relationship", "given_name",
                                                     "family_name", "birth_date", "sex", "coverage_start",
                                                     "address", "city", "state", "postal_code")},
                  "coverage_end": values["coverage_end"]}
        if values["coverage_end"] < member.coverage_start:
            _rejected(row, _("Dates out of order: the termination date is before coverage starts."))
            return
    if (member is not None and row.action == "add" and member.coverage_start != values["coverage_start"]
            and _overlaps(member.coverage_start, member.coverage_end, *period)):
        _rejected(row, _("Overlapping coverage: this member is already covered from %(date)s; send a change "
                         "or a termination.") % {"date": member.coverage_start.isoformat()})
        return
    if member is not None and row.columns is not None:  # a column the file lacks leaves the stored value
        values = {**values, **{key: getattr(member, key) for key in KEPT_WHEN_ABSENT if key not in row.columns}}
    seen[mid] = (*period, row.row)
    digest = fingerprint(values)
    if member is not None and member.fingerprint == digest:
        summary["unchanged"] += 1
        return
    with transaction.atomic():  # a savepoint: the row is written whole or not at all
        if member is None:
            member = Member.objects.create(program=program, fingerprint=digest, **values)
            existing[mid] = member
            summary["added"] += 1
            return
        ended = values["coverage_end"] is not None and values["coverage_end"] != member.coverage_end
        if not ended and _covered(member) and not _covered_by(values):  # e.g. coverage_start moved ahead
            summary["warnings"].append({"row": row.row, "warning": _(
                "This change ends the member's coverage today (coverage_start %(start)s, coverage_end %(end)s).")
                % {"start": values["coverage_start"], "end": values["coverage_end"] or "—"}})
        for key, value in values.items():
            setattr(member, key, value)
        member.fingerprint = digest
        member.save()
        summary["terminated" if ended else "changed"] += 1
