"""The figures of the analytics page, API, CSV, PDF and CLI: one function, `summary(scope, filters)`.

Every rate comes with its count, denominator and 95 % Wilson interval; turnaround is in hours (medians and 90th
percentiles of whole-minute durations); sponsor scopes suppress counts from 1 to 10 (see `suppression.py`).
Every key is named in docs/analytics.md.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.core import geo
from konsil.core.disclosure import SMALL_CELL

from . import cube, query, rollup, supply
from .stats import percentile, rate
from .suppression import suppress_summary

STAGES = (("tat_triage", "submitted", "triaged"), ("tat_offer", "triaged", "offered"),
          ("tat_accept", "offered", "accepted"), ("tat_deliver", "accepted", "delivered"),
          ("tat_total", "submitted", "delivered"))
DIAGNOSIS = ("confirmed", "refined", "changed")
TREATMENT = ("agree", "modify", "alternative", "against")
TREATMENT_CHANGED = ("modify", "alternative", "against")


@dataclass(frozen=True)
class Scope:
    """Whose cases: a provider network's (leaders) or a sponsor's (payer or employer admins, suppressed)."""

    kind: str  # "network" | "sponsor"
    name: str
    networks: tuple = ()
    sponsors: tuple = ()
    suppress: bool = False


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None
    specialty: str = ""
    channel: str = ""
    program: str = ""  # programs.Program slug
    state: str = ""

    def as_dict(self) -> dict:
        return {"from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None, "specialty": self.specialty or None,
                "channel": self.channel or None, "program": self.program or None, "state": self.state or None}


@dataclass
class Context:
    scope: Scope
    filters: Filters
    groups: dict
    names: dict = field(default_factory=dict)


@cache
def references() -> tuple[dict, ...]:
    """Published rates shown as reference lines (data/references.csv, each with its citation)."""
    with open(Path(__file__).parent / "data" / "references.csv", encoding="utf-8", newline="") as fh:
        return tuple({**row, "rate": float(row["rate"]), "n": int(row["n"])} for row in csv.DictReader(fh))


def reference_for(measure: str, key: str) -> dict | None:
    return next((r for r in references() if r["measure"] == measure and r["key"] == key), None)


def specialty_codes(code: str, groups: dict) -> tuple:
    """A specialty and every subspecialty under it."""
    from konsil.matching.models import Specialty

    parents = dict(Specialty.objects.values_list("code", "parent_id"))
    found = {code}
    changed = True
    while changed:
        more = {c for c, parent in parents.items() if parent in found} - found
        changed = bool(more)
        found |= more
    return tuple(sorted(found))


def program_id(scope: Scope, slug: str):
    """The id of a program the scope may see, by its slug; None when there is no such program."""
    from django.apps import apps

    if not slug or not apps.is_installed("konsil.programs"):
        return None
    from konsil.programs.models import Program

    programs = Program.objects.filter(slug=slug)
    programs = programs.filter(sponsor__in=scope.sponsors) if scope.sponsors else programs.filter(
        network__in=scope.networks)
    return programs.values_list("pk", flat=True).first()


def summary(scope: Scope, filters: Filters, *, today: date | None = None, source: str = "cells") -> dict:
    """Every figure for this scope and filter (see docs/analytics.md for the keys). `source`: "cells" sums the
    pre-aggregated cells (cube.py: years, quarters, months) where they answer the filter, "facts" reads the fact
    rows; both give the same figures."""
    today = today or timezone.localdate()
    groups = rollup._specialty_groups()
    specialties = specialty_codes(filters.specialty, groups) if filters.specialty else ()
    program = program_id(scope, filters.program) if filters.program else None
    where = query.Where(networks=tuple(scope.networks), sponsors=tuple(scope.sponsors), start=filters.start,
                        end=filters.end, specialties=specialties, channel=filters.channel,
                        program=str(program) if program else ("00000000-0000-0000-0000-000000000000"
                                                              if filters.program else ""),
                        state=filters.state)
    rows = (cube.rows(where) if source == "cells" else None) or query.run(where)
    ctx = Context(scope, filters, groups, _names(rows))
    total = rows["total"][0] if rows["total"] else {name: 0 for name in query.ALL}
    last = rollup.last_refresh()
    result = {
        "scope": {"kind": scope.kind, "name": scope.name,
                  "suppressed_below": SMALL_CELL if scope.suppress else None},
        "filters": filters.as_dict(),
        "time_zone": settings.TIME_ZONE,
        "refreshed_at": last.finished_at.isoformat() if last else None,
        "volume": _volume(rows, total, ctx, today),
        "turnaround": _turnaround(rows, total),
        "outcomes": _outcomes(rows, total, ctx),
        "references": [dict(r) for r in references()],
        "access": _access(rows, ctx, set(specialties) or None, today),
    }
    return suppress_summary(result) if scope.suppress else result


# --- labels -------------------------------------------------------------------------------------------------

def _names(rows) -> dict:
    """Display names of the organizations, programs and specialties that appear in the rows."""
    from konsil.accounts.models import Organization
    from konsil.matching.models import Specialty

    names = {"specialty": {s.code: str(s) for s in Specialty.objects.all()}}
    sponsor_ids = [r["sponsor_id"] for r in rows["sponsor"] if r["sponsor_id"]]
    names["sponsor"] = {_key(pk): name for pk, name in
                        Organization.objects.filter(pk__in=[_uuid(p) for p in sponsor_ids])
                        .values_list("pk", "name")}
    names["program"] = {}
    from django.apps import apps

    program_ids = [r["program"] for r in rows["program"] if r["program"]]
    if program_ids and apps.is_installed("konsil.programs"):
        from konsil.programs.models import Program

        names["program"] = {_key(pk): (name, slug) for pk, name, slug in Program.objects.filter(
            pk__in=[_uuid(p) for p in program_ids]).values_list("pk", "name", "slug")}
    return names


def _uuid(value):
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _key(value) -> str:
    return "" if value in (None, "") else str(_uuid(value))


def _choice_labels() -> dict:
    from konsil.cases.choices import LANGUAGE_CHOICES, Channel, Delivery, Urgency

    return {"channel": dict(Channel.choices), "urgency": dict(Urgency.choices), "delivery": dict(Delivery.choices),
            "language": {code: str(label) for code, label in LANGUAGE_CHOICES}}


def _month_key(value) -> str:
    return str(value)[:7]


def _months(rows, filters: Filters, today: date) -> list[str]:
    """Every month of the period (the data's first to last when the period is open), zeros included."""
    seen = sorted(_month_key(r["month"]) for r in rows)
    first = filters.start.isoformat()[:7] if filters.start else (seen[0] if seen else None)
    last = (min(filters.end, today) if filters.end else today).isoformat()[:7]
    if seen and seen[-1] > last:
        last = seen[-1]
    if first is None:
        return []
    out, (y, m) = [], map(int, first.split("-"))
    while f"{y:04d}-{m:02d}" <= last and len(out) < 600:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


# --- volume -------------------------------------------------------------------------------------------------

def _volume(rows, total, ctx: Context, today: date) -> dict:
    labels = _choice_labels()
    states = geo.states()
    by_month = {_month_key(r["month"]): r["n"] for r in rows["month"]}

    def ranked(name, column, label):
        items = [{"key": _key(r[column]) if name in ("program", "sponsor") else (r[column] or ""),
                  "count": r["n"]} for r in rows[name]]
        for item in items:
            item["label"] = label(item["key"]) if item["key"] else _("Not recorded")
        return sorted(items, key=lambda item: (-item["count"], item["key"]))

    return {
        "total": total["n"],
        "by_month": [{"key": month, "label": month, "count": by_month.get(month, 0)}
                     for month in _months(rows["month"], ctx.filters, today)],
        "by_channel": ranked("channel", "channel", lambda k: str(labels["channel"].get(k, k))),
        "by_program": ranked("program", "program", lambda k: ctx.names["program"].get(k, (k, ""))[0]),
        "by_sponsor": ranked("sponsor", "sponsor_id", lambda k: ctx.names["sponsor"].get(k, k)),
        "by_specialty": ranked("specialty", "specialty_group", lambda k: ctx.names["specialty"].get(k, k)),
        "by_urgency": ranked("urgency", "urgency", lambda k: str(labels["urgency"].get(k, k))),
        "by_state": ranked("state", "state", lambda k: states[k].name if k in states else k),
        "by_language": ranked("language", "language", lambda k: labels["language"].get(k, k)),
        "by_delivery": ranked("delivery", "delivery", lambda k: str(labels["delivery"].get(k, k))),
    }


# --- turnaround ---------------------------------------------------------------------------------------------

def _hours(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 1)


def stage_figures(pairs) -> dict:
    """n, median and 90th percentile (hours) of (minutes, count) pairs."""
    pairs = [(v, c) for v, c in pairs if v is not None]
    return {"n": sum(c for _v, c in pairs), "median_hours": _hours(percentile(pairs, 0.5)),
            "p90_hours": _hours(percentile(pairs, 0.9))}


def _turnaround(rows, total) -> dict:
    stages = []
    for column, start, end in STAGES:
        figures = stage_figures((r[column] * query.TENTHS if r[column] is not None else None, r["n"])
                                for r in rows[column])
        stages.append({"stage": f"{start}_{end}", "from": start, "to": end, **figures})
    made = total["offers_made"]
    return {
        "stages": stages,
        "sla_breaches": rate(total["breached"], total["accepted"]),
        "offers": {"made": made, "declined": rate(total["offers_declined"], made),
                   "timed_out": rate(total["offers_expired"], made)},
        "triage": {"confirmed": rate(total["triage_agreed"], total["triage_decided"]),
                   "overridden": rate(total["triage_decided"] - total["triage_agreed"], total["triage_decided"])},
    }


# --- outcomes -----------------------------------------------------------------------------------------------

def _verdicts(pairs: dict, keys, measure: str, changed=None) -> list[dict]:
    """Rates of each verdict among the cases with one; `changed` adds the sum of those keys as "changed"."""
    of = sum(pairs.get(k, 0) for k in keys)
    out = [{"verdict": k, **rate(pairs.get(k, 0), of), "reference": reference_for(measure, k)} for k in keys]
    if changed:
        out.append({"verdict": "changed", **rate(sum(pairs.get(k, 0) for k in changed), of),
                    "reference": reference_for(measure, "changed")})
    return out


def follow_up(row) -> dict:
    cost_n = row["cost_n"]
    cost_sum = Decimal(row["cost_sum"] or 0)
    nps_n = row["nps_n"]
    return {
        "plan_changed": rate(row["plan_changed"], row["plan_known"]),
        "procedure_avoided": rate(row["avoided"], row["avoided_known"]),
        "cost_difference": {"n": cost_n, "total": str(cost_sum.quantize(Decimal("0.01"))),
                            "mean": str((cost_sum / cost_n).quantize(Decimal("0.01"))) if cost_n else None,
                            "currency": "USD"},
        "nps": {"n": nps_n, "promoters": row["nps_promoters"], "detractors": row["nps_detractors"],
                "score": round(100 * (row["nps_promoters"] - row["nps_detractors"]) / nps_n, 1) if nps_n else None},
        "triage_confirmed": rate(row["triage_agreed"], row["triage_decided"]),
    }


def _outcomes(rows, total, ctx: Context) -> dict:
    dx, tx = {}, {}
    for r in rows["dx"]:
        if r["diagnosis_verdict"]:
            dx.setdefault(r["specialty_group"], {})[r["diagnosis_verdict"]] = r["n"]
    for r in rows["tx"]:
        if r["treatment_verdict"]:
            tx.setdefault(r["specialty_group"], {})[r["treatment_verdict"]] = r["n"]

    def overall(per):
        summed: dict = {}
        for pairs in per.values():
            for key, n in pairs.items():
                summed[key] = summed.get(key, 0) + n
        return summed

    by_specialty = []
    for r in sorted(rows["specialty"], key=lambda r: (-r["n"], r["specialty_group"] or "")):
        code = r["specialty_group"] or ""
        by_specialty.append({
            "specialty": code, "label": ctx.names["specialty"].get(code, code) if code else _("Not triaged"),
            "cases": r["n"],
            "diagnosis": _verdicts(dx.get(code, {}), DIAGNOSIS, "diagnosis"),
            "treatment": _verdicts(tx.get(code, {}), TREATMENT, "treatment", TREATMENT_CHANGED),
            "follow_up": follow_up(r),
        })
    return {
        "diagnosis": _verdicts(overall(dx), DIAGNOSIS, "diagnosis"),
        "treatment": _verdicts(overall(tx), TREATMENT, "treatment", TREATMENT_CHANGED),
        "follow_up": follow_up(total),
        "by_specialty": by_specialty,
    }


# --- access -------------------------------------------------------------------------------------------------

def _period_months(ctx: Context, rows, today: date) -> int:
    return max(1, len(_months(rows["month"], ctx.filters, today)))


def _access(rows, ctx: Context, specialties, today: date) -> dict:
    networks = ctx.scope.networks or _sponsor_networks(ctx.scope)
    directory = supply.directory(networks, groups=ctx.groups, specialties=specialties and frozenset(specialties),
                                 today=today)
    states = geo.states()
    demand = {r["state"]: r for r in rows["state"]}
    tat: dict = {}
    for r in rows["state_tat"]:
        if r["tat_hours"] is not None:
            tat.setdefault(r["state"], []).append((r["tat_hours"] * 60, r["n"]))
    map_rows = []
    for usps, state in states.items():
        if ctx.filters.state and usps != ctx.filters.state:
            continue
        n = demand.get(usps, {}).get("n", 0)
        offer = directory["state"].get(usps, {"specialists": 0, "capacity_per_month": 0.0})
        map_rows.append({
            "state": usps, "name": state.name, "population": state.population, "cases": n,
            "per_100k": round(n * 100_000 / state.population, 2) if state.population else None,
            "specialists": offer["specialists"], "capacity_per_month": round(offer["capacity_per_month"], 1),
            "median_turnaround_hours": stage_figures(tat.get(usps, []))["median_hours"],
        })
    months = _period_months(ctx, rows, today)
    deserts = []
    for r in rows["state_specialty"]:
        usps, group = r["state"], r["specialty_group"]
        if not usps or not group:
            continue
        offer = directory["state_specialty"].get((usps, group), {"specialists": 0, "capacity_per_month": 0.0})
        per_month = r["n"] / months
        if offer["specialists"] == 0 or per_month > offer["capacity_per_month"]:
            deserts.append({"state": usps, "specialty": group,
                            "label": ctx.names["specialty"].get(group, group),
                            "reason": "no_specialist" if offer["specialists"] == 0 else "capacity",
                            "cases": r["n"], "cases_per_month": round(per_month, 2),
                            "specialists": offer["specialists"],
                            "capacity_per_month": round(offer["capacity_per_month"], 1)})
    deserts.sort(key=lambda d: (d["reason"] != "no_specialist", -d["cases"], d["state"], d["specialty"]))
    rural_rows = [{"state": r["state"], **rate(r["rural"], r["rucc_known"])}
                  for r in sorted(rows["state"], key=lambda r: r["state"] or "") if r["state"]]
    total_rural = sum(r["rural"] for r in rows["state"])
    total_known = sum(r["rucc_known"] for r in rows["state"])
    labels = _choice_labels()["language"]
    requested = {r["language"]: r for r in rows["language"]}
    languages = []
    for code in sorted(set(requested) | set(directory["languages"]),
                       key=lambda c: (-requested.get(c, {}).get("n", 0), c)):
        if not code:
            continue
        languages.append({"language": code, "label": labels.get(code, code),
                          "requested": requested.get(code, {}).get("n", 0),
                          "interpreter_requested": requested.get(code, {}).get("interpreter", 0),
                          "specialists": directory["languages"].get(code, 0)})
    return {"states": map_rows, "deserts": deserts,
            "rural": {**rate(total_rural, total_known), "by_state": rural_rows},
            "languages": languages}


def _sponsor_networks(scope: Scope) -> tuple:
    from konsil.cases.models import Case

    return tuple(Case.objects.filter(sponsor__in=scope.sponsors).values_list("network_id", flat=True).distinct())
