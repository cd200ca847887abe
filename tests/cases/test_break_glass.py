"""Break-glass emergency access: a clinician of the case's network reads a case for an hour after giving a reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases import emergency
from konsil.cases.models import EmergencyAccess, Notification
from konsil.core import authz
from konsil.core.errors import NotFound, ValidationFailed

from ..factories import api_token, make_specialist, make_user

REASON = "Patient collapsed in the ER; need the cardiac history now."


@pytest.fixture
def bystander(network):
    """A specialist of the case's network who is not on the case."""
    return make_specialist(network, specialty="cardiology", states=("NY",)).user


def _api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def _url(case):
    return f"/api/v1/cases/{case.pk}/break-glass/"


def test_grant_gives_time_limited_read_access(draft_case, bystander):
    assert not authz.can("case.view", bystander, draft_case)
    assert authz.can("case.break_glass", bystander, draft_case)
    grant = emergency.break_glass(actor=bystander, case=draft_case, reason=REASON)
    assert grant.expires_at - grant.created_at <= dt.timedelta(minutes=61)
    assert authz.can("case.view", bystander, draft_case)
    assert authz.can("case.view_contact", bystander, draft_case)
    # read only: no write rule names the grant
    assert not authz.can("case.edit", bystander, draft_case)
    assert not authz.can("case.message", bystander, draft_case)
    EmergencyAccess.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert not authz.can("case.view", bystander, draft_case)


def test_api_grant_then_read_then_expiry(draft_case, bystander):
    client = _api(bystander)
    assert client.get(f"/api/v1/cases/{draft_case.pk}/").status_code == 404
    response = client.post(_url(draft_case), {"reason": REASON}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["reason"] == REASON
    body = client.get(f"/api/v1/cases/{draft_case.pk}/").json()
    assert body["questions"][0]["text"] == "Do I need a stent?"
    read = AuditEvent.objects.filter(action="case.read", actor_id=bystander.pk, outcome="success").get()
    assert read.purpose == "emergency" and read.role == "emergency_access"
    assert client.patch(f"/api/v1/cases/{draft_case.pk}/", {"clinical_summary": "x"},
                        format="json").status_code in (403, 409)
    assert client.post(f"/api/v1/cases/{draft_case.pk}/messages/", {"body": "hi"},
                       format="json").status_code in (403, 409)
    EmergencyAccess.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(f"/api/v1/cases/{draft_case.pk}/").status_code == 404


def test_audit_alert_and_patient_access_log(client, login, draft_case, bystander, coordinator, auditor,
                                            patient_user):
    emergency.break_glass(actor=bystander, case=draft_case, reason=REASON)
    event = AuditEvent.objects.get(action="case.break_glass", outcome="success")
    assert event.purpose == "emergency" and event.patient_id == draft_case.patient_id
    assert event.actor_id == bystander.pk
    alerted = set(Notification.objects.filter(kind="break_glass", case=draft_case).values_list("user", flat=True))
    assert alerted == {coordinator.pk, auditor.pk}
    login(client, patient_user)
    page = client.get("/audit/my-access/").content.decode()
    assert "opened your case in an emergency" in page


@pytest.mark.parametrize("who", ["patient", "payer", "other_coordinator"])
def test_refused_outside_the_network_or_without_a_clinical_role(who, draft_case, patient_user, payer_admin,
                                                                other_coordinator):
    user = {"patient": patient_user, "payer": payer_admin, "other_coordinator": other_coordinator}[who]
    response = _api(user).post(_url(draft_case), {"reason": REASON}, format="json")
    unknown = _api(user).post("/api/v1/cases/00000000-0000-0000-0000-000000000000/break-glass/",
                              {"reason": REASON}, format="json")
    assert response.status_code == unknown.status_code == 404  # the same answer as a case that does not exist
    assert response.json() == unknown.json()
    assert not EmergencyAccess.objects.exists()
    assert AuditEvent.objects.filter(action="case.break_glass", outcome="denied", actor_id=user.pk).exists()
    with pytest.raises(NotFound):
        emergency.break_glass(actor=user, case=draft_case, reason=REASON)


def test_payer_member_of_the_network_is_refused(network, draft_case):
    payer_in_network = make_user(Role.PAYER_ADMIN, network)
    assert not authz.can("case.break_glass", payer_in_network, draft_case)


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "short"}, {"reason": "x" * 1001},
                                  {"reason": REASON, "extra": 1}])
def test_bad_reason_is_a_field_level_400(body, draft_case, bystander):
    response = _api(bystander).post(_url(draft_case), body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) <= {"reason", "extra"} and errors
    assert not EmergencyAccess.objects.exists()


def test_outsider_with_a_bad_reason_gets_404_not_field_errors(draft_case, other_coordinator):
    assert _api(other_coordinator).post(_url(draft_case), {"reason": ""}, format="json").status_code == 404


def test_unknown_case_is_404(db, bystander):
    assert _api(bystander).post("/api/v1/cases/00000000-0000-0000-0000-000000000000/break-glass/",
                                {"reason": REASON}, format="json").status_code == 404


def test_service_checks_the_reason(draft_case, bystander):
    with pytest.raises(ValidationFailed) as exc:
        emergency.break_glass(actor=bystander, case=draft_case, reason="   too short      ")
    assert exc.value.field == "reason"


def test_page_form_grants_and_redirects(client, login, draft_case, bystander):
    login(client, bystander)
    url = f"/cases/{draft_case.pk}/emergency/"
    assert client.get(url).status_code == 200
    short = client.post(url, {"reason": "help"})
    assert short.status_code == 400 and "reason_error" in short.content.decode()
    assert not EmergencyAccess.objects.exists()
    response = client.post(url, {"reason": REASON})
    assert response.status_code == 302 and response["Location"].endswith(f"/cases/{draft_case.pk}/")
    page = client.get(f"/cases/{draft_case.pk}/")
    assert page.status_code == 200 and 'id="emergency-access"' in page.content.decode()


def test_page_refuses_outsiders(client, login, draft_case, other_coordinator, patient_user):
    for user in (other_coordinator, patient_user):
        login(client, user)
        assert client.get(f"/cases/{draft_case.pk}/emergency/").status_code == 404
        assert client.post(f"/cases/{draft_case.pk}/emergency/", {"reason": REASON}).status_code == 404
    assert not EmergencyAccess.objects.exists()


def _not_found_section(response) -> str:
    import re

    return re.search(r'<section class="card narrow" id="not-found">.*?</section>', response.content.decode(),
                     re.S).group(0)


def test_the_404_of_a_hidden_case_offers_break_glass_to_an_eligible_clinician(client, login, draft_case, bystander):
    login(client, bystander)
    response = client.get(f"/cases/{draft_case.pk}/")
    section = _not_found_section(response)
    assert response.status_code == 404 and 'id="break-glass-offer"' in section
    assert f'href="/cases/{draft_case.pk}/emergency/"' in section
    assert draft_case.reference not in response.content.decode()  # an offer, not the case
    # the offer leads to the reason form, and from there into the case
    assert client.post(f"/cases/{draft_case.pk}/emergency/", {"reason": REASON}).status_code == 302
    assert client.get(f"/cases/{draft_case.pk}/").status_code == 200


def test_the_404_says_nothing_to_those_who_may_not(client, login, draft_case, other_coordinator, patient_user,
                                                   payer_admin, other_patient):
    for user in (other_coordinator, payer_admin, other_patient):
        login(client, user)
        hidden = client.get(f"/cases/{draft_case.pk}/")
        missing = client.get("/cases/00000000-0000-0000-0000-000000000000/")
        assert hidden.status_code == missing.status_code == 404
        assert _not_found_section(hidden) == _not_found_section(missing)
        assert "break-glass" not in hidden.content.decode() and draft_case.reference not in hidden.content.decode()
    client.logout()
