"""One pass over the filtered facts for every breakdown: GROUPING SETS on PostgreSQL, UNION ALL elsewhere.

Each set names its grouping columns and the aggregates it needs; `run()` returns {set name: [row dicts]}.
Column names come from this module only, never from input: values travel as query parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection

from .models import CaseFact

TABLE = CaseFact._meta.db_table


def _true(column: str) -> str:
    return f"SUM(CASE WHEN {column} THEN 1 ELSE 0 END)"


AGGREGATES = {
    "n": "COUNT(*)",
    "breached": _true("breached"),
    "accepted": "COUNT(tat_accept)",  # cases that reached acceptance: the review clock ran
    "offers_made": "SUM(offers_made)",
    "offers_declined": "SUM(offers_declined)",
    "offers_expired": "SUM(offers_expired)",
    "triage_agreed": _true("triage_agreed"),
    "triage_decided": "COUNT(triage_agreed)",
    "plan_changed": _true("plan_changed"),
    "plan_known": "COUNT(plan_changed)",
    "avoided": _true("procedure_avoided"),
    "avoided_known": "COUNT(procedure_avoided)",
    "cost_sum": "SUM(cost_difference)",
    "cost_n": "COUNT(cost_difference)",
    "nps_promoters": "SUM(CASE WHEN nps >= 9 THEN 1 ELSE 0 END)",
    "nps_detractors": "SUM(CASE WHEN nps <= 6 THEN 1 ELSE 0 END)",
    "nps_n": "COUNT(nps)",
    "rural": "SUM(CASE WHEN rucc >= 4 THEN 1 ELSE 0 END)",
    "rucc_known": "COUNT(rucc)",
    "interpreter": _true("interpreter"),
}
ALL = tuple(AGGREGATES)
COUNT = ("n",)
OUTCOMES = ("n", "plan_changed", "plan_known", "avoided", "avoided_known", "cost_sum", "cost_n", "nps_promoters",
            "nps_detractors", "nps_n", "triage_agreed", "triage_decided")

# name -> (grouping columns, aggregates)
SETS = {
    "total": ((), ALL),
    "month": (("month",), COUNT),
    "channel": (("channel",), COUNT),
    "program": (("program",), COUNT),
    "sponsor": (("sponsor_id",), COUNT),
    "specialty": (("specialty_group",), OUTCOMES),
    "urgency": (("urgency",), COUNT),
    "state": (("state",), ("n", "rural", "rucc_known")),
    "language": (("language",), ("n", "interpreter")),
    "delivery": (("delivery",), COUNT),
    "tat_triage": (("tat_triage",), COUNT),
    "tat_offer": (("tat_offer",), COUNT),
    "tat_accept": (("tat_accept",), COUNT),
    "tat_deliver": (("tat_deliver",), COUNT),
    "tat_total": (("tat_total",), COUNT),
    "dx": (("specialty_group", "diagnosis_verdict"), COUNT),
    "tx": (("specialty_group", "treatment_verdict"), COUNT),
    "state_tat": (("state", "tat_hours"), COUNT),
    "state_specialty": (("state", "specialty_group"), COUNT),
}
COLUMNS = tuple(dict.fromkeys(col for cols, _aggs in SETS.values() for col in cols))
# Durations are grouped by tenths of an hour (6 minutes: the precision shown), the map's by whole hours, so the
# value counts stay small; medians and percentiles are exact at that resolution.
TENTHS = 6
EXPRESSIONS = {**{f"tat_{stage}": f"tat_{stage} / {TENTHS}" for stage in ("triage", "offer", "accept", "deliver",
                                                                         "total")},
               "tat_hours": "tat_total / 60"}


def expr(column: str) -> str:
    return EXPRESSIONS.get(column, column)


@dataclass(frozen=True)
class Where:
    """The filter as SQL over the fact table; every value is a parameter."""

    networks: tuple = ()
    sponsors: tuple = ()
    start: date | None = None
    end: date | None = None
    specialties: tuple = ()
    channel: str = ""
    program: str = ""
    state: str = ""

    def sql(self) -> tuple[str, list]:
        parts, params = [], []

        def among(column: str, values) -> None:
            parts.append(f"{column} IN ({', '.join(['%s'] * len(values))})" if values else "1 = 0")
            params.extend(values)

        if len(self.networks) == 1 and not self.sponsors:
            parts.append("network_id = %s")
            params.append(_db_uuid(self.networks[0]))
        elif self.networks or not self.sponsors:
            among("network_id", [_db_uuid(v) for v in self.networks])
        if self.sponsors:
            among("sponsor_id", [_db_uuid(v) for v in self.sponsors])
        if self.start:
            parts.append("submitted_on >= %s")
            params.append(self.start)
        if self.end:
            parts.append("submitted_on <= %s")
            params.append(self.end)
        if self.specialties:
            among("specialty", list(self.specialties))
        for column in ("channel", "state"):
            if getattr(self, column):
                parts.append(f"{column} = %s")
                params.append(getattr(self, column))
        if self.program:
            parts.append("program = %s")
            params.append(_db_uuid(self.program))
        return " AND ".join(parts) or "1 = 1", params


def _db_uuid(value):
    """UUIDs as the backend stores them (PostgreSQL uuid; a 32-character hex string on SQLite)."""
    return value if connection.vendor == "postgresql" else str(value).replace("-", "")


def _select(aggregates) -> str:
    return ", ".join(f"{AGGREGATES[name]} AS {name}" for name in aggregates)


def run(where: Where, sets: dict | None = None) -> dict[str, list[dict]]:
    """PostgreSQL: one GROUPING SETS pass. Elsewhere (SQLite sorts for every GROUP BY): one plain scan of the
    columns, counted in Python (collections.Counter over tuples runs in C)."""
    sets = sets or SETS
    condition, params = where.sql()
    if connection.vendor == "postgresql":
        return _grouping_sets(sets, condition, params)
    return _one_scan(sets, condition, params)


def _grouping_sets(sets, condition, params) -> dict[str, list[dict]]:
    columns = tuple(dict.fromkeys(col for cols, _aggs in sets.values() for col in cols))
    masks = {}
    for name, (cols, _aggs) in sets.items():  # GROUPING(): a 1 bit for each column the set does not group by
        masks[sum(1 << (len(columns) - 1 - i) for i, col in enumerate(columns) if col not in cols)] = name
    wanted = tuple(dict.fromkeys(agg for _cols, aggs in sets.values() for agg in aggs))
    grouping = ", ".join("(" + ", ".join(expr(c) for c in cols) + ")" for cols, _aggs in sets.values())
    exprs = ", ".join(expr(c) for c in columns)
    sql = (f"SELECT GROUPING({exprs}) AS g, {exprs}, {_select(wanted)} "  # noqa: S608
           f"FROM {TABLE} WHERE {condition} GROUP BY GROUPING SETS ({grouping})")  # names from this module only
    out: dict[str, list[dict]] = {name: [] for name in sets}
    plans = {}  # per GROUPING() mask: where its rows go, their keys, and the positions of their values
    for mask, name in masks.items():
        cols, aggs = sets[name]
        plans[mask] = (out[name], cols + aggs, [1 + columns.index(c) for c in cols],
                       [1 + len(columns) + wanted.index(a) for a in aggs])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            found, keys, at_cols, at_aggs = plans[row[0]]
            found.append(dict(zip(keys, [row[i] for i in at_cols] + [row[i] or 0 for i in at_aggs], strict=True)))
    return out


def _union_all(sets, condition, params) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    with connection.cursor() as cursor:
        for name, (cols, aggs) in sets.items():
            group = f" GROUP BY {', '.join(expr(c) for c in cols)}" if cols else ""
            head = f"{', '.join(expr(c) for c in cols)}, " if cols else ""
            sql = f"SELECT {head}{_select(aggs)} FROM {TABLE} WHERE {condition}{group}"  # noqa: S608 (our names)
            cursor.execute(sql, params)
            out[name] = [{**dict(zip(cols, row[:len(cols)], strict=True)),
                          **{a: v or 0 for a, v in zip(aggs, row[len(cols):], strict=True)}}
                         for row in cursor.fetchall()]
    return out


# The same aggregates for the one-scan path: (input column, how it is folded).
FOLDS = {
    "breached": ("breached", "true"), "accepted": ("tat_accept", "notnull"),
    "offers_made": ("offers_made", "sum"), "offers_declined": ("offers_declined", "sum"),
    "offers_expired": ("offers_expired", "sum"), "triage_agreed": ("triage_agreed", "true"),
    "triage_decided": ("triage_agreed", "notnull"), "plan_changed": ("plan_changed", "true"),
    "plan_known": ("plan_changed", "notnull"), "avoided": ("procedure_avoided", "true"),
    "avoided_known": ("procedure_avoided", "notnull"), "cost_sum": ("cost_difference", "sum"),
    "cost_n": ("cost_difference", "notnull"), "nps_promoters": ("nps", "ge9"), "nps_detractors": ("nps", "le6"),
    "nps_n": ("nps", "notnull"), "rural": ("rucc", "ge4"), "rucc_known": ("rucc", "notnull"),
    "interpreter": ("interpreter", "true"),
}
TESTS = {"true": bool, "notnull": lambda v: v is not None, "ge9": lambda v: v is not None and v >= 9,
         "le6": lambda v: v is not None and v <= 6, "ge4": lambda v: v is not None and v >= 4}


def _one_scan(sets, condition, params) -> dict[str, list[dict]]:
    from collections import Counter
    from decimal import Decimal

    keys = tuple(dict.fromkeys(col for cols, _aggs in sets.values() for col in cols))
    inputs = tuple(dict.fromkeys(FOLDS[a][0] for _cols, aggs in sets.values() for a in aggs if a != "n"))
    # plain text and numbers out of SQLite (no per-row date parsing); the cost only as "known" in the tuples
    select = [("substr(month, 1, 7)" if k == "month" else expr(k)) for k in keys] + [
        "cost_difference IS NOT NULL" if c == "cost_difference" else c for c in inputs] + ["cost_difference"]
    sql = f"SELECT {', '.join(select)} FROM {TABLE} WHERE {condition}"  # noqa: S608 (names from this module)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    names = [*keys, *(f"in_{c}" for c in inputs), "cost"]
    columns = dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {name: () for name in names}
    out: dict[str, list[dict]] = {}
    for name, (cols, aggs) in sets.items():
        wanted = [a for a in aggs if a != "n"]
        ins = list(dict.fromkeys(FOLDS[a][0] for a in wanted))
        # one C-speed count of each distinct (group, inputs) combination, then folded per group
        combos = Counter(zip(*(columns[c] for c in cols), *(columns[f"in_{c}"] for c in ins), strict=True)) \
            if (cols or ins) else Counter({(): len(rows)})
        result: dict = {}
        if not cols:
            result[()] = {"n": 0, **dict.fromkeys(wanted, 0)}
        for combo, n in combos.items():
            key, values = combo[:len(cols)], dict(zip(ins, combo[len(cols):], strict=True))
            entry = result.setdefault(key, {**dict(zip(cols, key, strict=True)), "n": 0, **dict.fromkeys(wanted, 0)})
            entry["n"] += n
            for agg in wanted:
                column, fold = FOLDS[agg]
                value = values[column]
                if column == "cost_difference":
                    continue  # summed below from the exact amounts
                if fold == "sum":
                    entry[agg] += (value or 0) * n
                elif TESTS[fold](value):
                    entry[agg] += n
        if "cost_sum" in wanted or "cost_n" in wanted:
            index = [columns[c] for c in cols]
            for i, cost in enumerate(columns["cost"]):
                if cost is not None:
                    entry = result[tuple(col[i] for col in index)]
                    entry["cost_sum"] = entry.get("cost_sum", 0) + Decimal(str(cost))
                    entry["cost_n"] = entry.get("cost_n", 0) + 1
        out[name] = list(result.values())
    return out
