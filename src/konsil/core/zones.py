"""The time zone pages are written in: the reader's browser's (the konsil_tz cookie that konsil.js sets), else
the deployment's (KONSIL_TIME_ZONE). Only the display: business rules keep the deployment's zone
(`timezone.localdate()` in services and selectors), so a reader's zone never changes a deadline."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from django.conf import settings

COOKIE = "konsil_tz"


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def display_zone(request) -> str:
    """An IANA name from the cookie when it is one (nothing else a client sends is used), else the deployment's."""
    asked = (getattr(request, "COOKIES", None) or {}).get(COOKIE, "")
    return asked if len(asked) <= 64 and asked in _known() else settings.TIME_ZONE


def warm() -> None:
    _known()
