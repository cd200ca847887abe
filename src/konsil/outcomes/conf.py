"""Follow-up settings (Django settings first, then the environment).

  KONSIL_FOLLOW_UP_DAYS         days after delivery the questionnaires go out (default "30,90")
  KONSIL_FOLLOW_UP_LINK_DAYS    how long a link stays open; unanswered by then is recorded as no response (21)
  KONSIL_FOLLOW_UP_REMIND_DAYS  a reminder (a fresh link; the old one stops working) after this many days (7)
  KONSIL_FOLLOW_UP_REMINDERS    at most this many reminders (2)
"""

from __future__ import annotations

import os

from django.conf import settings


def _get(name: str, default: str) -> str:
    return str(getattr(settings, name, os.environ.get(name, default)))


def _int(name: str, default: int, low: int = 0) -> int:
    try:
        return max(low, int(_get(name, str(default))))
    except ValueError:
        return default


def days() -> list[int]:
    found = []
    for item in _get("KONSIL_FOLLOW_UP_DAYS", "30,90").split(","):
        try:
            value = int(item.strip())
        except ValueError:
            continue
        if 1 <= value <= 3650 and value not in found:
            found.append(value)
    return sorted(found) or [30, 90]


def link_days() -> int:
    return _int("KONSIL_FOLLOW_UP_LINK_DAYS", 21, 1)


def remind_days() -> int:
    return _int("KONSIL_FOLLOW_UP_REMIND_DAYS", 7, 1)


def max_reminders() -> int:
    return _int("KONSIL_FOLLOW_UP_REMINDERS", 2)
