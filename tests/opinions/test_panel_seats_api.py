"""The panel's open seats through the API, as on the page: read the panel, list a seat's candidates, fill the seat
or waive it (coordinators only, audited, nothing half-done on a refusal)."""

import pytest

from konsil.audit.models import AuditEvent
from konsil.cases.models import Notification
from konsil.opinions import panels
from konsil.opinions.models import OpenSeat, PanelMember

from ..api.conftest import API, token_client
from ..factories import make_specialist
from .test_panel_open_seats import MONDAY, WHY_PATHOLOGY, no_pathologist  # noqa: F401 (a fixture)


@pytest.fixture
def convened(breast_case, coordinator, no_pathologist):  # noqa: F811
    panels.assemble_panel(actor=coordinator, case=breast_case, now=MONDAY, open_seats=True)
    return OpenSeat.objects.get()


def _url(case, seat=None, what=""):
    base = f"{API}/cases/{case.pk}/panel/"
    return f"{base}seats/{seat}/{what}/" if seat is not None else base


def test_the_panel_reads_with_its_open_seat(breast_case, coordinator, no_pathologist):  # noqa: F811
    api = token_client(coordinator)
    response = api.get(_url(breast_case))
    assert response.status_code == 404 and response.json()["detail"] == "This case has no panel."
    panels.assemble_panel(actor=coordinator, case=breast_case, now=MONDAY, open_seats=True)
    body = api.get(_url(breast_case)).json()
    seat = OpenSeat.objects.get()
    assert body["open_seats"] == [{"id": str(seat.pk), "role": "pathology", "reasons": [WHY_PATHOLOGY],
                                   "waived": False}]
    member = no_pathologist["radiology"]
    assert token_client(member.user).get(_url(breast_case)).status_code == 200  # a member reads it too
    assert AuditEvent.objects.filter(action="panel.read_api", actor=coordinator).exists()


def test_candidates_then_fill(breast_case, coordinator, convened, network, no_pathologist):  # noqa: F811
    api = token_client(coordinator)
    assert api.get(_url(breast_case, convened.pk, "candidates")).json() == []  # the Texan is not eligible in CA
    local = make_specialist(network, specialty="pathology", states=("CA",))
    rows = api.get(_url(breast_case, convened.pk, "candidates")).json()
    assert [(r["specialist"], r["role"]) for r in rows] == [(str(local.pk), "pathology")]

    fill = _url(breast_case, convened.pk, "fill")
    for bad, field in (({}, "specialist"), ({"specialist": "nope"}, "specialist"),
                       ({"specialist": str(no_pathologist["texan_pathologist"].pk)}, "specialist"),
                       ({"specialist": str(local.pk), "extra": 1}, "extra")):
        response = api.post(fill, bad, format="json")
        assert response.status_code == 400 and field in response.json()["errors"], (bad, response.json())
    assert OpenSeat.objects.filter(pk=convened.pk).exists() and not PanelMember.objects.filter(specialist=local)

    response = api.post(fill, {"specialist": str(local.pk)}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["open_seats"] == [] and str(local.pk) in [m["specialist"] for m in body["members"]]
    assert Notification.objects.filter(kind="panel_invite", user=local.user).exists()
    assert AuditEvent.objects.filter(action="panel.seat_fill", actor=coordinator).exists()
    response = api.post(fill, {"specialist": str(local.pk)}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "seat_not_open"
    response = api.get(_url(breast_case, convened.pk, "candidates"))
    assert response.status_code == 409 and response.json()["code"] == "seat_not_open"


def test_waive_needs_a_reason_and_happens_once(breast_case, coordinator, convened):
    api = token_client(coordinator)
    waive = _url(breast_case, convened.pk, "waive")
    for bad in ({}, {"reason": "   "}, {"reason": ["a"]}):
        response = api.post(waive, bad, format="json")
        assert response.status_code == 400 and "reason" in response.json()["errors"], (bad, response.json())
    convened.refresh_from_db()
    assert convened.waived_at is None
    reason = "Pathology reviewed at the treating hospital."
    response = api.post(waive, {"reason": reason}, format="json")
    assert response.status_code == 200
    assert response.json()["open_seats"][0]["waived"] is True
    event = AuditEvent.objects.get(action="panel.seat_waive")
    assert event.detail["reason_length"] == len(reason) and reason not in str(event.detail)
    response = api.post(waive, {"reason": reason}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "seat_waived"


def test_only_the_cases_coordinators_change_seats(breast_case, convened, no_pathologist, other_coordinator):  # noqa: F811
    member = token_client(no_pathologist["radiology"].user)
    assert member.post(_url(breast_case, convened.pk, "waive"), {"reason": "x"}, format="json").status_code == 403
    assert member.get(_url(breast_case, convened.pk, "candidates")).status_code == 403
    stranger = token_client(other_coordinator)
    for response in (stranger.get(_url(breast_case)),
                     stranger.post(_url(breast_case, convened.pk, "waive"), {"reason": "x"}, format="json"),
                     stranger.get(_url(breast_case, convened.pk, "candidates"))):
        assert response.status_code == 404
    assert token_client().get(_url(breast_case)).status_code in (401, 403)
    convened.refresh_from_db()
    assert convened.waived_at is None


def test_an_unknown_seat(breast_case, coordinator, convened):
    api = token_client(coordinator)
    for seat in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = api.post(_url(breast_case, seat, "waive"), {"reason": "x"}, format="json")
        assert response.status_code == 409 and response.json()["code"] == "seat_not_open"
