"""`konsil programs roster import FILE --program SLUG` and `konsil programs eligibility --program SLUG`.

Both run on the configured database as the operator of the installation (audited as "cli"). Only the parser is
built at import time (no Django models, no audit), so `konsil --help` parses before Django is set up."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .models import Program


def add_parser(sub) -> None:
    programs = sub.add_parser("programs", help="sponsor programs: roster import, eligibility checks")
    programs_sub = programs.add_subparsers(dest="programs_command", metavar="ACTION", required=True)
    roster = programs_sub.add_parser("roster", help="member rosters")
    roster_sub = roster.add_subparsers(dest="roster_command", metavar="ACTION", required=True)
    imp = roster_sub.add_parser("import", help="import a CSV or X12 834 roster; prints a JSON summary")
    imp.add_argument("file", type=Path)
    imp.add_argument("--program", required=True, help="the program's address (slug)")
    imp.add_argument("--format", choices=("csv", "834"), default=None, help="default: from the content")
    imp.set_defaults(func=_cmd_roster_import)
    elig = programs_sub.add_parser("eligibility", help="JSON Lines {id, member_id, birth_date, family_name, on} "
                                                       "on stdin -> {id, eligible, reason} on stdout")
    elig.add_argument("--program", required=True, help="the program's address (slug)")
    elig.set_defaults(func=_cmd_eligibility)


def _program(slug: str, err: TextIO) -> Program | None:
    from .models import Program

    program = Program.objects.select_related("sponsor").filter(slug=slug).first()
    if program is None:
        err.write(f"konsil programs: no program with the address {slug!r}\n")
    return program


def _cmd_roster_import(args) -> int:
    return roster_import(args.file, program=args.program, fmt=args.format)


def _cmd_eligibility(args) -> int:
    return check_lines(sys.stdin, sys.stdout, program=args.program)


def roster_import(path: Path, *, program: str, fmt: str | None = None, out: TextIO | None = None,
                  err: TextIO | None = None) -> int:
    from konsil.core.errors import DomainError

    from .roster import import_roster

    out, err = out or sys.stdout, err or sys.stderr
    found = _program(program, err)
    if found is None:
        return 2
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        err.write(f"konsil programs roster import: {path}: {exc.strerror or exc}\n")
        return 2
    try:
        summary = import_roster(actor="cli", program=found, content=content, fmt=fmt, check_permission=False)
    except DomainError as exc:
        err.write(f"konsil programs roster import: {exc.message}\n")
        out.write(json.dumps({"added": 0, "changed": 0, "terminated": 0, "unchanged": 0,
                              "rejected": [{"row": 0, "error": str(exc.message)}], "warnings": []}) + "\n")
        return 1
    out.write(json.dumps(summary, ensure_ascii=False) + "\n")
    return 0


def _line(program: Program, raw: str) -> dict:
    from . import eligibility

    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {"id": None, "eligible": False, "reason": "invalid_input", "error": f"not JSON: {exc.msg}"}
    if not isinstance(record, dict):
        return {"id": None, "eligible": False, "reason": "invalid_input", "error": "not a JSON object"}
    rid = record.get("id")
    rid = rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None
    fields = {}
    for name in ("member_id", "birth_date", "family_name", "on"):
        value = record.get(name)
        if value is None and name == "on":
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            return {"id": rid, "eligible": False, "reason": "invalid_input", "error": f"{name}: a short string"}
        fields[name] = value.strip()
    for name in ("birth_date", "on"):
        if name in fields:
            try:
                fields[name] = date.fromisoformat(fields[name])
            except ValueError:
                return {"id": rid, "eligible": False, "reason": "invalid_input", "error": f"{name}: YYYY-MM-DD"}
    result = eligibility.check(program, member_id=fields["member_id"], birth_date=fields["birth_date"],
                               family_name=fields["family_name"], on=fields.get("on"))
    out = {"id": rid, "eligible": result.eligible, "reason": result.reason}
    if result.date:
        out["date"] = result.date.isoformat()
    return out


def check_lines(inp: TextIO, out: TextIO, *, program: str, err: TextIO | None = None) -> int:
    from konsil.audit.services import emit

    err = err or sys.stderr
    found = _program(program, err)
    if found is None:
        return 2
    counts = {"lines": 0, "eligible": 0}
    for raw in inp:
        if not raw.strip():
            continue
        result = _line(found, raw)
        counts["lines"] += 1
        counts["eligible"] += bool(result["eligible"])
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    emit(actor="cli", action="program.eligibility_batch", obj=found, purpose="payment", detail=counts)
    return 0
