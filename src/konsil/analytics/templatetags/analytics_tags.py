"""Formatting for the analytics page and report: percentages with their intervals, suppressed cells."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def isodate(value):
    """A figure's ISO date ("2026-03-31") or date-time as a date or datetime, for the `date` filter to write in
    the reader's format; anything else as it is."""
    text = str(value or "")
    try:
        return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    except ValueError:
        return value


@register.filter
def pct(value) -> str:
    """0.1234 -> "12.3 %" (localized); a missing rate -> "—"."""
    if value is None:
        return "—"
    return f"{number_format(round(value * 100, 1), 1)} %"


@register.filter
def interval(item: dict) -> str:
    """A rate's 95 % interval as "10.2–15.3 %"."""
    if not item or item.get("ci_low") is None:
        return "—"
    return f"{number_format(round(item['ci_low'] * 100, 1), 1)}–{number_format(round(item['ci_high'] * 100, 1), 1)} %"


@register.filter
def cell(value) -> str:
    """A count, or a word for a suppressed one."""
    if value is None:
        return _("fewer than 11")
    return number_format(value, force_grouping=True)


@register.filter
def row_cell(row: dict) -> str:
    """A breakdown row's count; one hidden only so that a small one cannot be worked out says so, not "fewer
    than 11" (it is 11 or more)."""
    if row and row.get("complement"):
        return _("hidden (it would reveal a smaller count)")
    return cell(row.get("count") if row else None)


@register.filter
def all_hidden(rows) -> bool:
    """Some counts suppressed and none shown (the others are 0): a chart of them would show no bars at all."""
    counts = [row.get("count") for row in rows or ()]
    return None in counts and not any(counts)


@register.filter
def get(mapping, key):
    return mapping.get(key, key) if mapping else key


@register.filter
def hours(value) -> str:
    return "—" if value is None else number_format(value, 1)


@register.filter
def rate_cells(item: dict) -> str:
    """The count, denominator, rate and interval cells of a rate's table row (a filter, not an include: the page
    has a few hundred of them)."""
    item = item or {}
    return format_html("<td>{}</td><td>{}</td><td>{}</td><td>{}</td>", cell(item.get("count")), cell(item.get("of")),
                       pct(item.get("rate")), interval(item))
