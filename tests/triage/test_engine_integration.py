"""The default engine end to end: proposal details stored, red flags escalate and alert, decisions feed back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.cases.models import Notification
from konsil.cases.services import transition
from konsil.records.models import RecordsRequest
from konsil.triage import feedback
from konsil.triage.ml import ModelTriage
from konsil.triage.model import load
from konsil.triage.selectors import recent_accuracy
from konsil.triage.services import propose

pytestmark = pytest.mark.django_db

CHEST_PAIN = ("Crushing substernal chest pain radiating to the left arm with diaphoresis since this morning; "
              "troponin elevated.")


@pytest.fixture(autouse=True)
def _model_engine(settings):
    settings.KONSIL_TRIAGE_ENGINE = "konsil.triage.ml.ModelTriage"


def test_proposal_stores_the_model_and_its_findings(draft_case):
    draft_case.clinical_summary = ("2-D echocardiogram: ejection fraction 35%. Coronary angiography showed "
                                   "two-vessel disease. Medications: metoprolol 50 mg daily.")
    draft_case.save()
    proposal = propose(case=draft_case)
    assert proposal.engine == ModelTriage.name
    assert proposal.model_version == load().version
    assert proposal.labels and proposal.labels[0]["label"] == "cardiology_pulmonology"
    assert proposal.specialty_id in {"cardiology", "pulmonology", "interventional_cardiology"}
    assert proposal.checklist and any(not item["present"] for item in proposal.checklist)
    assert any(item["ref"].startswith("case:") for items in proposal.summary.values() for item in items)
    assert AuditEvent.objects.filter(action="triage.propose", object_id=str(proposal.pk)).exists()


def test_red_flags_make_the_case_stat_and_alert_the_coordinator(draft_case, coordinator):
    draft_case.clinical_summary = CHEST_PAIN
    draft_case.save()
    proposal = propose(case=draft_case)
    draft_case.refresh_from_db()
    assert proposal.red_flags and proposal.urgency == "stat"
    assert draft_case.urgency == "stat"
    assert Notification.objects.filter(user=coordinator, case=draft_case, kind="red_flag").exists()
    assert AuditEvent.objects.filter(action="triage.escalate", object_id=str(draft_case.pk)).exists()


def test_negated_symptoms_stay_routine(draft_case, coordinator):
    draft_case.clinical_summary = "Denies chest pain. No shortness of breath. Routine follow-up of stable angina."
    draft_case.save()
    propose(case=draft_case)
    draft_case.refresh_from_db()
    assert draft_case.urgency == "routine"
    assert not Notification.objects.filter(kind="red_flag").exists()


def test_missing_items_become_records_requests_in_one_click(client, login, draft_case, coordinator, patient_user):
    transition(actor=patient_user, case=draft_case, action="submit")
    proposal = propose(case=draft_case)
    missing = [i["item"] for i in proposal.missing_items]
    assert missing
    login(client, coordinator)
    page = client.get(reverse("cases:detail", args=[draft_case.pk]))
    assert b'id="records-request"' in page.content
    response = client.post(reverse("records:request", args=[draft_case.pk]),
                           {"items": missing, "method": "patient"}, follow=True)
    assert response.status_code == 200
    assert set(RecordsRequest.objects.filter(case=draft_case).values_list("item", flat=True)) == set(missing)
    assert Notification.objects.filter(user=patient_user, kind="records_request").exists()
    again = client.post(reverse("records:request", args=[draft_case.pk]), {"items": missing, "method": "patient"},
                        follow=True)
    assert "already requested" in again.content.decode()
    assert RecordsRequest.objects.filter(case=draft_case).count() == len(missing)


def test_records_request_bad_input_and_foreign_users(client, login, draft_case, coordinator, other_coordinator,
                                                      patient_user):
    transition(actor=patient_user, case=draft_case, action="submit")
    item = propose(case=draft_case).missing_items[0]["item"]
    login(client, coordinator)
    response = client.post(reverse("records:request", args=[draft_case.pk]),
                           {"items": [item], "method": "fax", "destination": ""}, follow=True)
    assert "fax number or email" in response.content.decode()
    assert not RecordsRequest.objects.exists()
    login(client, other_coordinator)
    response = client.post(reverse("records:request", args=[draft_case.pk]), {"items": [item], "method": "patient"})
    assert response.status_code == 404
    assert not RecordsRequest.objects.exists()


def test_overdue_requests_and_accuracy_show_in_the_queue(client, login, walker, draft_case, coordinator):
    case = walker.walk_to(draft_case, "submitted")
    proposal = propose(case=case)
    transition(actor=coordinator, case=case, action="triage", specialty="dermatology", urgency="routine",
               reason="skin lesion is the question")
    RecordsRequest.objects.create(case=case, item="ecg", label="ECG", due_on=dt.date(2020, 1, 1),
                                  requested_by=coordinator)
    accuracy = recent_accuracy(coordinator)
    assert accuracy.decisions == 1 and accuracy.overrides == (0 if proposal.specialty_id == "dermatology" else 1)
    login(client, coordinator)
    page = client.get(reverse("cases:queue")).content.decode()
    assert 'id="triage-accuracy"' in page and "Overdue records requests" in page and case.reference in page


def test_confirmed_decisions_become_training_rows(walker, draft_case, coordinator):
    case = walker.walk_to(draft_case, "triaged")  # the walker confirms cardiology
    rows = feedback.confirmed_rows()
    assert rows == [{"text": rows[0]["text"], "label": "cardiology_pulmonology"}]
    assert case.questions.first().text in rows[0]["text"]
    from konsil.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="triage.retrain_read", object_id=str(case.pk)).exists()


def test_accuracy_counts_first_and_top_three_without_reading_the_proposals_in_full(
        network, patient_user, coordinator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from konsil.triage.models import TriageDecision, TriageProposal

    from ..factories import make_draft

    ranked = [{"code": "cardiology", "probability": 0.6}, {"code": "pulmonology", "probability": 0.2},
              {"code": "nephrology", "probability": 0.1}, {"code": "dermatology", "probability": 0.05}]
    for chosen in ("cardiology", "nephrology", "dermatology"):  # first, within the top three, outside it
        case = make_draft(network, patient_user)
        proposal = TriageProposal.objects.create(case=case, engine="test", model_version="1", urgency="routine",
                                                 specialty_id="cardiology", ranked=ranked,
                                                 summary={"lines": ["kept encrypted"]})
        TriageDecision.objects.create(case=case, proposal=proposal, chosen_specialty_id=chosen,
                                      chosen_urgency="routine", agreed=chosen == "cardiology", decided_by=coordinator)
    with CaptureQueriesContext(connection) as captured:
        accuracy = recent_accuracy(coordinator)
    assert (accuracy.decisions, accuracy.top1, accuracy.top3, accuracy.overrides) == (3, 1 / 3, 2 / 3, 2)
    assert '"triage_triageproposal"."summary"' not in captured[-1]["sql"]  # three columns, nothing decrypted
