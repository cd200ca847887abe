"""Records requests: the signed authorization that goes to a facility, and daily reminders when overdue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from konsil.cases.models import Notification
from konsil.core import schedule
from konsil.core.errors import ValidationFailed
from konsil.records import services
from konsil.records.intake import store_record
from konsil.records.models import RecordsRequest
from tests.factories import make_draft

pytestmark = pytest.mark.django_db

ITEMS = [{"item": "echo_report", "label": "Echocardiogram report"}]


@pytest.fixture
def case(network, patient_user):
    return make_draft(network, patient_user, consent=False)


@pytest.fixture
def coordinator_for(coordinator):
    return lambda case: coordinator


@pytest.fixture
def records_factory():
    def make(case, content: bytes):
        return store_record(actor=case.requester, case=case, content=content, filename="authorization.pdf",
                            process=False)
    return make


def _consent(case, scope):
    from konsil.cases.models import Consent

    return Consent.objects.create(case=case, scope=scope, signer_name="Pat", signed_at=timezone.now())


def test_a_facility_request_needs_the_patients_authorization(case, coordinator_for):
    coordinator = coordinator_for(case)
    with pytest.raises(ValidationFailed) as err:
        services.request_missing(actor=coordinator, case=case, items=ITEMS, method="fax", destination="+1 555 0100")
    assert err.value.field == "authorization"
    assert not RecordsRequest.objects.exists()
    _consent(case, ["obtain_records"])
    [req] = services.request_missing(actor=coordinator, case=case, items=ITEMS, method="fax",
                                     destination="+1 555 0100")
    assert req.outside and req.authorization is None


def test_a_signed_form_from_the_case_is_attached(case, records_factory, coordinator_for, other_case):
    coordinator = coordinator_for(case)
    form = records_factory(case, b"%PDF-1.4 signed authorization")
    [req] = services.request_missing(actor=coordinator, case=case, items=ITEMS, method="email",
                                     destination="records@example.org", authorization=form)
    assert req.authorization == form
    other = records_factory(other_case, b"another case's form")
    with pytest.raises(ValidationFailed):
        services.request_missing(actor=coordinator, case=case, items=[{"item": "ecg", "label": "ECG"}],
                                 method="email", destination="records@example.org", authorization=other)


def test_asking_the_patient_needs_no_authorization(case, coordinator_for):
    [req] = services.request_missing(actor=coordinator_for(case), case=case, items=ITEMS, method="patient")
    assert not req.outside


def test_overdue_requests_are_chased_once_a_day(case, coordinator_for):
    coordinator = coordinator_for(case)
    _consent(case, ["obtain_records"])
    [by_fax] = services.request_missing(actor=coordinator, case=case, items=ITEMS, method="fax", destination="1")
    [by_patient] = services.request_missing(actor=coordinator, case=case, items=[{"item": "ecg", "label": "ECG"}])
    RecordsRequest.objects.update(due_on=dt.date(2020, 1, 1))
    Notification.objects.all().delete()
    now = timezone.now()
    assert services.send_reminders(now) == 2
    assert services.send_reminders(now + dt.timedelta(hours=2)) == 0  # not again the same day
    assert services.send_reminders(now + dt.timedelta(days=1, minutes=1)) == 2
    by_fax.refresh_from_db()
    assert by_fax.reminders_sent == 2
    kinds = set(Notification.objects.values_list("user", "kind"))
    assert (coordinator.pk, "records_overdue") in kinds
    assert (case.patient.user_id, "records_overdue") in kinds
    services.mark_received(actor=coordinator, request=by_patient)
    assert services.send_reminders(now + dt.timedelta(days=3)) == 1


def test_requests_not_yet_due_are_left_alone(case, coordinator_for):
    services.request_missing(actor=coordinator_for(case), case=case, items=ITEMS)
    assert services.send_reminders() == 0


def test_the_schedule_enqueues_reminders_when_due(case, monkeypatch):
    calls = []
    monkeypatch.setattr(services, "send_reminders", lambda now=None: calls.append(now) or 0)
    plan = [schedule.Periodic("konsil.records.tasks.send_records_reminders", 3600)]
    assert schedule.tick(now=10_000.0, schedule=plan) == ["konsil.records.tasks.send_records_reminders"]
    assert schedule.tick(now=10_100.0, schedule=plan) == []
    assert schedule.tick(now=13_601.0, schedule=plan) == ["konsil.records.tasks.send_records_reminders"]
    assert len(calls) == 2


def test_the_request_form_takes_an_authorization(client, draft_case, records_factory, coordinator,
                                                 django_capture_on_commit_callbacks, login):
    from konsil.cases.services import transition

    with django_capture_on_commit_callbacks(execute=True):  # triage proposes once the submission commits
        case = transition(actor=draft_case.requester, case=draft_case, action="submit")
    form = records_factory(case, b"signed form bytes")
    login(client, coordinator)
    missing = case.triage_proposals.latest("created_at").missing_items
    assert len(missing) >= 2
    response = client.post(reverse("records:request", args=[case.pk]), {
        "items": [missing[0]["item"]], "method": "fax", "destination": "+1 555 0100",
        "authorization": str(form.pk)})
    assert response.status_code == 302
    assert RecordsRequest.objects.get(case=case).authorization == form
    response = client.post(reverse("records:request", args=[case.pk]), {
        "items": [missing[-1]["item"]], "method": "fax", "destination": "1", "authorization": "not-a-uuid"},
        follow=True)
    assert "signed authorization" in response.content.decode()
