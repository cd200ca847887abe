"""The consults and outcome REST API: scoped like the pages, audited, contact details only to those who use them,
every bad input a field-level 4xx (double bookings, the past, bad ids, huge numbers), never a 500."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from konsil.audit.models import AuditEvent
from konsil.cases.models import EmergencyAccess
from konsil.consults import services
from konsil.consults.models import Consult, ConsultEvent

from ..conftest import Walker
from ..factories import api_token, make_draft, make_specialist, make_user

pytestmark = pytest.mark.django_db

PHONE = "+1 555 010 0188"


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def _slots(client, case, **params):
    response = client.get(f"/api/v1/cases/{case.pk}/consult-slots/", params)
    assert response.status_code == 200, response.content
    return response.json()


def _book(client, case, start, **fields):
    return client.post(f"/api/v1/cases/{case.pk}/consults/", {"mode": "video", "starts_at": start, **fields},
                       format="json")


def _audited(action, **filters) -> bool:
    return AuditEvent.objects.filter(action=action, **filters).exists()


def test_slots_book_list_read_move_cancel(delivered_case, patient_user):
    api = _api(patient_user)
    slots = _slots(api, delivered_case, patient_time_zone="Asia/Tokyo")
    assert slots and slots[0]["local_start"].endswith("+09:00") and _audited("consult.slots")
    booked = _book(api, delivered_case, slots[-2]["starts_at"], patient_time_zone="Asia/Tokyo")  # outside the window
    assert booked.status_code == 201, booked.content
    consult_id = booked.json()["id"]
    assert booked.json()["status"] == "booked" and booked.json()["patient_time_zone"] == "Asia/Tokyo"
    listed = api.get(f"/api/v1/cases/{delivered_case.pk}/consults/")
    assert listed.status_code == 200 and [c["id"] for c in listed.json()] == [consult_id]
    assert _audited("consult.list", object_id=str(delivered_case.pk))
    read = api.get(f"/api/v1/consults/{consult_id}/")
    assert read.status_code == 200 and _audited("consult.read", object_id=consult_id)
    moved = api.post(f"/api/v1/consults/{consult_id}/move/", {"starts_at": slots[-1]["starts_at"]}, format="json")
    assert moved.status_code == 200 and moved.json()["rescheduled_count"] == 1
    assert _audited("consult.reschedule", object_id=consult_id)
    cancelled = api.post(f"/api/v1/consults/{consult_id}/cancel/", {"reason": "Better"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert _audited("consult.cancel", object_id=consult_id)
    assert list(ConsultEvent.objects.values_list("kind", flat=True)) == ["booked", "moved", "cancelled"]
    again = api.post(f"/api/v1/consults/{consult_id}/cancel/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "not_booked"


def test_double_booking_is_a_409_on_starts_at(delivered_case, patient_user, network, coordinator):
    start = _slots(_api(patient_user), delivered_case)[0]["starts_at"]
    assert _book(_api(patient_user), delivered_case, start).status_code == 201
    twice = _book(_api(patient_user), delivered_case, start)
    assert twice.status_code == 409 and twice.json()["code"] == "already_booked"
    other_patient = make_user("patient", network)
    other = Walker(coordinator, delivered_case.assigned_specialist).walk_to(make_draft(network, other_patient),
                                                                            "delivered")
    taken = _book(_api(other_patient), other, start)
    assert taken.status_code == 409 and taken.json()["code"] == "slot_taken"
    assert "starts_at" in taken.json()["errors"]
    assert Consult.objects.count() == 1


@pytest.mark.parametrize("body, field", [
    ({"starts_at": "2020-01-01T10:00:00+00:00"}, "starts_at"),  # the past
    ({"starts_at": "2099-01-01T10:00:00+00:00"}, "starts_at"),  # not a slot
    ({"starts_at": "not a time"}, "starts_at"),
    ({"starts_at": "2030-01-01T10:00:00"}, "starts_at"),  # no offset
    ({"starts_at": "0001-01-01T00:00:00+14:00"}, "starts_at"),  # off the calendar in UTC
    ({"starts_at": "9" * 65}, "starts_at"),
    ({"starts_at": 10 ** 300}, "starts_at"),
    ({"starts_at": 1e308}, "starts_at"),
    ({"starts_at": ["a"]}, "starts_at"),
    ({"mode": "x" * 5000}, "mode"),
    ({"mode": "phone", "patient_phone": "☎☎☎"}, "patient_phone"),
    ({"mode": "phone", "patient_phone": "9" * 33}, "patient_phone"),
    ({"patient_time_zone": "Mars/Olympus"}, "patient_time_zone"),
    ({"patient_time_zone": "\x00"}, "patient_time_zone"),
    ({"interpreter_email": "not an address"}, "interpreter_email"),
    ({"invite_treating_physician": "perhaps"}, "invite_treating_physician"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_booking_input_is_a_field_level_400(delivered_case, patient_user, body, field):
    api = _api(patient_user)
    start = _slots(api, delivered_case)[0]["starts_at"]
    response = api.post(f"/api/v1/cases/{delivered_case.pk}/consults/",
                        {"mode": "video", "starts_at": start, **body}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Consult.objects.exists() and not ConsultEvent.objects.exists()


def test_move_into_the_past_or_garbage_is_a_400_and_changes_nothing(delivered_case, patient_user):
    api = _api(patient_user)
    slots = _slots(api, delivered_case)
    consult_id = _book(api, delivered_case, slots[-2]["starts_at"]).json()["id"]  # outside the late window
    for value in ("2020-01-01T10:00:00+00:00", "x" * 64, 10 ** 50):
        response = api.post(f"/api/v1/consults/{consult_id}/move/", {"starts_at": value}, format="json")
        assert response.status_code == 400 and "starts_at" in response.json()["errors"], value
    assert api.post(f"/api/v1/consults/{consult_id}/move/", {}, format="json").status_code == 400
    long_reason = api.post(f"/api/v1/consults/{consult_id}/cancel/", {"reason": "x" * 301}, format="json")
    assert long_reason.status_code == 400 and "reason" in long_reason.json()["errors"]
    consult = Consult.objects.get()
    assert consult.status == "booked" and consult.rescheduled_count == 0


@pytest.mark.parametrize("path", [
    "/api/v1/cases/not-a-uuid/consults/", "/api/v1/cases/{nines}/consult-slots/", "/api/v1/consults/123/",
    "/api/v1/consults/{nines}/", "/api/v1/consults/00000000-0000-0000-0000-000000000000/",
    "/api/v1/cases/{nines}/outcome/",
])
def test_bad_ids_are_404(patient_user, path):
    response = _api(patient_user).get(path.format(nines="9" * 400))
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_bad_ids_on_writes_are_404(patient_user):
    api = _api(patient_user)
    assert api.post("/api/v1/consults/123/move/", {"starts_at": "x"}, format="json").status_code == 404
    assert api.post(f"/api/v1/consults/{'9' * 300}/cancel/", {}, format="json").status_code == 404
    assert api.post("/api/v1/cases/x/consults/", {"mode": "video"}, format="json").status_code == 404


def test_strangers_get_404_and_are_audited(delivered_case, patient_user, other_patient):
    start = _slots(_api(patient_user), delivered_case)[0]["starts_at"]
    consult_id = _book(_api(patient_user), delivered_case, start).json()["id"]
    stranger = _api(other_patient)
    assert stranger.get(f"/api/v1/cases/{delivered_case.pk}/consults/").status_code == 404
    assert stranger.get(f"/api/v1/cases/{delivered_case.pk}/consult-slots/").status_code == 404
    assert _book(stranger, delivered_case, start).status_code == 404
    assert stranger.get(f"/api/v1/consults/{consult_id}/").status_code == 404
    assert stranger.post(f"/api/v1/consults/{consult_id}/cancel/", {}, format="json").status_code == 404
    assert stranger.get(f"/api/v1/cases/{delivered_case.pk}/outcome/").status_code == 404
    assert _audited("consult.read", outcome="denied") and _audited("consult.list", outcome="denied")
    assert Consult.objects.get().status == "booked"


def test_readers_without_consult_rights_get_403(delivered_case, patient_user, network):
    _book(_api(patient_user), delivered_case, _slots(_api(patient_user), delivered_case)[0]["starts_at"])
    bystander = make_specialist(network, specialty="cardiology", states=("NY",)).user
    EmergencyAccess.objects.create(case=delivered_case, user=bystander, reason="Unconscious in the ED, no records",
                                   expires_at=timezone.now() + dt.timedelta(minutes=30))
    api = _api(bystander)
    assert api.get(f"/api/v1/cases/{delivered_case.pk}/consults/").status_code == 403
    assert api.get(f"/api/v1/cases/{delivered_case.pk}/outcome/").status_code == 403
    booked = _book(api, delivered_case, "2099-01-01T10:00:00+00:00")
    assert booked.status_code == 403 and _audited("consult.book", outcome="denied")
    assert Consult.objects.count() == 1


def test_the_number_to_call_only_to_the_patient_side_and_the_consult_specialist(delivered_case, patient_user,
                                                                             coordinator):
    start = _slots(_api(patient_user), delivered_case)[0]["starts_at"]
    booked = _book(_api(patient_user), delivered_case, start, mode="phone", patient_phone=PHONE,
                   interpreter_email="interp@example.org")
    assert booked.status_code == 201 and booked.json()["patient_phone"] == PHONE
    consult_id = booked.json()["id"]
    specialist = _api(Consult.objects.get().specialist.user).get(f"/api/v1/consults/{consult_id}/").json()
    assert specialist["patient_phone"] == PHONE
    for response in (_api(coordinator).get(f"/api/v1/consults/{consult_id}/"),
                     _api(coordinator).get(f"/api/v1/cases/{delivered_case.pk}/consults/")):
        assert response.status_code == 200
        assert PHONE not in response.content.decode() and "interp@example.org" not in response.content.decode()


def test_notes_text_is_not_in_the_api(delivered_case, patient_user):
    start = _slots(_api(patient_user), delivered_case)[0]["starts_at"]
    consult = Consult.objects.get(pk=_book(_api(patient_user), delivered_case, start).json()["id"])
    now = timezone.now()
    Consult.objects.filter(pk=consult.pk).update(starts_at=now, ends_at=now + dt.timedelta(minutes=30))
    consult.refresh_from_db()
    services.add_note(actor=consult.specialist.user, consult=consult, body="Private clinical words")
    response = _api(patient_user).get(f"/api/v1/consults/{consult.pk}/")
    assert response.status_code == 200 and len(response.json()["notes"]) == 1
    assert "Private clinical words" not in response.content.decode()


def test_paths_are_in_the_openapi_schema(client, coordinator):
    from ..conftest import verified_login

    verified_login(client, coordinator)
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    for path in ("/api/v1/cases/{id}/consults/", "/api/v1/cases/{id}/consult-slots/", "/api/v1/consults/{id}/",
                 "/api/v1/consults/{id}/move/", "/api/v1/consults/{id}/cancel/", "/api/v1/cases/{id}/outcome/"):
        assert path in paths, path
