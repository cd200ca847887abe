"""A common meeting slot for a panel: members' weekly availability, each in their own time zone, intersected in UTC.

Availability is a list of weekly slots {"day": 0-6 (Monday = 0), "start": "HH:MM", "end": "HH:MM"} in the member's
time zone. A member with none recorded counts as available 09:00-17:00 on weekdays in their zone; an unknown
zone counts as UTC. Daylight-saving changes are honoured because each day's slot is converted on its own date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from konsil.matching.zones import valid_zone

UTC = dt.UTC
DEFAULT_WEEK = [{"day": day, "start": "09:00", "end": "17:00"} for day in range(5)]
HORIZON_DAYS = 14
STEP_MINUTES = 15  # meetings start on the quarter hour

Interval = tuple[dt.datetime, dt.datetime]


def zone(name: str | None) -> ZoneInfo:
    """The named time zone, or UTC when the name is missing or unknown."""
    return ZoneInfo(name) if name and valid_zone(name) else ZoneInfo("UTC")


def _time(text) -> dt.time | None:
    try:
        hours, minutes = str(text).split(":")
        return dt.time(int(hours), int(minutes))
    except (TypeError, ValueError):
        return None


def _slots(availability) -> list[tuple[int, dt.time, dt.time]]:
    """Valid weekly slots; an empty or unusable list falls back to weekdays 09:00-17:00."""
    out = []
    for slot in availability if isinstance(availability, list) else []:
        if not isinstance(slot, dict):
            continue
        day, start, end = slot.get("day"), _time(slot.get("start")), _time(slot.get("end"))
        if isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 6 and start and end and start < end:
            out.append((day, start, end))
    return out or _slots(DEFAULT_WEEK)


def free_intervals(availability, time_zone: str | None, start: dt.datetime, end: dt.datetime) -> list[Interval]:
    """The member's available intervals within [start, end), in UTC, sorted and merged."""
    tz = zone(time_zone)
    first = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date() + dt.timedelta(days=1)
    weekly = _slots(availability)
    out: list[Interval] = []
    day = first
    while day <= last:
        for weekday, begin, finish in weekly:
            if weekday != day.weekday():
                continue
            lo = dt.datetime.combine(day, begin, tzinfo=tz).astimezone(UTC)
            hi = dt.datetime.combine(day, finish, tzinfo=tz).astimezone(UTC)
            lo, hi = max(lo, start), min(hi, end)
            if lo < hi:
                out.append((lo, hi))
        day += dt.timedelta(days=1)
    return _merge(out)


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _round_up(moment: dt.datetime) -> dt.datetime:
    moment = moment.replace(second=0, microsecond=0) + (dt.timedelta(minutes=1) if moment.second or
                                                         moment.microsecond else dt.timedelta())
    extra = (-moment.minute) % STEP_MINUTES
    return moment + dt.timedelta(minutes=extra)


def common_slot(members: Iterable[tuple[object, str | None]], *, now: dt.datetime | None = None,
                minutes: int = 60, days: int = HORIZON_DAYS) -> dt.datetime | None:
    """The earliest UTC start of `minutes` that every (availability, time zone) member has free within `days`."""
    start = _round_up((now or dt.datetime.now(UTC)).astimezone(UTC))
    end = start + dt.timedelta(days=days)
    common: list[Interval] | None = None
    for availability, time_zone in members:
        mine = free_intervals(availability, time_zone, start, end)
        common = mine if common is None else intersect(common, mine)
        if not common:
            return None
    length = dt.timedelta(minutes=minutes)
    for lo, hi in common or []:
        begin = _round_up(lo)
        if begin + length <= hi:
            return begin
    return None
