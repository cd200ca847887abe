"""Booking, moving and cancelling consults: slots from the weekly availability in each side's time zone,
double bookings, slots in the past, the late window, no-shows, notes, e-mails with an iCalendar invitation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone
from icalendar import Calendar

from konsil.audit.models import AuditEvent
from konsil.consults import services, slots
from konsil.consults.models import Consult, ConsultNote, ConsultStatus
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed

pytestmark = pytest.mark.django_db(transaction=False)


def _first(specialist, n=0):
    return services.open_slots(specialist)[n].starts_at


def _far(specialist):
    return next(s.starts_at for s in services.open_slots(specialist)
                if s.starts_at > timezone.now() + dt.timedelta(days=2))


def _book(case, user, start, **kwargs):
    kwargs.setdefault("mode", "video")
    kwargs.setdefault("patient_time_zone", "Europe/Madrid")
    return services.book(actor=user, case=case, starts_at=start.isoformat(), **kwargs)


def test_weekly_slots_follow_the_specialists_zone_and_dst():
    # New York 09:00-10:00 on Monday 2026-03-02 (EST) and Monday 2026-03-09 (EDT, after the change)
    found = slots.weekly_slots([{"day": 0, "start": "09:00", "end": "10:00"}], "America/New_York",
                               start=dt.date(2026, 3, 2), days=8, minutes=30)
    assert [s.starts_at.strftime("%d %H:%M") for s in found] == ["02 14:00", "02 14:30", "09 13:00", "09 13:30"]
    # the patient in Tokyo sees the same slot late on Monday evening
    assert found[0].local("Asia/Tokyo").strftime("%a %H:%M") == "Mon 23:00"


def test_free_slots_skip_busy_past_and_too_soon():
    now = dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC)  # 08:00 in New York
    window = [{"day": 0, "start": "08:00", "end": "12:00"}]
    busy = [(dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, 15, 30, tzinfo=dt.UTC))]
    free = slots.free_slots(window, "America/New_York", now=now, busy=busy, horizon_days=1,
                            notice=dt.timedelta(hours=1), minutes=30)
    starts = [s.starts_at.strftime("%H:%M") for s in free]
    assert starts[0] == "14:00" and "15:00" not in starts and "13:30" not in starts


def test_book_sends_invitations_with_icalendar(delivered_case, patient_user):
    start = _first(delivered_case.assigned_specialist)
    mail.outbox.clear()
    consult = _book(delivered_case, patient_user, start, invite_treating_physician=True,
                    interpreter_language="es", interpreter_email="interp@example.org")
    assert consult.status == ConsultStatus.BOOKED and consult.video_engine == "embedded"
    to = sorted(m.to[0] for m in mail.outbox)
    assert "local.doctor@example.org" in to and "interp@example.org" in to
    assert delivered_case.assigned_specialist.user.email in to and patient_user.email in to
    message = next(m for m in mail.outbox if m.to == [patient_user.email])
    name, content, mimetype = message.attachments[0]
    assert name == "consult.ics" and "method=REQUEST" in mimetype
    event = Calendar.from_ical(content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == consult.starts_at and str(event["uid"]) == f"consult-{consult.pk}@konsil"
    body = str(content) + message.body
    assert delivered_case.reference not in body and "García" not in body  # no names, no case content
    assert AuditEvent.objects.filter(action="consult.book", object_id=str(consult.pk)).exists()


def test_double_booking_is_refused(delivered_case, patient_user, network, coordinator):
    from tests.conftest import Walker
    from tests.factories import make_draft, make_user

    start = _first(delivered_case.assigned_specialist)
    _book(delivered_case, patient_user, start)
    with pytest.raises(Conflict) as again:  # the same case twice
        _book(delivered_case, patient_user, _first(delivered_case.assigned_specialist))
    assert again.value.code == "already_booked"
    other_patient = make_user("patient", network)
    other = Walker(coordinator, delivered_case.assigned_specialist).walk_to(make_draft(network, other_patient),
                                                                            "delivered")
    with pytest.raises(Conflict) as taken:  # another case, same specialist, same time
        _book(other, other_patient, start)
    assert taken.value.code == "slot_taken" and taken.value.field == "starts_at"
    assert Consult.objects.filter(starts_at=start).count() == 1


def test_past_and_unavailable_slots_are_refused(delivered_case, patient_user):
    with pytest.raises(ValidationFailed) as past:
        _book(delivered_case, patient_user, timezone.now() - dt.timedelta(hours=2))
    assert past.value.field == "starts_at"
    odd = _first(delivered_case.assigned_specialist) + dt.timedelta(minutes=7)
    with pytest.raises(ValidationFailed) as unavailable:
        _book(delivered_case, patient_user, odd)
    assert unavailable.value.code == "slot_unavailable"
    for bad in ("", "tomorrow", "2026-13-45T10:00", "2030-01-01T10:00"):  # no offset: ambiguous
        with pytest.raises(ValidationFailed):
            services.book(actor=patient_user, case=delivered_case, mode="video", starts_at=bad,
                          patient_time_zone="UTC")
    assert not Consult.objects.exists()


def test_bad_fields_are_named(delivered_case, patient_user):
    start = _first(delivered_case.assigned_specialist)
    with pytest.raises(ValidationFailed) as exc:
        _book(delivered_case, patient_user, start, mode="phone", patient_phone="call me", patient_time_zone="Mars/Base",
              interpreter_email="nope")
    assert set(exc.value.errors) == {"patient_phone", "patient_time_zone", "interpreter_email"}
    with pytest.raises(ValidationFailed) as mode:
        _book(delivered_case, patient_user, start, mode="telepathy")
    assert "mode" in mode.value.errors
    assert not Consult.objects.exists()


def test_only_after_delivery_and_only_the_patient_side(network, patient_user, coordinator, consult_specialist,
                                                       delivered_case):
    from tests.conftest import Walker
    from tests.factories import make_draft

    start = _first(consult_specialist)
    with pytest.raises(PermissionDenied):
        _book(delivered_case, consult_specialist.user, start)
    in_review = Walker(coordinator, consult_specialist).walk_to(make_draft(network, patient_user), "in_review")
    with pytest.raises(PermissionDenied):
        _book(in_review, patient_user, start)


def test_mode_must_be_offered(delivered_case, patient_user):
    specialist = delivered_case.assigned_specialist
    specialist.delivery_modes = ["written", "video"]
    specialist.save()
    with pytest.raises(ValidationFailed) as exc:
        _book(delivered_case, patient_user, _first(specialist), mode="in_person")
    assert exc.value.field == "mode"


def test_phone_and_in_person(delivered_case, patient_user):
    phone = _book(delivered_case, patient_user, _first(delivered_case.assigned_specialist), mode="phone",
                  patient_phone="+1 555 010 0100")
    assert phone.patient_phone == "+1 555 010 0100" and phone.video_engine == ""
    services.cancel(actor=patient_user, consult=phone)
    visit = _book(delivered_case, patient_user, _first(delivered_case.assigned_specialist), mode="in_person")
    assert visit.location == "Heart Center, 1 Main St, Boston"


def test_reschedule_bumps_the_sequence_and_reinvites(delivered_case, patient_user):
    consult = _book(delivered_case, patient_user, _far(delivered_case.assigned_specialist))
    later = services.open_slots(delivered_case.assigned_specialist)[-1].starts_at
    mail.outbox.clear()
    moved = services.reschedule(actor=patient_user, consult=consult, starts_at=later.isoformat())
    assert moved.starts_at == later and moved.sequence == 1
    event = Calendar.from_ical(mail.outbox[0].attachments[0][1]).walk("VEVENT")[0]
    assert int(event["sequence"]) == 1


def test_late_window_closes_moves_and_records_late_cancellation(delivered_case, patient_user):
    consult = _book(delivered_case, patient_user, _first(delivered_case.assigned_specialist))
    soon = timezone.now() + dt.timedelta(hours=3)
    Consult.objects.filter(pk=consult.pk).update(starts_at=soon, ends_at=soon + dt.timedelta(minutes=30))
    consult.refresh_from_db()
    with pytest.raises(Conflict) as exc:
        services.reschedule(actor=patient_user, consult=consult,
                            starts_at=services.open_slots(consult.specialist)[-1].starts_at.isoformat())
    assert exc.value.code == "window_closed"
    mail.outbox.clear()
    cancelled = services.cancel(actor=patient_user, consult=consult, reason="sick")
    assert cancelled.status == ConsultStatus.LATE_CANCELLED
    assert "method=CANCEL" in mail.outbox[0].attachments[0][2]
    with pytest.raises(Conflict):
        services.cancel(actor=patient_user, consult=cancelled)


def test_early_cancellation_is_not_late(delivered_case, patient_user):
    consult = _book(delivered_case, patient_user, services.open_slots(delivered_case.assigned_specialist)[-1]
                    .starts_at)
    assert services.cancel(actor=patient_user, consult=consult).status == ConsultStatus.CANCELLED


def test_no_show_recorded_after_the_start_only(delivered_case, patient_user):
    consult = _book(delivered_case, patient_user, _first(delivered_case.assigned_specialist))
    specialist_user = consult.specialist.user
    with pytest.raises(Conflict):
        services.record_attendance(actor=specialist_user, consult=consult, held=False, no_show_party="patient")
    past = timezone.now() - dt.timedelta(minutes=40)
    Consult.objects.filter(pk=consult.pk).update(starts_at=past, ends_at=past + dt.timedelta(minutes=30))
    consult.refresh_from_db()
    with pytest.raises(ValidationFailed):
        services.record_attendance(actor=specialist_user, consult=consult, held=False, no_show_party="nobody")
    with pytest.raises(PermissionDenied):
        services.record_attendance(actor=patient_user, consult=consult, held=False, no_show_party="specialist")
    recorded = services.record_attendance(actor=specialist_user, consult=consult, held=False,
                                          no_show_party="patient")
    assert recorded.status == ConsultStatus.NO_SHOW and recorded.no_show_party == "patient"
    assert AuditEvent.objects.filter(action="consult.no_show", object_id=str(consult.pk)).exists()


def test_notes_by_the_specialist_mark_the_consult_held(delivered_case, patient_user):
    consult = _book(delivered_case, patient_user, _first(delivered_case.assigned_specialist))
    specialist_user = consult.specialist.user
    with pytest.raises(Conflict):  # long before the consult
        services.add_note(actor=specialist_user, consult=consult, body="Early")
    now = timezone.now()
    Consult.objects.filter(pk=consult.pk).update(starts_at=now, ends_at=now + dt.timedelta(minutes=30))
    consult.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.add_note(actor=patient_user, consult=consult, body="Mine")
    for bad in ("", "   ", "x" * (services.MAX_NOTE + 1)):
        with pytest.raises(ValidationFailed):
            services.add_note(actor=specialist_user, consult=consult, body=bad)
    note = services.add_note(actor=specialist_user, consult=consult, body="Discussed the stent: 😊 ñ 日本",
                             opinion_changed=True)
    assert ConsultNote.objects.get(pk=note.pk).body.endswith("日本")
    consult.refresh_from_db()
    assert consult.status == ConsultStatus.COMPLETED


def test_reminders_once(delivered_case, patient_user):
    consult = _book(delivered_case, patient_user, _first(delivered_case.assigned_specialist))
    mail.outbox.clear()
    assert services.send_due_reminders(now=consult.starts_at - dt.timedelta(hours=2)) == 1
    assert services.send_due_reminders(now=consult.starts_at - dt.timedelta(hours=1)) == 0
    assert mail.outbox and all(m.attachments for m in mail.outbox)


def test_jitsi_engine_by_configuration(delivered_case, patient_user, settings):
    from konsil.consults import notify

    settings.KONSIL_VIDEO_ENGINE = "jitsi"
    settings.KONSIL_JITSI_URL = "https://meet.example.org/"
    consult = _book(delivered_case, patient_user, _first(delivered_case.assigned_specialist))
    assert consult.video_engine == "jitsi"
    assert notify.join_url(consult) == f"https://meet.example.org/{consult.room_id}"
    assert services.room_state(consult) == "closed"  # the embedded room is not used for a Jitsi consult


def test_ice_servers_from_configuration(settings):
    from konsil.consults import conf

    settings.KONSIL_ICE_SERVERS = '[{"urls": "stun:stun.example.org:3478"}, {"urls": ["turn:t.example.org"], ' \
                                  '"username": "u", "credential": "c"}, {"no": "urls"}]'
    assert [s["urls"] for s in conf.ice_servers()] == ["stun:stun.example.org:3478", ["turn:t.example.org"]]
    settings.KONSIL_ICE_SERVERS = "{not json"
    assert conf.ice_servers() == []


class RecordingProvider:
    calls: list = []

    def place_call(self, *, consult):
        from konsil.consults.telephony import CallPlan

        RecordingProvider.calls.append(consult.pk)
        return CallPlan(who_dials="provider", provider="recording", reference="call-1")


def test_telephony_provider_interface(delivered_case, patient_user, settings):
    settings.KONSIL_TELEPHONY_PROVIDER = "tests.consults.test_booking.RecordingProvider"
    consult = _book(delivered_case, patient_user, _first(delivered_case.assigned_specialist), mode="phone",
                    patient_phone="+34 600 000 000")
    assert RecordingProvider.calls == [consult.pk]
