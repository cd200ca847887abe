"""`konsil matching assign` and `konsil matching specialties`: plain functions over paths and streams.

Both return an exit status. Bad input lines are reported on `err` (file, line number, field) and skipped; assign
fails (status 1) only when a file cannot be read or holds no valid record at all.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from django.utils.translation import gettext as _

from . import catalog, optimize, scoring

DIGITS = 6


def _write(out: TextIO, record: dict) -> None:
    out.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_records(path: Path | str, parse: Callable[[object], dict], err: TextIO) -> list[dict] | None:
    """Valid records of a JSON Lines file (None when the file cannot be opened); reports and skips bad lines."""
    path = Path(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        err.write(_("%(path)s: cannot be read (%(error)s)") % {"path": path, "error": exc.strerror or exc} + "\n")
        return None
    records, seen = [], set()
    with fh:
        for number, raw_line in enumerate(fh, start=1):
            where = f"{path}:{number}"
            try:
                line = raw_line.decode("utf-8")
            except UnicodeDecodeError:
                err.write(_("%(where)s: not UTF-8 text; line skipped") % {"where": where} + "\n")
                continue
            if not line.strip():
                continue
            try:
                record = parse(json.loads(line))
            except json.JSONDecodeError as exc:
                err.write(_("%(where)s: not valid JSON (%(error)s); line skipped") % {"where": where, "error": exc.msg}
                          + "\n")
                continue
            except scoring.InputError as exc:
                err.write(_("%(where)s: field %(field)s: %(error)s; line skipped")
                          % {"where": where, "field": exc.field, "error": exc.message} + "\n")
                continue
            if record["id"] in seen:
                err.write(_("%(where)s: field id: duplicate id %(id)s; line skipped")
                          % {"where": where, "id": record["id"]} + "\n")
                continue
            seen.add(record["id"])
            records.append(record)
    return records


def _factors(factors: list[dict]) -> list[dict]:
    return [{**f, "value": round(f["value"], DIGITS)} for f in factors]


def assign(cases_path: Path | str, specialists_path: Path | str, out: TextIO = sys.stdout,
           err: TextIO = sys.stderr, *, weights: scoring.Weights | None = None) -> int:
    """Assign every case it can (exactly: most cases, then highest total score); one JSON line per case, then a
    summary line {"assigned", "unassigned", "objective", "seconds"}."""
    cases = read_records(cases_path, scoring.parse_case, err)
    specialists = read_records(specialists_path, scoring.parse_specialist, err)
    if cases is None or specialists is None:
        return 1
    for records, path in ((cases, cases_path), (specialists, specialists_path)):
        if not records:
            err.write(_("%(path)s: no valid record") % {"path": path} + "\n")
            return 1
    index = optimize.SpecialistIndex(specialists, weights or scoring.DEFAULT_WEIGHTS)
    cases = optimize.with_fallback(cases, index)
    result = optimize.assign(cases, index)
    for case, sid, score, n in zip(cases, result.specialist_ids, result.scores, result.candidates, strict=True):
        if sid is None:
            _write(out, {"case_id": case["id"], "specialist_id": None, "score": None,
                         "reasons": optimize.explain_unassigned(case, n, index), "factors": []})
            continue
        ev = scoring.evaluate(case, index.specialists[index.position[sid]], index.weights, table=index.table)
        _write(out, {"case_id": case["id"], "specialist_id": sid, "score": round(score, DIGITS),
                     "reasons": ev.reasons, "factors": _factors(ev.factors)})
    _write(out, {"assigned": result.assigned, "unassigned": result.unassigned,
                 "objective": round(result.objective, DIGITS), "seconds": round(result.seconds, 3)})
    return 0


def specialties(out: TextIO = sys.stdout) -> int:
    """The specialty catalog as JSON Lines {"code", "name", "nucc", "parent"}."""
    for row in catalog.rows():
        _write(out, {"code": row["code"], "name": row["name"], "nucc": row["nucc_code"] or None,
                     "parent": row.get("parent") or None})
    return 0


def import_specialists(path: Path | str, *, network: str, fmt: str | None = None, out: TextIO = sys.stdout,
                       err: TextIO = sys.stderr) -> int:
    """`konsil matching import FILE --network SLUG` (needs the database): one JSON line per row of the report,
    then a summary line {"created", "updated", "failed"}. Status 0 when every row was saved, 1 otherwise,
    2 for an unknown network."""
    from konsil.accounts.models import Organization
    from konsil.accounts.roles import OrganizationKind

    from .importing import import_specialists as run

    org = Organization.objects.filter(slug=network, kind=OrganizationKind.PROVIDER_NETWORK).first()
    if org is None:
        err.write(_("%(slug)s: no provider network with this slug") % {"slug": network} + "\n")
        return 2
    fmt = fmt or ("jsonl" if str(path).lower().endswith((".jsonl", ".ndjson", ".json")) else "csv")
    try:
        with Path(path).open("rb") as fh:
            report = run(fh, fmt=fmt, network=org, actor="cli")
    except OSError as exc:
        err.write(_("%(path)s: cannot be read (%(error)s)") % {"path": path, "error": exc.strerror or exc} + "\n")
        return 1
    if report.file_error:
        err.write(f"{path}: {report.file_error}\n")
        return 1
    data = report.as_dict()
    for row in data["rows"]:
        _write(out, row)
    _write(out, {"created": data["created"], "updated": data["updated"], "failed": data["failed"]})
    return 0 if not report.failed else 1
