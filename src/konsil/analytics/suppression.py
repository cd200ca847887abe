"""Small-cell suppression for sponsor views: no count from 1 to 10 is shown, nor anything derived from one.

A suppressed cell keeps its key with the value null and `"suppressed": true`. In each breakdown list where a
single cell would be suppressed, the next smallest is suppressed too (with `"complement": true`: it is not small
itself), so the total does not give it away.
"""

from __future__ import annotations

from konsil.core.disclosure import SMALL_CELL, complement

# count key -> the keys derived from it that go with it
DERIVED = {
    "count": ("rate", "ci_low", "ci_high"),
    "of": ("count", "rate", "ci_low", "ci_high"),
    "n": ("median_hours", "p90_hours", "total", "mean", "promoters", "detractors", "score"),
    "cases": ("per_100k", "median_turnaround_hours", "cases_per_month"),
    "requested": ("interpreter_requested",),
    "interpreter_requested": (),
    "made": (),
    "total": (),
    "promoters": (),
    "detractors": (),
}


def small(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < SMALL_CELL


def _cell(item: dict) -> dict:
    hidden = False
    for key, derived in DERIVED.items():
        if key in item and small(item[key]):
            hidden = True
            item[key] = None
            for name in derived:
                if name in item:
                    item[name] = None
    if hidden:
        item["suppressed"] = True
    return item


def _complement(items: list) -> None:
    """When exactly one cell of a list is hidden, hide the smallest shown count too."""
    cells = [i for i in items if isinstance(i, dict)]
    index = complement([i.get("count") for i in cells], [bool(i.get("suppressed")) for i in cells])
    if index is not None:
        smallest = cells[index]
        smallest["count"] = None
        smallest["suppressed"] = True
        smallest["complement"] = True  # hidden although 11 or more: shown, it would give the small one away


def _walk(value, parent_key: str = ""):
    if isinstance(value, dict):
        if parent_key in ("references", "filters", "scope"):
            return value
        for key, child in value.items():
            value[key] = _walk(child, key)
        return _cell(value)
    if isinstance(value, list):
        items = [_walk(child, parent_key) for child in value]
        if parent_key.startswith("by_"):
            _complement(items)
        return items
    return value


def suppress_summary(result: dict) -> dict:
    volume = result.get("volume", {})
    if small(volume.get("total")):
        volume["total"] = None
        volume["total_suppressed"] = True
    for key in ("volume", "turnaround", "outcomes", "access"):
        if key in result:
            result[key] = _walk(result[key], key)
    return result
