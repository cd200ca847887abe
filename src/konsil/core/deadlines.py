"""How long a specialist's review may take, by urgency: one table for the review clock (cases.sla) and matching's
deadline factor (matching.scoring), so that a specialist matched as "within the deadline" is not breached by it."""

from __future__ import annotations

from django.conf import settings

REVIEW_HOURS = {"routine": 72.0, "urgent": 24.0, "stat": 4.0}
URGENCIES = tuple(REVIEW_HOURS)


def review_hours() -> dict[str, float]:
    """Hours from acceptance to the signed opinion per urgency (a deployment overrides KONSIL_REVIEW_HOURS)."""
    return {**REVIEW_HOURS, **{k: float(v) for k, v in getattr(settings, "KONSIL_REVIEW_HOURS", {}).items()}}
