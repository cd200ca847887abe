"""Consult settings: read from Django settings when a deployment sets them, else from the environment.

  KONSIL_CONSULT_MINUTES          length of a consult slot (default 30)
  KONSIL_CONSULT_HORIZON_DAYS     how far ahead a patient may book (default 28)
  KONSIL_CONSULT_NOTICE_HOURS     earliest bookable start from now (default 12)
  KONSIL_CONSULT_CANCEL_HOURS     cancelling later than this before the start is recorded as a late cancellation,
                                  and rescheduling is closed (default 24)
  KONSIL_CONSULT_REMINDER_HOURS   the reminder e-mail goes this long before the start (default 24)
  KONSIL_VIDEO_ENGINE             "embedded" (two-party WebRTC room served by Konsil, default) or "jitsi"
  KONSIL_JITSI_URL                Jitsi Meet base URL, e.g. https://meet.example.org (rooms are random names)
  KONSIL_ICE_SERVERS              JSON list of RTCIceServer objects (STUN/TURN); default: none (same network)
  KONSIL_TELEPHONY_PROVIDER       dotted path of a consults.telephony.Provider (default: the specialist dials)
"""

from __future__ import annotations

import json
import os

from django.conf import settings


def _get(name: str, default: str) -> str:
    return str(getattr(settings, name, os.environ.get(name, default)))


def _int(name: str, default: int) -> int:
    try:
        return int(_get(name, str(default)))
    except ValueError:
        return default


def slot_minutes() -> int:
    return max(10, _int("KONSIL_CONSULT_MINUTES", 30))


def horizon_days() -> int:
    return max(1, _int("KONSIL_CONSULT_HORIZON_DAYS", 28))


def notice_hours() -> int:
    return max(0, _int("KONSIL_CONSULT_NOTICE_HOURS", 12))


def cancel_hours() -> int:
    return max(0, _int("KONSIL_CONSULT_CANCEL_HOURS", 24))


def reminder_hours() -> int:
    return max(1, _int("KONSIL_CONSULT_REMINDER_HOURS", 24))


def video_engine() -> str:
    engine = _get("KONSIL_VIDEO_ENGINE", "embedded").strip().lower()
    return "jitsi" if engine == "jitsi" and jitsi_url() else "embedded"


def jitsi_url() -> str:
    return _get("KONSIL_JITSI_URL", "").strip().rstrip("/")


def ice_servers() -> list[dict]:
    """STUN/TURN servers handed to the browsers; a malformed value counts as none (and the room still works on a
    network where the two browsers reach each other)."""
    raw = getattr(settings, "KONSIL_ICE_SERVERS", None)
    if raw is None:
        raw = os.environ.get("KONSIL_ICE_SERVERS", "[]")
    try:
        servers = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return [s for s in servers if isinstance(s, dict) and s.get("urls")] if isinstance(servers, list) else []


def telephony_provider() -> str:
    return _get("KONSIL_TELEPHONY_PROVIDER", "konsil.consults.telephony.ManualDialling")
