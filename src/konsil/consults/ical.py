"""The consult as an iCalendar invitation (RFC 5545 / iTIP): one UID per consult, SEQUENCE bumped on every change,
METHOD:CANCEL when it is called off. No clinical content, no patient name: a time, a mode and where to join."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Alarm, Calendar, Event, vCalAddress

from .models import ConsultStatus, Mode


def uid(consult) -> str:
    return f"consult-{consult.pk}@konsil"


def where(consult, *, join_url: str) -> str:
    if consult.mode == Mode.IN_PERSON:
        return consult.location
    if consult.mode == Mode.PHONE:
        return _("By phone: the specialist calls you")
    return join_url


def invitation(consult, *, join_url: str, cancel: bool = False) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Konsil//consults//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancel else "REQUEST")
    event = Event()
    event.add("uid", uid(consult))
    event.add("sequence", consult.sequence)
    event.add("dtstamp", timezone.now())
    event.add("dtstart", consult.starts_at)
    event.add("dtend", consult.ends_at)
    event.add("summary", _("%(brand)s consult with your specialist (%(mode)s)") % {
        "brand": settings.KONSIL_BRAND_NAME, "mode": consult.get_mode_display()})
    event.add("location", where(consult, join_url=join_url))
    event.add("url", join_url)
    event.add("status", "CANCELLED" if cancel or consult.status != ConsultStatus.BOOKED else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{_address(settings.DEFAULT_FROM_EMAIL)}")
    organizer.params["cn"] = settings.KONSIL_BRAND_NAME
    event["organizer"] = organizer
    if not cancel:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", _("Consult in 15 minutes"))
        alarm.add("trigger", timezone.timedelta(minutes=-15))
        event.add_component(alarm)
    cal.add_component(event)
    return cal.to_ical()


def _address(from_email: str) -> str:
    return from_email.rpartition("<")[2].rstrip(">").strip() or from_email
