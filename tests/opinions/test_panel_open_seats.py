"""A role nobody eligible can fill: the reason per seat (API and page), and the ways forward - convene with the
seat left open, then invite a specialist to it or waive it with a reason before the consensus is signed."""

import datetime as dt

import pytest
from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.cases.models import Notification
from konsil.cases.services import transition
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.opinions import panels, seats
from konsil.opinions import services as opinions
from konsil.opinions.models import OpenSeat, Panel, PanelMember

from ..api.conftest import API, token_client
from ..conftest import complete_opinion
from ..factories import make_specialist
from .test_panels import BREAST_ROLES

MONDAY = dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.UTC)
WHY_PATHOLOGY = ("Anatomic and Clinical Pathology: nobody eligible among 1 in the network: "
                 "not licensed in California (1)")


@pytest.fixture
def no_pathologist(network):
    """Every breast-cancer role filled in CA but pathology: the only pathologist is licensed in Texas alone."""
    people = {code: make_specialist(network, specialty=code, states=("CA",)) for code in BREAST_ROLES
              if code != "pathology"}
    people["texan_pathologist"] = make_specialist(network, specialty="pathology", states=("TX",))
    return people


def _with_open_seat(coordinator, case):
    return panels.assemble_panel(actor=coordinator, case=case, now=MONDAY, open_seats=True)


def test_the_refusal_says_why_per_seat(breast_case, coordinator, no_pathologist):
    with pytest.raises(Conflict) as exc:
        panels.assemble_panel(actor=coordinator, case=breast_case, now=MONDAY)
    assert exc.value.code == "unfilled_roles"
    assert exc.value.as_dict()["errors"] == {"pathology": [WHY_PATHOLOGY]}
    assert not Panel.objects.exists()


def test_nobody_of_the_specialty_and_no_seat_fillable(breast_case, coordinator):
    with pytest.raises(Conflict) as exc:
        panels.assemble_panel(actor=coordinator, case=breast_case, now=MONDAY, open_seats=True)
    assert exc.value.code == "no_seat_fillable"  # a panel with nobody on it is no panel
    assert exc.value.errors["radiology"] == ["Diagnostic Radiology: no specialist of this specialty in the network"]
    assert not Panel.objects.exists()


def test_api_409_carries_the_reasons_then_open_seats_convenes(breast_case, coordinator, no_pathologist):
    api = token_client(coordinator)
    url = f"{API}/cases/{breast_case.pk}/panel/"
    response = api.post(url, {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "unfilled_roles"
    assert response.json()["errors"] == {"pathology": [WHY_PATHOLOGY]}
    response = api.post(url, {"open_seats": "maybe"}, format="json")
    assert response.status_code == 400 and "open_seats" in response.json()["errors"]
    response = api.post(url, {"seats": True}, format="json")
    assert response.status_code == 400 and "seats" in response.json()["errors"]
    assert not Panel.objects.exists()

    response = api.post(url, {"open_seats": True}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [m["role"] for m in body["members"]] == [c for c in BREAST_ROLES if c != "pathology"]
    assert [(s["role"], s["reasons"], s["waived"]) for s in body["open_seats"]] == [
        ("pathology", [WHY_PATHOLOGY], False)]
    assert AuditEvent.objects.filter(action="panel.assemble", detail__open_seats=["pathology"]).exists()


def test_page_names_the_seat_and_offers_the_ways_forward(client, login, breast_case, coordinator, no_pathologist):
    login(client, coordinator)
    response = client.post(reverse("opinions:panel_assemble", args=[breast_case.pk]), {"template": ""})
    assert response.status_code == 409
    page = response.content.decode()
    assert WHY_PATHOLOGY in page
    assert "Assemble with open seats" in page and 'name="open_seats" value="1"' in page
    assert reverse("cases:detail", args=[breast_case.pk]) in page and reverse("matching:import") in page
    assert "Choose another panel template below." in page

    response = client.post(reverse("opinions:panel_assemble", args=[breast_case.pk]), {"open_seats": "1"})
    assert response.status_code == 302
    page = client.get(reverse("opinions:panel", args=[breast_case.pk])).content.decode()
    assert "Open seats" in page and WHY_PATHOLOGY in page and "Waive this seat" in page
    assert "Nobody is eligible for this seat yet." in page
    waive = page[page.index('id="id_waive_'):]
    label = waive[waive.index("<label"):waive.index("</label>")]
    assert "Reason for waiving the seat" in label and "optional" not in label and 'class="required"' in label


def test_page_without_a_fillable_seat_offers_no_open_seats(client, login, breast_case, coordinator):
    login(client, coordinator)
    response = client.post(reverse("opinions:panel_assemble", args=[breast_case.pk]), {"open_seats": "1"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Diagnostic Radiology: no specialist of this specialty in the network" in page
    assert "Assemble with open seats" not in page and "Refer the case to a single specialist" in page


def _draft_consensus(chair, case):
    for action in ("accept", "start_review"):
        transition(actor=chair.user, case=case, action=action)
    case.refresh_from_db()
    opinions.save_draft(actor=chair.user, case=case, data=complete_opinion(case))


def test_consensus_waits_for_the_seat_then_an_invited_pathologist_fills_it(client, login, breast_case, coordinator,
                                                                          no_pathologist, network):
    panel = _with_open_seat(coordinator, breast_case)
    chair = no_pathologist["medical_oncology"]
    assert panel.chair == chair
    _draft_consensus(chair, breast_case)
    with pytest.raises(Conflict) as exc:
        transition(actor=chair.user, case=breast_case, action="complete_draft")
    assert exc.value.code == "panel_seats_open" and "Anatomic and Clinical Pathology" in str(exc.value.message)
    seat = OpenSeat.objects.get()

    login(client, coordinator)
    fill = reverse("opinions:panel_seat_fill", args=[breast_case.pk, seat.pk])
    texan = no_pathologist["texan_pathologist"]
    response = client.post(fill, {"specialist": str(texan.pk)})
    assert response.status_code == 400  # licensed in Texas only: not eligible for a Californian
    assert "not eligible for this seat" in response.content.decode()
    assert not PanelMember.objects.filter(specialist=texan).exists() and OpenSeat.objects.filter(pk=seat.pk).exists()

    local = make_specialist(network, specialty="pathology", states=("CA",))
    page = client.get(reverse("opinions:panel", args=[breast_case.pk])).content.decode()
    assert f'value="{local.pk}"' in page and "Invite to this seat" in page
    assert client.post(fill, {"specialist": str(local.pk)}).status_code == 302
    member = PanelMember.objects.get(specialist=local)
    assert member.role_id == "pathology" and member.position == BREAST_ROLES.index("pathology")
    assert not OpenSeat.objects.exists()
    assert Notification.objects.filter(case=breast_case, kind="panel_invite", user=local.user).exists()
    assert AuditEvent.objects.filter(action="panel.seat_fill", actor=coordinator).exists()
    assert client.post(fill, {"specialist": str(local.pk)}).status_code == 409  # a double submit

    transition(actor=chair.user, case=breast_case, action="complete_draft")
    assert transition(actor=chair.user, case=breast_case, action="sign").status == "signed"


def test_a_waived_seat_needs_a_reason_and_lets_the_consensus_be_signed(client, login, breast_case, coordinator,
                                                                      no_pathologist, patient_user):
    panel = _with_open_seat(coordinator, breast_case)
    seat = OpenSeat.objects.get()
    login(client, coordinator)
    waive = reverse("opinions:panel_seat_waive", args=[breast_case.pk, seat.pk])
    response = client.post(waive, {"reason": "  "})
    assert response.status_code == 400 and "Give a reason." in response.content.decode()
    seat.refresh_from_db()
    assert seat.waived_at is None
    with pytest.raises(PermissionDenied):  # only the case's coordinators waive
        seats.waive_seat(actor=patient_user, panel=panel, seat_id=seat.pk, reason="x")

    reason = "Outside pathology review already done at the treating hospital; slides reviewed there."
    assert client.post(waive, {"reason": reason}).status_code == 302
    seat.refresh_from_db()
    page = client.get(reverse("opinions:panel", args=[breast_case.pk])).content.decode()
    assert "Nobody is eligible for this seat yet." not in page  # waived: nothing left to do there
    assert f"Waived by {coordinator.get_full_name()}" in page and f"Waived by {coordinator.email}" not in page
    assert seat.waived_by == coordinator and seat.waived_reason == reason
    event = AuditEvent.objects.get(action="panel.seat_waive")
    assert event.detail["reason_length"] == len(reason) and reason not in str(event.detail)
    page = client.get(reverse("opinions:panel", args=[breast_case.pk])).content.decode()
    assert reason in page and "Waive this seat" not in page
    with pytest.raises(Conflict):
        seats.waive_seat(actor=coordinator, panel=panel, seat_id=seat.pk, reason="again")

    chair = no_pathologist["medical_oncology"]
    _draft_consensus(chair, breast_case)
    transition(actor=chair.user, case=breast_case, action="complete_draft")
    assert transition(actor=chair.user, case=breast_case, action="sign").status == "signed"
    report = client.get(reverse("opinions:report", args=[breast_case.pk])).content.decode()
    assert "Not represented: the coordinator waived this seat" in report and reason in report


def test_fill_needs_a_specialist_and_an_open_seat(breast_case, coordinator, no_pathologist):
    panel = _with_open_seat(coordinator, breast_case)
    seat = OpenSeat.objects.get()
    with pytest.raises(ValidationFailed) as exc:
        seats.fill_seat(actor=coordinator, panel=panel, seat_id=seat.pk, specialist_id="")
    assert exc.value.field == "specialist"
    with pytest.raises(Conflict) as exc:
        seats.fill_seat(actor=coordinator, panel=panel, seat_id="not-a-uuid", specialist_id="x")
    assert exc.value.code == "seat_not_open"
    assert panel.members.count() == 4
