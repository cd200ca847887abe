"""The quarterly report of a network or a program (PDF, weasyprint; nothing fetched from anywhere)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.core.errors import ValidationFailed

QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


def quarter_bounds(text: str | None, today: date | None = None) -> tuple[str, date, date]:
    """("2026-Q1", first day, last day) of the named quarter, or of the last full quarter when none is named."""
    today = today or timezone.localdate()
    if text:
        match = QUARTER.match(str(text).strip()[:10])
        if not match or not 2000 <= int(match.group(1)) <= 2100:
            raise ValidationFailed(_("Name a quarter as 2026-Q1."), field="quarter")
        year, q = int(match.group(1)), int(match.group(2))
    else:
        index = (today.year * 4 + (today.month - 1) // 3) - 1
        year, q = index // 4, index % 4 + 1
    start = date(year, 3 * (q - 1) + 1, 1)
    end = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    return f"{year}-Q{q}", start, end - timedelta(days=1)


def render(summary: dict, *, quarter: str) -> bytes:
    import weasyprint  # loads system libraries: imported late

    from konsil.opinions.report import _no_network_fetcher

    from .labels import STAGE_LABELS, verdict_labels

    html = render_to_string("analytics/report_print.html", {
        "s": summary, "quarter": quarter, "generated": timezone.now(), "stage_labels": STAGE_LABELS,
        "verdict_labels": verdict_labels()})
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=_no_network_fetcher()).write_pdf()
