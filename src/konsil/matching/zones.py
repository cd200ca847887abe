"""UTC offsets: of a specialist's time zone, and of a US patient's state (its most populous zone)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STATE_ZONES = {
    "America/New_York": "CT DE DC FL GA IN KY ME MD MA MI NH NJ NY NC OH PA RI SC VT VA WV",
    "America/Chicago": "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI",
    "America/Denver": "CO ID MT NM UT WY",
    "America/Phoenix": "AZ",
    "America/Los_Angeles": "CA NV OR WA",
    "America/Anchorage": "AK",
    "Pacific/Honolulu": "HI",
    "America/Puerto_Rico": "PR VI",
    "Pacific/Guam": "GU MP",
    "Pacific/Pago_Pago": "AS",
}
ZONE_OF_STATE = {state: zone for zone, states in STATE_ZONES.items() for state in states.split()}


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


def utc_offset(zone: str | None, at: dt.datetime | None = None) -> float | None:
    """Hours east of UTC of `zone` at `at` (now), or None for an unknown zone."""
    if not zone or not valid_zone(zone):
        return None
    at = at or dt.datetime.now(dt.UTC)
    delta = at.astimezone(ZoneInfo(zone)).utcoffset()
    return None if delta is None else delta.total_seconds() / 3600


def state_offset(state: str | None, country: str = "US", at: dt.datetime | None = None) -> float | None:
    if (country or "US").upper() != "US":
        return None
    return utc_offset(ZONE_OF_STATE.get((state or "").upper()), at)
