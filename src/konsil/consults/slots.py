"""Bookable slots: a specialist's weekly availability (in their time zone) cut into consult-length slots, minus
what is booked, in the past or too soon; each shown in the patient's time zone. Pure functions over plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@dataclass(frozen=True)
class Slot:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC

    def local(self, zone: str) -> datetime:
        return self.starts_at.astimezone(zone_of(zone))


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_time_zone(name: str) -> bool:
    return bool(name) and len(name) <= 64 and name in _zones()


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def weekly_slots(availability: list[dict], zone: str, *, start: date, days: int, minutes: int) -> list[Slot]:
    """Every slot of `minutes` inside the weekly windows, for `days` days from `start` (dates in the specialist's
    zone). A window crossing a daylight-saving change keeps its wall-clock times."""
    tz = zone_of(zone)
    step = timedelta(minutes=minutes)
    found: list[Slot] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        for window in availability:
            if window.get("day") != day.weekday():
                continue
            begin = datetime.combine(day, _hhmm(window["start"]), tzinfo=tz)
            end = datetime.combine(day, _hhmm(window["end"]), tzinfo=tz)
            cursor = begin
            while cursor + step <= end:
                utc_start = cursor.astimezone(UTC)
                found.append(Slot(utc_start, utc_start + step))
                cursor += step
    return sorted(set(found), key=lambda s: s.starts_at)


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


def free_slots(availability: list[dict], zone: str, *, now: datetime, busy: list[tuple[datetime, datetime]],
               horizon_days: int, notice: timedelta, minutes: int) -> list[Slot]:
    """Slots from `now + notice` to the horizon that overlap nothing in `busy`."""
    first = now.astimezone(zone_of(zone)).date()
    earliest = now + notice
    return [slot for slot in weekly_slots(availability, zone, start=first, days=horizon_days + 1, minutes=minutes)
            if slot.starts_at >= earliest and slot.starts_at <= now + timedelta(days=horizon_days)
            and not any(overlaps(slot.starts_at, slot.ends_at, b0, b1) for b0, b1 in busy)]


def group_by_local_day(slots: list[Slot], zone: str) -> list[tuple[date, list[datetime]]]:
    """The slots as the patient sees them: by day in their zone, each with its local start."""
    days: dict[date, list[datetime]] = {}
    for slot in slots:
        local = slot.local(zone)
        days.setdefault(local.date(), []).append(local)
    return sorted(days.items())
