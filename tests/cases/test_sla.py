"""Review deadlines: set on acceptance by urgency, a reminder and a breach alert each once, and the queue."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from konsil.audit.models import AuditEvent
from konsil.cases import sla
from konsil.cases.models import Case, Notification, Offer

from ..factories import make_draft
from .test_offers import offer, ranked, team, triaged  # noqa: F401  (fixtures)


def accepted(walker, case, urgency="routine"):
    case = offer(walker.coordinator, triaged(walker, case, urgency), walker.specialist, reason="Available now")
    from konsil.cases.services import transition

    return transition(actor=walker.specialist.user, case=case, action="accept")


@pytest.mark.parametrize(("urgency", "hours"), [("routine", 72), ("urgent", 24), ("stat", 4)])
def test_review_is_due_by_urgency_from_acceptance(walker, draft_case, urgency, hours):
    before = timezone.now()
    case = accepted(walker, draft_case, urgency)
    case.refresh_from_db()
    assert before + timedelta(hours=hours) <= case.review_due_at <= timezone.now() + timedelta(hours=hours)
    assert case.review_reminded_at is None and case.review_breached_at is None


def test_review_hours_are_configurable(settings, walker, draft_case):
    settings.KONSIL_REVIEW_HOURS = {"routine": 10}
    case = accepted(walker, draft_case)
    case.refresh_from_db()
    assert case.review_due_at - timezone.now() < timedelta(hours=10)


def _kinds(user, case):
    return list(Notification.objects.filter(user=user, case=case).values_list("kind", flat=True))


def test_reminder_at_75_percent_fires_once(walker, draft_case, coordinator, specialist):
    case = accepted(walker, draft_case)
    case.refresh_from_db()
    start = case.review_due_at - timedelta(hours=72)
    assert sla.sla_reminders(now=start + timedelta(hours=53)) == {"reminders": 0, "breaches": 0}
    assert sla.sla_reminders(now=start + timedelta(hours=54, minutes=1)) == {"reminders": 1, "breaches": 0}
    assert sla.sla_reminders(now=start + timedelta(hours=60)) == {"reminders": 0, "breaches": 0}
    assert _kinds(specialist.user, case).count("sla_reminder") == 1
    assert "sla_reminder" not in _kinds(coordinator, case)
    event = AuditEvent.objects.get(action="case.sla_reminder", object_id=str(case.pk))
    assert event.actor_label == "sla" and event.patient_id == case.patient_id


def test_breach_alerts_coordinators_once(walker, draft_case, coordinator, specialist):
    case = accepted(walker, draft_case, "stat")
    case.refresh_from_db()
    late = case.review_due_at + timedelta(minutes=1)
    assert sla.sla_reminders(now=late) == {"reminders": 1, "breaches": 1}
    assert sla.sla_reminders(now=late + timedelta(hours=5)) == {"reminders": 0, "breaches": 0}
    assert _kinds(coordinator, case).count("sla_breach") == 1
    assert "sla_breach" not in _kinds(specialist.user, case)
    assert AuditEvent.objects.filter(action="case.sla_breach", object_id=str(case.pk)).count() == 1
    case.refresh_from_db()
    assert case.review_breached_at is not None


def test_signed_opinions_raise_no_alerts(walker, draft_case):
    case = walker.walk_to(draft_case, "signed")
    case.refresh_from_db()
    assert case.review_due_at is not None
    assert sla.sla_reminders(now=case.review_due_at + timedelta(days=1)) == {"reminders": 0, "breaches": 0}


# --- the coordinator's queue ---------------------------------------------------------------------------------

def _sections(html: str) -> dict[str, str]:
    """The queue's attention lists by heading id."""
    found = re.findall(r'<h3 id="([a-z-]+)">(.*?)(?=<h3 |</section>)', html, flags=re.S)
    return dict(found)


@pytest.fixture
def queue_cases(network, patient_user, walker, coordinator, ranked):  # noqa: F811
    now = timezone.now()
    cases = {name: make_draft(network, patient_user) for name in
             ("breach", "soon", "later", "expiring", "fresh", "escalated", "override")}
    for name in ("breach", "soon", "later"):
        accepted(walker, cases[name])
    Case.objects.filter(pk=cases["breach"].pk).update(review_due_at=now - timedelta(hours=1))
    Case.objects.filter(pk=cases["soon"].pk).update(review_due_at=now + timedelta(hours=2))
    for name in ("expiring", "fresh"):
        offer(coordinator, triaged(walker, cases[name]), walker.specialist, reason="First pick")
    Offer.objects.filter(case=cases["expiring"]).update(expires_at=now + timedelta(minutes=10))
    triaged(walker, cases["escalated"])
    Case.objects.filter(pk=cases["escalated"].pk).update(escalated_at=now)
    offer(coordinator, triaged(walker, cases["override"]), ranked[2], reason="Speaks Tagalog with the family")
    return cases


def test_queue_shows_breaches_due_soon_expiring_offers_escalations_and_overrides(client, login, coordinator,
                                                                                 queue_cases):
    ref = {name: case.reference for name, case in queue_cases.items()}
    response = login(client, coordinator).get(reverse("cases:queue"))
    assert response.status_code == 200
    sections = _sections(response.content.decode())
    assert ref["breach"] in sections["sla-breaches"] and "overdue by" in sections["sla-breaches"]
    assert ref["soon"] in sections["sla-due-soon"] and ref["breach"] not in sections["sla-due-soon"]
    assert ref["expiring"] in sections["offers-expiring"] and ref["fresh"] not in sections["offers-expiring"]
    assert ref["escalated"] in sections["escalated"]
    assert ref["override"] in sections["overrides"] and "Speaks Tagalog with the family" in sections["overrides"]
    assert "Ada Heart" in sections["overrides"]  # the proposal that was overridden
    assert ref["later"] not in sections["sla-breaches"] + sections["sla-due-soon"]


def test_queue_alerts_are_audited_even_off_the_page(client, login, coordinator, queue_cases):
    login(client, coordinator).get(reverse("cases:queue") + "?status=closed")
    shown = set(AuditEvent.objects.filter(action="case.list").values_list("object_id", flat=True))
    assert {str(queue_cases[n].pk) for n in ("breach", "soon", "expiring", "escalated", "override")} <= shown


def test_queue_alerts_stay_in_the_coordinators_networks(client, login, other_coordinator, queue_cases):
    html = login(client, other_coordinator).get(reverse("cases:queue")).content.decode()
    assert 'id="attention"' not in html
    assert all(case.reference not in html for case in queue_cases.values())


def test_the_queue_reads_no_names_or_clinical_text(client, login, coordinator, queue_cases):
    """Minimum necessary: the queue and its alerts show references, urgency, status, region and specialists; no
    patient name, birth date or clinical text is read (or decrypted), and showing more alerts reads no more."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login(client, coordinator).get(reverse("cases:queue"))  # the session's first touch is written once
    with CaptureQueriesContext(connection) as first:
        html = client.get(reverse("cases:queue")).content.decode()
    assert queue_cases["breach"].reference in html and "Ada Heart" in html
    sql = " ".join(query["sql"] for query in first.captured_queries)
    for column in ("given_name", "family_name", "birth_date", "clinical_summary", "diagnosis_text",
                   "proposed_treatment"):
        assert column not in sql, column
    Case.objects.filter(pk=queue_cases["later"].pk).update(review_due_at=timezone.now() - timedelta(hours=3))
    with CaptureQueriesContext(connection) as second:
        sections = _sections(client.get(reverse("cases:queue")).content.decode())
    assert queue_cases["later"].reference in sections["sla-breaches"]
    assert len(second.captured_queries) == len(first.captured_queries)
