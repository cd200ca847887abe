"""Audit pages: the patient's "who accessed my data" and the auditor's trail with chain verification."""

from __future__ import annotations

import datetime as dt

from konsil.audit.models import AuditEvent

from ..factories import audit_trigger_disabled
from .conftest import events, url


def test_my_access_lists_a_read_by_the_coordinator(client, login, coordinator, patient_user, walker,
                                                   draft_case):
    case = walker.walk_to(draft_case, "submitted")
    login(client, coordinator)
    assert client.get(url("cases:detail", pk=case.pk)).status_code == 200
    client.force_login(patient_user)
    response = client.get(url("audit:my_access"))
    assert response.status_code == 200
    body = response.content.decode()
    # one line in words: who, what they are, what they did (grouped by case, day and person)
    assert f"{coordinator.get_full_name() or coordinator.email}, care coordinator, opened your case" in body
    assert case.reference in body


def test_my_access_shows_only_my_records(client, login, coordinator, patient_user, other_case):
    login(client, coordinator)
    client.get(url("cases:detail", pk=other_case.pk))
    client.force_login(patient_user)
    body = client.get(url("audit:my_access")).content.decode()
    assert coordinator.email not in body
    assert "No one has accessed your data yet." in body


def test_trail_requires_an_auditor(client, login, patient_user, coordinator):
    client.force_login(patient_user)
    assert client.get(url("audit:trail")).status_code == 403
    assert client.post(url("audit:trail")).status_code == 403
    login(client, coordinator)
    assert client.get(url("audit:trail")).status_code == 403
    assert not events("audit.read").exists()


def test_trail_lists_filters_and_is_itself_audited(client, login, auditor, coordinator, patient_user, walker,
                                                   draft_case):
    case = walker.walk_to(draft_case, "submitted")
    login(client, coordinator)
    client.get(url("cases:detail", pk=case.pk))
    login(client, auditor)
    response = client.get(url("audit:trail"))
    assert response.status_code == 200
    assert "case.submit" in response.content.decode()
    assert events("audit.read", actor=auditor).count() == 1

    filters = {"action": "case.read", "actor": coordinator.email[:6]}
    body = client.get(url("audit:trail"), filters).content.decode()
    assert "<code>case.read</code>" in body and "<code>case.submit</code>" not in body
    body = client.get(url("audit:trail"), {"outcome": "denied"}).content.decode()
    assert "<code>case.submit</code>" not in body
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    body = client.get(url("audit:trail"), {"date_from": tomorrow}).content.decode()
    assert "No events match these filters." in body


def test_trail_bad_filters_are_messages_not_errors(client, login, auditor):
    login(client, auditor)
    response = client.get(url("audit:trail"), {"date_from": "2024-02-30", "outcome": "maybe"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a valid date." in body and "Select a valid choice." in body
    response = client.get(url("audit:trail"), {"date_from": "2024-05-02", "date_to": "2024-05-01"})
    assert "The end date is before the start date." in response.content.decode()


def test_verify_button_reports_intact_and_broken_chains(client, login, auditor, draft_case, walker):
    walker.walk_to(draft_case, "submitted")
    login(client, auditor)
    response = client.post(url("audit:trail"), follow=True)
    assert response.status_code == 200
    assert "The chain is intact" in response.content.decode()
    assert events("audit.verify", actor=auditor, outcome="success").exists()

    victim = AuditEvent.objects.filter(action="case.submit").get()
    with audit_trigger_disabled():
        AuditEvent.objects.filter(seq=victim.seq).update(actor_label="someone-else@example.test")  # tamper
    response = client.post(url("audit:trail"), follow=True)
    assert f"The chain is broken at event {victim.seq}" in response.content.decode()
