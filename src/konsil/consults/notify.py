"""Consult e-mails with the iCalendar invitation: the patient's side, the specialist, and the invited treating
physician and interpreter. Each in the reader's language; no clinical content, no patient name."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from konsil.cases import relations as rel
from konsil.cases.notify import recipients

from . import ical
from .models import Mode
from .slots import zone_of

SUBJECTS = {"booked": "consults/email/booked_subject.txt", "changed": "consults/email/changed_subject.txt",
            "cancelled": "consults/email/cancelled_subject.txt", "reminder": "consults/email/reminder_subject.txt"}


def join_url(consult) -> str:
    """Where to join: the Jitsi room, or the consult's page in Konsil (signing in opens the embedded room)."""
    if consult.mode == Mode.VIDEO and consult.video_engine == "jitsi":
        from . import conf

        return f"{conf.jitsi_url()}/{consult.room_id}"
    return settings.KONSIL_SITE_URL + reverse("consults:detail", kwargs={"pk": consult.pk})


def addressees(consult) -> list[tuple[str, str, str, str]]:
    """(email, language, time zone, role) for everyone the consult concerns."""
    case = consult.case
    people: dict[str, tuple[str, str, str, str]] = {}
    for user in recipients(case, {rel.PATIENT, rel.CAREGIVER, rel.REQUESTER}):
        if user.email:
            people[user.email.lower()] = (user.email, user.preferred_language, consult.patient_time_zone, "patient")
    specialist = consult.specialist.user
    if specialist.email:
        people[specialist.email.lower()] = (specialist.email, specialist.preferred_language,
                                            consult.specialist.time_zone, "specialist")
    language = case.identity.language if case.identity_id else "en"
    if consult.invite_treating_physician and case.treating_physician_email:
        people.setdefault(case.treating_physician_email.lower(), (case.treating_physician_email, language,
                                                                  consult.patient_time_zone, "physician"))
    if consult.interpreter_email:
        people.setdefault(consult.interpreter_email.lower(), (consult.interpreter_email,
                                                              consult.interpreter_language or "en",
                                                              consult.patient_time_zone, "interpreter"))
    return list(people.values())


def send(consult, event: str) -> int:
    """Send one e-mail per addressee with the invitation (or its cancellation) attached."""
    url = join_url(consult)
    sent = 0
    for address, language, zone, role in addressees(consult):
        with translation.override(language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE):
            context = {"consult": consult, "event": event, "role": role, "join_url": url,
                       "local_start": consult.starts_at.astimezone(zone_of(zone)), "zone": zone,
                       "brand": settings.KONSIL_BRAND_NAME, "site": settings.KONSIL_SITE_URL}
            subject = render_to_string(SUBJECTS[event], context).strip()
            body = render_to_string("consults/email/consult.txt", context)
            ics = ical.invitation(consult, join_url=url, cancel=event == "cancelled")
            language_used = translation.get_language()
        message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[address],
                               headers={"Content-Language": language_used})
        method = "CANCEL" if event == "cancelled" else "REQUEST"
        message.attach("consult.ics", ics, f"text/calendar; charset=utf-8; method={method}")
        message.send(fail_silently=False)
        sent += 1
    return sent
