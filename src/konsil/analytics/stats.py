"""Pure statistics: Wilson score intervals, percentiles over value counts, small-cell suppression."""

from __future__ import annotations

import math
from collections.abc import Iterable

from konsil.core.disclosure import SMALL_CELL

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95 % by default); None when there is nothing to estimate."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(successes: int, n: int) -> dict:
    """A rate with its count, denominator and 95 % Wilson interval (rounded to 4 places)."""
    interval = wilson(successes, n)
    return {
        "count": successes,
        "of": n,
        "rate": round(successes / n, 4) if n else None,
        "ci_low": round(interval[0], 4) if interval else None,
        "ci_high": round(interval[1], 4) if interval else None,
    }


def percentile(counts: Iterable[tuple[float, int]], q: float) -> float | None:
    """The q-th quantile (0..1) of values given as (value, count) pairs, interpolated between the closest ranks
    (the same definition as PostgreSQL's percentile_cont and numpy's default)."""
    pairs = sorted((v, c) for v, c in counts if c > 0)
    total = sum(c for _v, c in pairs)
    if total == 0:
        return None
    position = q * (total - 1)
    lower, upper = math.floor(position), math.ceil(position)

    def value_at(rank: int) -> float:
        seen = 0
        for value, count in pairs:
            seen += count
            if rank < seen:
                return value
        return pairs[-1][0]

    low, high = value_at(lower), value_at(upper)
    return low + (high - low) * (position - lower)


def suppress(value: int | None, *, small_cell: int = SMALL_CELL) -> int | None:
    """None for a count from 1 to small_cell - 1 (zero is shown: it discloses nobody)."""
    if value is None or value == 0 or value >= small_cell:
        return value
    return None
