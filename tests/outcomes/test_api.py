"""GET /api/v1/cases/{id}/outcome/: the outcome record and the follow-ups' status, unknown until answered (never
guessed), without the respondents' addresses or free text; scoped and audited."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from konsil.audit.models import AuditEvent
from konsil.outcomes import services
from konsil.outcomes.models import FollowUp

from ..factories import api_token

pytestmark = pytest.mark.django_db

ANSWERS = {"followed": "yes", "diagnosis_changed": "no", "plan_changed": "yes", "procedure": "avoided",
           "status": "better", "nps": "9", "comment": "Private words of thanks"}


def _get(user, case):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client.get(f"/api/v1/cases/{case.pk}/outcome/")


def test_unknown_until_answered_then_built_from_the_answers(delivered_case, patient_user, coordinator,
                                                             stent_price):
    services.plan(delivered_case)
    before = _get(patient_user, delivered_case)
    assert before.status_code == 200
    body = before.json()
    assert body["plan_changed"] == "unknown" and body["answers"] == 0 and body["cost_difference"] is None
    assert {(f["respondent"], f["day"], f["status"]) for f in body["follow_ups"]} >= {("patient", 30, "scheduled")}
    services.send_due(now=delivered_case.delivered_at + dt.timedelta(days=30))
    follow_up = FollowUp.objects.get(case=delivered_case, respondent="patient", day=30)
    services.answer(follow_up_id=follow_up.pk, data=ANSWERS)
    after = _get(coordinator, delivered_case)
    assert after.status_code == 200
    body = after.json()
    assert body["plan_changed"] == "yes" and body["procedure_status"] == "avoided" and body["nps"] == 9
    assert body["cost_proposed"]["source"] == "Test fee schedule" and body["answers"] == 1
    text = after.content.decode()
    assert "ana@example.org" not in text and "local.doctor@example.org" not in text
    assert "Private words of thanks" not in text and "token" not in text
    assert AuditEvent.objects.filter(action="outcome.read", object_id=str(delivered_case.pk)).count() == 2


def test_strangers_get_404_and_it_is_audited(delivered_case, other_patient):
    assert _get(other_patient, delivered_case).status_code == 404
    assert AuditEvent.objects.filter(action="outcome.read", outcome="denied").exists()
