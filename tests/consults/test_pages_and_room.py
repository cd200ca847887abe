"""The booking page, the consult page and the embedded room's signalling endpoint: scoped, audited, and every bad
input answered with a message (4xx), never a 500."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from konsil.audit.models import AuditEvent
from konsil.consults import services
from konsil.consults.models import Consult, Signal

from ..conftest import verified_login

pytestmark = pytest.mark.django_db


def _now_consult(case, patient_user):
    start = services.open_slots(case.assigned_specialist)[0].starts_at
    consult = services.book(actor=patient_user, case=case, mode="video", starts_at=start.isoformat(),
                            patient_time_zone="Europe/Madrid")
    now = timezone.now()
    Consult.objects.filter(pk=consult.pk).update(starts_at=now, ends_at=now + dt.timedelta(minutes=30))
    consult.refresh_from_db()
    return consult


def test_booking_page_lists_slots_in_the_patients_zone_and_books(client, delivered_case, patient_user):
    client.force_login(patient_user)
    url = reverse("consults:book", kwargs={"pk": delivered_case.pk})
    page = client.get(url + "?tz=Asia/Tokyo")
    assert page.status_code == 200 and "Asia/Tokyo" in page.content.decode()
    start = services.open_slots(delivered_case.assigned_specialist)[0].starts_at
    assert start.isoformat() in page.content.decode()
    done = client.post(url, {"mode": "video", "starts_at": start.isoformat(), "patient_time_zone": "Asia/Tokyo"})
    consult = Consult.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("consults:detail", kwargs={"pk": consult.pk})
    assert consult.patient_time_zone == "Asia/Tokyo"
    detail = client.get(done["Location"])
    assert detail.status_code == 200 and "Asia/Tokyo" in detail.content.decode()
    assert AuditEvent.objects.filter(action="consult.read", object_id=str(consult.pk)).exists()
    case_page = client.get(reverse("cases:detail", kwargs={"pk": delivered_case.pk}))
    assert 'id="consults-panel"' in case_page.content.decode()


@pytest.mark.parametrize("data", [
    {"mode": "video", "starts_at": "not a time"},
    {"mode": "video", "starts_at": "2020-01-01T10:00:00+00:00"},
    {"mode": "x" * 5000, "starts_at": ""},
    {"mode": "phone", "starts_at": "2099-01-01T10:00:00+00:00", "patient_phone": "☎☎☎"},
    {"mode": "video", "starts_at": "9" * 400, "patient_time_zone": "\x00"},
])
def test_booking_page_bad_input_is_a_message(client, delivered_case, patient_user, data):
    client.force_login(patient_user)
    response = client.post(reverse("consults:book", kwargs={"pk": delivered_case.pk}), data)
    assert response.status_code in (400, 409)
    assert 'class="field-error"' in response.content.decode() or "booking-error" in response.content.decode()
    assert not Consult.objects.exists()


def test_strangers_get_404(client, delivered_case, patient_user, other_patient):
    consult = _now_consult(delivered_case, patient_user)
    client.force_login(other_patient)
    assert client.get(reverse("consults:detail", kwargs={"pk": consult.pk})).status_code == 404
    assert client.get(reverse("consults:book", kwargs={"pk": delivered_case.pk})).status_code == 404
    assert client.get(reverse("consults:signals", kwargs={"pk": consult.pk})).status_code == 404
    assert AuditEvent.objects.filter(action="consult.read", outcome="denied").exists()


def test_cancel_and_attendance_through_the_page(client, delivered_case, patient_user):
    consult = _now_consult(delivered_case, patient_user)
    client.force_login(patient_user)
    bad = client.post(reverse("consults:act", kwargs={"pk": consult.pk, "action": "cancel"}), {"reason": "x" * 400})
    assert bad.status_code == 400 and "consult-error" in bad.content.decode()
    ok = client.post(reverse("consults:act", kwargs={"pk": consult.pk, "action": "cancel"}), {"reason": "ill"})
    assert ok.status_code == 302
    consult.refresh_from_db()
    assert consult.status == "late_cancelled"


def test_signalling_relays_between_the_two_sides(client, delivered_case, patient_user):
    consult = _now_consult(delivered_case, patient_user)
    url = reverse("consults:signals", kwargs={"pk": consult.pk})
    specialist_user = consult.specialist.user
    client.force_login(patient_user)
    assert client.get(url + "?tail=1").json() == {"last": 0}
    posted = client.post(url, json.dumps({"kind": "hello", "payload": {}}), content_type="application/json")
    assert posted.status_code == 201
    assert client.get(url).json()["signals"] == []  # not one's own
    verified_login(client, specialist_user)
    got = client.get(url + "?after=0").json()
    assert got["party"] == "specialist" and [s["kind"] for s in got["signals"]] == ["hello"]
    offer = {"kind": "offer", "payload": {"sdp": {"type": "offer", "sdp": "v=0\r\n"}}}
    client.post(url, json.dumps(offer), content_type="application/json")
    client.force_login(patient_user)
    assert client.get(url + "?after=0").json()["signals"][0]["payload"] == offer["payload"]
    assert AuditEvent.objects.filter(action="consult.room.join", object_id=str(consult.pk)).count() == 1
    room = client.get(reverse("consults:room", kwargs={"pk": consult.pk}))
    assert room.status_code == 200 and 'id="room-config"' in room.content.decode()


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", b'{"kind": "shout", "payload": {}}', b'{"kind": "offer", "payload": "text"}',
    b'{"kind": "offer", "payload": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"kind": "offer", "payload": {"sdp": "' + b"a" * 70000 + b'"}}',
    b'{"kind": "candidate", "payload": {"n": 1' + b"0" * 5000 + b"}}",
])
def test_signalling_bad_input_is_a_4xx(client, delivered_case, patient_user, body):
    consult = _now_consult(delivered_case, patient_user)
    client.force_login(patient_user)
    response = client.post(reverse("consults:signals", kwargs={"pk": consult.pk}), body,
                           content_type="application/json")
    assert response.status_code == 400 and "detail" in response.json()
    assert not Signal.objects.exists()


def test_room_is_closed_outside_its_window_and_to_third_parties(client, delivered_case, patient_user, coordinator):
    consult = _now_consult(delivered_case, patient_user)
    url = reverse("consults:signals", kwargs={"pk": consult.pk})
    verified_login(client, coordinator)  # sees the consult, is not one of the two sides
    assert client.post(url, b'{"kind": "hello"}', content_type="application/json").status_code == 403
    later = timezone.now() + dt.timedelta(days=3)
    Consult.objects.filter(pk=consult.pk).update(starts_at=later, ends_at=later + dt.timedelta(minutes=30))
    client.force_login(patient_user)
    early = client.post(url, b'{"kind": "hello", "payload": {}}', content_type="application/json")
    assert early.status_code == 409 and early.json()["code"] == "room_early"


def test_purge_removes_old_signals(delivered_case, patient_user):
    consult = _now_consult(delivered_case, patient_user)
    services.post_signal(user=patient_user, consult=consult, kind="hello", payload={})
    assert services.purge_signals(now=consult.ends_at + dt.timedelta(hours=2)) == 1


def test_the_booking_form_starts_from_the_patient_s_state_and_interpreter(client, delivered_case, patient_user):
    """Without a zone from the browser, the patient's state gives it (California: Los Angeles, not UTC); a case
    that asked for an interpreter starts with one for the patient's language."""
    import re

    identity = delivered_case.identity  # locked once submitted: set as if the patient had written it so
    type(identity).objects.filter(pk=identity.pk).update(state="CA", language="ja")
    delivered_case.interpreter_needed = True
    delivered_case.save(update_fields=["interpreter_needed"])
    client.force_login(patient_user)
    page = client.get(reverse("consults:book", kwargs={"pk": delivered_case.pk})).content.decode()
    assert re.search(r'<option value="America/Los_Angeles"[^>]*selected', page)
    assert re.search(r'<option value="ja"[^>]*selected', page)
    assert "Asia/Tokyo" in client.get(reverse("consults:book", kwargs={"pk": delivered_case.pk}) + "?tz=Asia/Tokyo"
                                      ).content.decode()  # the browser's zone still wins


def test_no_booking_button_for_a_specialist_who_gives_written_opinions_only(client, delivered_case, patient_user):
    page = reverse("cases:detail", kwargs={"pk": delivered_case.pk})
    client.force_login(patient_user)
    assert 'id="book-consult"' in client.get(page).content.decode()
    specialist = delivered_case.assigned_specialist
    specialist.delivery_modes = ["written"]
    specialist.save(update_fields=["delivery_modes"])
    assert 'id="book-consult"' not in client.get(page).content.decode()  # the page behind it could only say no
