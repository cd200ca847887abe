"""Follow-up steps (sent, answered, no response) and the outcome's update on the case timeline; never the
respondents' e-mail addresses or their free text; nothing for readers who may not see the outcome."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from konsil.cases.models import EmergencyAccess
from konsil.outcomes import services
from konsil.outcomes.models import FollowUp

from ..conftest import verified_login
from ..factories import make_specialist

pytestmark = pytest.mark.django_db

ANSWERS = {"followed": "yes", "diagnosis_changed": "no", "plan_changed": "yes", "procedure": "avoided",
           "status": "better", "nps": "9", "comment": "Private words of thanks"}


def _timeline(client, case) -> str:
    page = client.get(reverse("cases:detail", kwargs={"pk": case.pk}))
    assert page.status_code == 200
    html = page.content.decode()
    return html[html.index('id="timeline-h"'):]


def _sent(case):
    services.plan(case)
    services.send_due(now=case.delivered_at + dt.timedelta(days=30))


def test_sent_answered_and_outcome_on_the_timeline(client, delivered_case, patient_user, coordinator):
    _sent(delivered_case)
    patient_fu = FollowUp.objects.get(case=delivered_case, respondent="patient", day=30)
    services.answer(follow_up_id=patient_fu.pk, data=ANSWERS)
    for user in (patient_user, coordinator):
        verified_login(client, user)
        timeline = _timeline(client, delivered_case)
        assert timeline.count('data-kind="followup.sent"') == 2
        assert timeline.count('data-kind="followup.answered"') == 1
        assert 'data-kind="outcome.updated"' in timeline and "Treatment plan changed: Yes" in timeline
        assert "ana@example.org" not in timeline and "local.doctor@example.org" not in timeline
        assert "Private words of thanks" not in timeline


def test_no_response_is_a_step(client, delivered_case, patient_user):
    _sent(delivered_case)
    follow_up = FollowUp.objects.filter(case=delivered_case).first()
    services.close_unanswered(now=follow_up.expires_at + dt.timedelta(minutes=1))
    client.force_login(patient_user)
    timeline = _timeline(client, delivered_case)
    assert timeline.count('data-kind="followup.no_response"') == 2
    assert 'data-kind="outcome.updated"' not in timeline  # nobody answered: nothing invented


def test_readers_without_outcome_access_see_no_follow_up_steps(client, delivered_case, network):
    _sent(delivered_case)
    bystander = make_specialist(network, specialty="cardiology", states=("NY",)).user
    EmergencyAccess.objects.create(case=delivered_case, user=bystander, reason="Unconscious in the ED, no records",
                                   expires_at=timezone.now() + dt.timedelta(minutes=30))
    verified_login(client, bystander)
    timeline = _timeline(client, delivered_case)
    assert 'data-kind="followup.' not in timeline and "Delivered" in timeline
