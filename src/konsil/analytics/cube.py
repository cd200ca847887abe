"""The facts pre-aggregated by month, quarter and year, so no request reads a million fact rows; exact, not sampled.

A cell (models.Cell) holds every breakdown of query.SETS for one network, period, sponsor and program (or all of
them: a pooled cell), for one "slice": no filter, or one value of specialty, channel or state (the page's
single-value filters). Month cells are built by the same query code as the fact path (query.run over the expanded
sets); the no-filter slice, the pooled cells and the quarter and year cells are sums of those (Sum), so summing
the cells of a period gives exactly the rows the fact path gives; rates, Wilson intervals and percentiles are then
computed from those sums and histograms by measures.py as before.

`rows(where)` answers from the cells when the filter is at most one of specialty / channel / state. It covers the
period with whole years where their cells are usable (all their facts inside the period), then quarters, then
months; a month that the period cuts is read from the fact rows of that month only. Two or more of those filters
at once go to the fact path (query.run): they select few facts.

`rebuild()` is called by rollup.refresh() for the (network, month) pairs whose facts it changed, in the same
refresh: those months are rebuilt from the facts, then their quarters and years from the month cells, so cells are
exact as of the facts' watermark.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max, Min

from . import query
from .models import CaseFact, Cell

SLICES = {"": None, "specialty": "specialty", "channel": "channel", "state": "state"}
FROM_FACTS = ("specialty", "channel", "state")  # the no-filter slice is the sum of the channel slice's cells
KEY = ("month", "sponsor_id", "program")
WORK_MEM = "256MB"  # PostgreSQL: the build's grouping sets hashed in memory instead of sorted on disk


def expanded() -> tuple[dict, dict]:
    """The sets to compute month cells with: each set of query.SETS grouped also by the cell key and the slice
    column. Sets with the same columns are merged (GROUPING() tells sets apart by their columns). Returns (sets,
    uses): uses[name] lists the (slice, set) pairs an expanded set feeds."""
    merged: dict[frozenset, list] = {}
    for slice_name in FROM_FACTS:
        extra = KEY + (SLICES[slice_name],)
        for name, (cols, aggs) in query.SETS.items():
            full = tuple(dict.fromkeys(extra + cols))
            entry = merged.setdefault(frozenset(full), [full, {}, []])
            entry[1].update(dict.fromkeys(aggs))
            entry[2].append((slice_name, name))
    sets, uses = {}, {}
    for i, (cols, aggs, used) in enumerate(merged.values()):
        sets[f"g{i}"] = (cols, tuple(aggs))
        uses[f"g{i}"] = used
    return sets, uses


def _uuid(value) -> str | None:
    return None if value in (None, "") else str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def _month(value) -> dt.date:
    text = str(value)[:7]
    return dt.date(int(text[:4]), int(text[5:7]), 1)


def _month_end(month: dt.date) -> dt.date:
    following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def _start(month: dt.date, span: str) -> dt.date:
    """The first day of the span (month, quarter or year) that holds this month."""
    if span == "year":
        return month.replace(month=1, day=1)
    if span == "quarter":
        return month.replace(month=(month.month - 1) // 3 * 3 + 1, day=1)
    return month.replace(day=1)


def _end(start: dt.date, span: str) -> dt.date:
    months = {"month": 1, "quarter": 3, "year": 12}[span]
    last = start.replace(year=start.year + (start.month + months - 2) // 12, month=(start.month + months - 2) % 12 + 1)
    return _month_end(last)


# --- building -------------------------------------------------------------------------------------------------


def build(network_id, months=None) -> list[Cell]:
    """The month cells of one network (of these months only, when given), from its fact rows: per sponsor and
    program, and pooled."""
    sets, uses = expanded()
    facts = CaseFact.objects.filter(network_id=network_id)
    if months is not None:
        facts = facts.filter(month__in=list(months))
    bounds = {
        _month(m): (first, last)
        for m, first, last in facts.values("month")
        .annotate(first=Min("submitted_on"), last=Max("submitted_on"))
        .values_list("month", "first", "last")
    }
    if not bounds:
        return []
    start = min(bounds)
    end = _month_end(max(bounds))
    with transaction.atomic():
        previous = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('work_mem'), set_config('work_mem', %s, true)", [WORK_MEM])
                previous = cursor.fetchone()[0]
        rows = query.run(query.Where(networks=(network_id,), start=start, end=end), sets)
        if previous is not None:  # set for this query only (an enclosing transaction would keep it to its end)
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('work_mem', %s, true)", [previous])
    figures: dict = defaultdict(lambda: defaultdict(list))
    for gname, used in uses.items():
        for r in rows[gname]:
            month = _month(r["month"])
            if month not in bounds:
                continue  # a month between the ones asked for
            for slice_name, set_name in used:
                column = SLICES[slice_name]
                key = (month, _uuid(r["sponsor_id"]), _uuid(r["program"]), slice_name, r[column] or "")
                figures[key][set_name].append(_stored(set_name, r))
    cells = [
        Cell(
            network_id=network_id,
            span="month",
            month=month,
            sponsor=sponsor,
            program=program,
            slice=slice_name,
            value=value,
            first_day=bounds[month][0],
            last_day=bounds[month][1],
            figures=dict(sets_),
        )
        for (month, sponsor, program, slice_name, value), sets_ in figures.items()
    ]
    cells += combine([c for c in cells if c.slice == "channel"], slice_name="")
    return cells + combine(cells, pool=True)


def combine(cells, *, span: str | None = None, pool: bool = False, slice_name: str | None = None) -> list[Cell]:
    """Cells summed into longer spans (span), across sponsors and programs (pool) or across a slice's values
    (slice_name: the slice they become)."""
    groups: dict = defaultdict(list)
    for c in cells:
        key = (
            c.network_id,
            span or c.span,
            _start(c.month, span or c.span),
            pool or c.pooled,
            None if pool else _uuid(c.sponsor),
            None if pool else _uuid(c.program),
            c.slice if slice_name is None else slice_name,
            c.value if slice_name is None else "",
        )
        groups[key].append(c)
    out = []
    for (network_id, span_, month, pooled, sponsor, program, slice_, value), members in groups.items():
        total = Sum()
        for member in members:
            total.add_cell(member.figures)
        out.append(
            Cell(
                network_id=network_id,
                span=span_,
                month=month,
                pooled=pooled,
                sponsor=sponsor,
                program=program,
                slice=slice_,
                value=value,
                first_day=min(m.first_day for m in members),
                last_day=max(m.last_day for m in members),
                figures=total.stored(),
            )
        )
    return out


def _build_all(network_id) -> int:
    """Every cell of one network, a quarter's months at a time (one pass over the facts each), so memory holds one
    quarter's month cells and one year's quarter cells; returns the cells written."""
    facts = CaseFact.objects.filter(network_id=network_id)
    months = sorted({_month(m) for m in facts.values_list("month", flat=True).distinct()})
    written = 0
    for year in sorted({m.year for m in months}):
        quarters = []
        for begin in sorted({_start(m, "quarter") for m in months if m.year == year}):
            cells = build(network_id, [m for m in months if _start(m, "quarter") == begin])
            quarter = combine(cells, span="quarter")
            Cell.objects.bulk_create(cells + quarter, batch_size=200)
            quarters += quarter
            written += len(cells) + len(quarter)
        years = combine(quarters, span="year")
        Cell.objects.bulk_create(years, batch_size=200)
        written += len(years)
    return written


def rebuild(touched=None) -> int:
    """Rebuild the cells of these (network id, month) pairs and of their quarters and years (every cell when
    None); returns the cells written."""
    written = 0
    if touched is not None and not Cell.objects.exists() and CaseFact.objects.exists():
        touched = None  # facts from before the cells existed (an upgrade): build them all once
    if touched is None:
        networks = {n: None for n in CaseFact.objects.values_list("network_id", flat=True).distinct()}
        with transaction.atomic():
            Cell.objects.all().delete()
            for network_id in networks:
                written += _build_all(network_id)
        return written
    by_network: dict = defaultdict(set)
    for network_id, month in touched:
        by_network[network_id].add(_month(month))
    for network_id, months in by_network.items():
        # one pass over the facts from the first to the last touched month (changes cluster in recent months)
        cells = build(network_id, sorted(months))
        with transaction.atomic():
            mine = Cell.objects.filter(network_id=network_id)
            mine.filter(span="month", month__in=sorted(months)).delete()
            Cell.objects.bulk_create(cells, batch_size=200)
            written += len(cells)
            for span, shorter in (("quarter", "month"), ("year", "quarter")):
                starts = sorted({_start(m, span) for m in months})
                for begin in starts:
                    parts = list(mine.filter(span=shorter, month__gte=begin, month__lte=_end(begin, span)))
                    mine.filter(span=span, month=begin).delete()
                    merged = combine(parts, span=span)
                    Cell.objects.bulk_create(merged, batch_size=200)
                    written += len(merged)
    return written


# --- reading --------------------------------------------------------------------------------------------------


def _slice(where: query.Where) -> tuple[str, list] | None:
    """The one slice that answers this filter, or None when more than one of the sliced filters is set."""
    chosen = [
        (name, values)
        for name, values in (
            ("specialty", list(where.specialties)),
            ("channel", [where.channel] if where.channel else []),
            ("state", [where.state] if where.state else []),
        )
        if values
    ]
    if len(chosen) > 1:
        return None
    return chosen[0] if chosen else ("", [""])


def cover(where: query.Where, cells) -> tuple[list, list[dt.date]]:
    """The cells (ids) that sum to the period's facts, whole years first, then quarters, then months; and the
    months the period cuts (their facts are read). `cells`: (id, span, month, first_day, last_day) of the
    candidates."""
    units: dict = defaultdict(list)
    for pk, span, month, first, last in cells:
        units[(span, month)].append((pk, first, last))

    def inside(unit) -> bool:  # every fact of every cell of this period lies in [start, end]
        return all(
            not ((where.start and first < where.start) or (where.end and last > where.end))
            for _pk, first, last in units[unit]
        )

    def outside(begin: dt.date, span: str) -> bool:  # the calendar period holds no day of [start, end]
        return bool((where.start and _end(begin, span) < where.start) or (where.end and begin > where.end))

    chosen, cut = [], []
    for year in sorted({month.year for _span, month in units}):
        begin = dt.date(year, 1, 1)
        if ("year", begin) in units and inside(("year", begin)):
            chosen += [pk for pk, _f, _l in units[("year", begin)]]
            continue
        for quarter in (1, 4, 7, 10):
            begin = dt.date(year, quarter, 1)
            if outside(begin, "quarter"):
                continue
            if ("quarter", begin) in units and inside(("quarter", begin)):
                chosen += [pk for pk, _f, _l in units[("quarter", begin)]]
                continue
            for month in range(quarter, quarter + 3):
                begin = dt.date(year, month, 1)
                if ("month", begin) not in units or outside(begin, "month"):
                    continue
                if inside(("month", begin)):
                    chosen += [pk for pk, _f, _l in units[("month", begin)]]
                else:
                    cut.append(begin)
    return chosen, cut


def rows(where: query.Where) -> dict[str, list[dict]] | None:
    """The rows query.run(where) would give, summed from the cells (and the facts of cut months); None when the
    filter needs the fact path."""
    chosen = _slice(where)
    if chosen is None:
        return None
    slice_name, values = chosen
    if not Cell.objects.exists():
        return None  # not built yet (facts from before an upgrade, until the next refresh): the facts answer
    cells = Cell.objects.filter(slice=slice_name, value__in=values)
    if where.networks or not where.sponsors:
        cells = cells.filter(network_id__in=list(where.networks))
    if where.sponsors:
        cells = cells.filter(sponsor__in=list(where.sponsors))
    if where.program:
        cells = cells.filter(program=where.program)
    cells = cells.filter(pooled=not (where.sponsors or where.program))
    if where.start:
        cells = cells.filter(month__gte=_start(where.start, "year"))
    if where.end:
        cells = cells.filter(month__lte=where.end.replace(day=1))
    ids, cut = cover(where, cells.values_list("pk", "span", "month", "first_day", "last_day"))
    total = Sum()
    if ids:
        for figures in Cell.objects.filter(pk__in=ids).values_list("figures", flat=True):
            total.add_cell(figures)
    for month in cut:
        part = replace(
            where, start=max(filter(None, (where.start, month))), end=min(filter(None, (where.end, _month_end(month))))
        )
        total.add_rows(query.run(part))
    return total.result()


class Sum:
    """Adds rows of the same sets up: counts and sums by their grouping values (amounts in whole cents)."""

    def __init__(self) -> None:
        self.sets: dict[str, dict] = {name: {} for name in query.SETS}

    def add_cell(self, figures: dict) -> None:
        for name, stored in figures.items():
            width = len(query.SETS[name][0])
            found = self.sets[name]
            if query.SETS[name][1] == ("n",):
                for row in stored:  # counts only: the common case, kept tight
                    key = tuple(row[:width])
                    found[key] = found.get(key, 0) + row[width]
                continue
            for row in stored:
                key = tuple(row[:width])
                entry = found.get(key)
                if entry is None:
                    found[key] = row[width:]  # a new list (a slice): the row itself is never changed
                else:
                    for i, value in enumerate(row[width:]):
                        entry[i] += value

    def add_rows(self, rows: dict) -> None:
        """Rows as query.run gives them (the facts of a cut month)."""
        self.add_cell({name: [_stored(name, row) for row in found] for name, found in rows.items()})

    def stored(self) -> dict[str, list[list]]:
        """The sums as a cell keeps them (figures)."""
        out = {}
        for name, found in self.sets.items():
            if found:
                counts_only = query.SETS[name][1] == ("n",)
                out[name] = [[*key, values] if counts_only else [*key, *values] for key, values in found.items()]
        return out

    def result(self) -> dict[str, list[dict]]:
        out = {}
        for name, found in self.sets.items():
            cols, aggs = query.SETS[name]
            if not cols and not found:
                found = {(): [0] * len(aggs)}
            counts_only = aggs == ("n",)
            rows = []
            for key, values in found.items():
                row = dict(zip(cols, key, strict=True))
                if counts_only:
                    row["n"] = values
                else:
                    row.update(zip(aggs, values, strict=True))
                    if "cost_sum" in row:
                        row["cost_sum"] = Decimal(row["cost_sum"]) / 100
                rows.append(row)
            out[name] = rows
        return out


def _stored(name: str, row: dict) -> list:
    """A row of query.run as a cell keeps it: months as YYYY-MM, ids in their dashed form, amounts in cents."""
    cols, aggs = query.SETS[name]
    return [
        str(row[c])[:7] if c == "month" else (_uuid(row[c]) if c in ("sponsor_id", "program") else row[c]) for c in cols
    ] + [_cents(row[a]) if a == "cost_sum" else row[a] for a in aggs]


def _cents(value) -> int:
    return int((Decimal(str(value or 0)) * 100).to_integral_value())
