"""Small-cell disclosure control, one rule for every sponsor view (analytics, the program dashboard).

No count from 1 to 10 is shown (the CMS cell-size suppression policy). In a breakdown whose total is shown too,
a single suppressed count takes the smallest shown count with it (complementary suppression): otherwise the total
minus the others gives the small one away.
"""

from __future__ import annotations

SMALL_CELL = 11


def complement(counts: list, suppressed: list[bool]) -> int | None:
    """The position of the count to hide beside a breakdown's only suppressed count: the smallest shown count that
    is not zero. None when no count, or more than one, is suppressed, or nothing else is shown."""
    hidden = [i for i, gone in enumerate(suppressed) if gone]
    shown = [i for i, (n, gone) in enumerate(zip(counts, suppressed, strict=True)) if not gone and n]
    if len(hidden) == 1 and shown:
        return min(shown, key=lambda i: counts[i])
    return None
