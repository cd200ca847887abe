"""Least access: a specialist only offered a case sees what they need to decide, not the contact details."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from konsil.cases.models import Case, Patient
from konsil.core import authz

from ..factories import api_token, set_identity

EMAIL = "ana.garcia@example.org"
PHONE = "+1 415 555 0199"
DOCTOR_EMAIL = "dr.ruiz@clinic.example"


@pytest.fixture
def contact_case(draft_case):
    Patient.objects.filter(pk=draft_case.patient_id).update(email=EMAIL, phone=PHONE)
    Case.objects.filter(pk=draft_case.pk).update(
        treating_physician="Dr Ruiz", treating_physician_email=DOCTOR_EMAIL, treating_facility="Bay Clinic",
        clinical_summary="Chest pain on exertion for three months.")
    draft_case.refresh_from_db()
    if draft_case.identity_id:
        set_identity(draft_case, email=EMAIL, phone=PHONE)
    return draft_case


def _api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def test_rule_is_registered_and_follows_the_relation(contact_case, walker, specialist, patient_user, coordinator):
    assert "case.view_contact" in authz.registered()
    case = walker.walk_to(contact_case, "offered")
    assert authz.can("case.view", specialist.user, case)
    assert not authz.can("case.view_contact", specialist.user, case)
    assert authz.can("case.view_contact", patient_user, case)
    assert authz.can("case.view_contact", coordinator, case)
    case = walker.walk_to(case, "accepted")
    assert authz.can("case.view_contact", specialist.user, case)


def test_offered_specialist_api_has_the_question_not_the_contact(contact_case, walker, specialist):
    case = walker.walk_to(contact_case, "offered")
    body = _api(specialist.user).get(f"/api/v1/cases/{case.pk}/").json()
    assert body["questions"][0]["text"] == "Do I need a stent?"
    assert body["clinical_summary"].startswith("Chest pain")
    assert body["urgency"] and body["specialty"] == "cardiology"
    assert body["contact_shown"] is False
    assert body["patient"]["email"] == "" and body["patient"]["phone"] == ""
    assert body["treating_physician"] == body["treating_physician_email"] == body["treating_facility"] == ""
    text = str(body)
    assert EMAIL not in text and PHONE not in text and DOCTOR_EMAIL not in text
    assert body["patient"]["state"] == "CA"  # what licensure needs


def test_accepted_specialist_and_patient_see_the_contact(contact_case, walker, specialist, patient_user):
    case = walker.walk_to(contact_case, "accepted")
    for user in (specialist.user, patient_user):
        body = _api(user).get(f"/api/v1/cases/{case.pk}/").json()
        assert body["contact_shown"] is True
        assert body["patient"]["email"] == EMAIL and body["patient"]["phone"] == PHONE
        assert body["treating_physician_email"] == DOCTOR_EMAIL


def test_offered_specialist_page_lacks_contact(client, login, contact_case, walker, specialist):
    case = walker.walk_to(contact_case, "offered")
    login(client, specialist.user)
    page = client.get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Do I need a stent?" in html and "Chest pain on exertion" in html
    assert EMAIL not in html and PHONE not in html and DOCTOR_EMAIL not in html and "Dr Ruiz" not in html
    assert 'id="contact-withheld"' in html


def test_accepted_specialist_page_shows_contact(client, login, contact_case, walker, specialist):
    case = walker.walk_to(contact_case, "accepted")
    login(client, specialist.user)
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert EMAIL in html and DOCTOR_EMAIL in html and "Dr Ruiz" in html
    assert 'id="contact-withheld"' not in html
