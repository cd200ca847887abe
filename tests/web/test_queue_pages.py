"""The coordinator's queue, notifications and the payer/employer program page."""

from __future__ import annotations

import re

from konsil.cases.models import Notification
from konsil.cases.services import transition

from ..factories import make_draft, make_user
from .conftest import events, url


def references(body: str) -> list[str]:
    return re.findall(r">(K-[0-9A-F]{8})</a>", body)


# --- queue --------------------------------------------------------------------------------------------------

def test_queue_lists_network_cases_stat_first_with_counts(client, login, coordinator, patient_user, network,
                                                          other_network, walker):
    routine = walker.walk_to(make_draft(network, patient_user), "submitted")
    stat = walker.walk_to(make_draft(network, patient_user, urgency="stat"), "submitted")
    urgent = walker.walk_to(make_draft(network, patient_user, urgency="urgent"), "submitted")
    draft = make_draft(network, patient_user)
    foreign = make_draft(other_network, make_user("patient", other_network))
    login(client, coordinator)
    response = client.get(url("cases:queue"))
    assert response.status_code == 200
    body = response.content.decode()
    assert references(body) == [stat.reference, urgent.reference, routine.reference]
    assert draft.reference not in body  # drafts are not open
    assert foreign.reference not in body  # another network's
    assert re.search(r'data-status="submitted"[^>]*>[^<]*<span class="count">3</span>', body)
    assert re.search(r'data-status="draft"[^>]*>[^<]*<span class="count">1</span>', body)
    assert events("case.list", actor=coordinator).count() == 3


def test_delivered_cases_come_after_every_case_in_work(client, login, coordinator, patient_user, network, walker):
    """The queue opens on the cases in work: a delivered case waits for the patient (who closes it), not the care
    team. Open adds it, after a new routine submission even when it was STAT."""
    delivered = walker.walk_to(make_draft(network, patient_user, urgency="stat"), "delivered")
    routine = walker.walk_to(make_draft(network, patient_user), "submitted")
    login(client, coordinator)
    body = client.get(url("cases:queue")).content.decode()
    assert references(body) == [routine.reference]
    assert re.search(r'data-status="in_work" aria-current="true">In work <span class="count">1</span>', body)
    assert re.search(r'data-status="open">Open <span class="count">2</span>', body)
    assert 'id="in-work-note"' in body
    assert references(client.get(url("cases:queue"), {"status": "open"}).content.decode()) == [
        routine.reference, delivered.reference]
    assert references(client.get(url("cases:queue"), {"status": "delivered"}).content.decode()) == [
        delivered.reference]
    body = client.get(url("cases:queue"), {"status": "bogus"}).content.decode()  # a bad filter: in work, said so
    assert references(body) == [routine.reference] and "Select a valid choice" in body


def test_queue_pages_through_more_cases_than_one_page(client, login, coordinator, patient_user, network):
    """The queue as it opens reads its first page prepared and counts it from the status counts: the pages
    together list every case in work once, in the queue's order, with the same pager as a filtered queue."""
    from django.utils import timezone

    from konsil.cases.models import Case
    from konsil.cases.selectors import QUEUE_PAGE, coordinated_cases, in_queue_order

    drafts = [make_draft(network, patient_user, urgency=("routine", "urgent", "stat")[i % 3])
              for i in range(QUEUE_PAGE + 3)]
    now = timezone.now()
    for i, case in enumerate(drafts):  # submitted at distinct moments, one delivered: not in work
        Case.objects.filter(pk=case.pk).update(status="delivered" if i == 7 else "submitted",
                                               submitted_at=now - timezone.timedelta(minutes=i))
    login(client, coordinator)
    expected = list(in_queue_order(coordinated_cases(coordinator).exclude(status="delivered")).values_list(
        "reference", flat=True))
    first = client.get(url("cases:queue")).content.decode()
    second = client.get(url("cases:queue"), {"page": 2}).content.decode()
    assert references(first) + references(second) == expected and len(expected) == QUEUE_PAGE + 2
    assert len(references(first)) == QUEUE_PAGE
    filtered = client.get(url("cases:queue"), {"status": "in_work", "q": "K-"}).content.decode()  # counted by SQL
    assert references(filtered) == references(first)
    assert "Page 1 of 2" in first and "Page 1 of 2" in filtered and "Page 2 of 2" in second
    assert references(client.get(url("cases:queue"), {"page": 9}).content.decode()) == references(second)


def test_specialty_names_read_in_the_readers_language(client, login, coordinator, patient_user, network, walker):
    """The catalog's specialty names on the queue (its rows and its filter) and the case page, in Spanish."""
    from django.conf import settings

    case = walker.walk_to(make_draft(network, patient_user), "triaged")
    login(client, coordinator)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    queue = client.get(url("cases:queue")).content.decode()
    assert ">Cardiología</td>" in queue and '<option value="cardiology">Cardiología</option>' in queue
    assert "<span>Cardiología</span>" in client.get(url("cases:detail", pk=case.pk)).content.decode()


def test_queue_filters(client, login, coordinator, patient_user, network, walker):
    triaged = walker.walk_to(make_draft(network, patient_user), "triaged")
    stat = walker.walk_to(make_draft(network, patient_user, urgency="stat"), "submitted")
    draft = make_draft(network, patient_user)
    login(client, coordinator)
    queue = url("cases:queue")
    assert references(client.get(queue, {"status": "triaged"}).content.decode()) == [triaged.reference]
    assert references(client.get(queue, {"urgency": "stat"}).content.decode()) == [stat.reference]
    assert references(client.get(queue, {"specialty": "cardiology"}).content.decode()) == [triaged.reference]
    assert references(client.get(queue, {"q": stat.reference.lower()}).content.decode()) == [stat.reference]
    assert draft.reference in client.get(queue, {"status": "all"}).content.decode()
    response = client.get(queue, {"status": "bogus", "urgency": "whenever"})
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()


def test_queue_requires_a_coordinator(client, login, patient_user, specialist, auditor):
    client.force_login(patient_user)
    assert client.get(url("cases:queue")).status_code == 403
    for user in (specialist.user, auditor):
        login(client, user)
        assert client.get(url("cases:queue")).status_code == 403


def test_queue_of_another_network_shows_nothing_of_ours(client, login, other_coordinator, walker, draft_case):
    case = walker.walk_to(draft_case, "submitted")
    login(client, other_coordinator)
    response = client.get(url("cases:queue"), {"status": "all"})
    assert response.status_code == 200 and case.reference not in response.content.decode()


# --- notifications ------------------------------------------------------------------------------------------

def test_notifications_render_in_the_readers_language_and_mark_read(client, patient_user, other_patient,
                                                                    walker, draft_case):
    case = walker.walk_to(draft_case, "triaged")
    client.force_login(patient_user)
    body = client.get(url("cases:notifications")).content.decode()
    assert f"Case {case.reference} was triaged and is being matched to a specialist." in body
    item = Notification.objects.filter(user=patient_user, case=case).first()
    assert url("cases:notification_open", pk=item.pk) in body
    body = client.get(url("cases:notifications"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'lang="es"' in body and case.reference in body

    response = client.post(url("cases:notifications"))
    assert response.status_code == 302
    assert not Notification.objects.filter(user=patient_user, read_at__isnull=True).exists()

    client.force_login(other_patient)
    assert case.reference not in client.get(url("cases:notifications")).content.decode()


def test_notifications_mark_read_touches_only_my_own(client, patient_user, coordinator, draft_case):
    transition(actor=patient_user, case=draft_case, action="submit")
    client.force_login(patient_user)
    client.post(url("cases:notifications"))
    assert Notification.objects.filter(user=coordinator, read_at__isnull=True).exists()


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(client, patient_user, walker, draft_case):
    case = walker.walk_to(draft_case, "triaged")
    client.force_login(patient_user)
    item = Notification.objects.get(user=patient_user, case=case)
    other = Notification.objects.create(user=patient_user, case=case, kind="triage_questions")
    response = client.get(url("cases:notification_open", pk=item.pk))
    assert response.status_code == 302 and response["Location"] == url("cases:detail", pk=case.pk)
    item.refresh_from_db()
    other.refresh_from_db()
    assert item.read_at is not None and other.read_at is None  # that one only
    read_at = item.read_at
    assert client.get(url("cases:notification_open", pk=item.pk)).status_code == 302  # again: still read, same time
    item.refresh_from_db()
    assert item.read_at == read_at
    body = client.get(url("cases:notifications")).content.decode()
    assert body.count('class="unread"') == Notification.objects.filter(user=patient_user, read_at=None).count() == 1
    response = client.get(url("cases:notification_open", pk=other.pk))
    assert response["Location"] == url("triage:questions", pk=case.pk)


def test_a_notification_without_a_page_returns_to_the_list(client, patient_user, draft_case):
    item = Notification.objects.create(user=patient_user, case=draft_case, kind="panel_dissolved")
    client.force_login(patient_user)
    response = client.get(url("cases:notification_open", pk=item.pk))
    assert response.status_code == 302 and response["Location"] == url("cases:notifications")
    item.refresh_from_db()
    assert item.read_at is not None


def test_nobody_opens_another_users_notification(client, patient_user, other_patient, coordinator, draft_case):
    transition(actor=patient_user, case=draft_case, action="submit")
    theirs = Notification.objects.filter(user=coordinator).first()
    client.force_login(other_patient)
    assert client.get(url("cases:notification_open", pk=theirs.pk)).status_code == 404
    assert client.get("/cases/notifications/not-a-uuid/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    client.logout()
    response = client.get(url("cases:notification_open", pk=theirs.pk))
    assert response.status_code == 302 and "login" in response["Location"]


# --- payer / employer program -------------------------------------------------------------------------------

def test_program_page_shows_status_only(client, login, payer, payer_admin, walker, draft_case, network,
                                        patient_user):
    draft_case.sponsor = payer
    draft_case.save()
    case = walker.walk_to(draft_case, "triaged")
    unsponsored = make_draft(network, patient_user)
    login(client, payer_admin)
    response = client.get(url("cases:program"))
    assert response.status_code == 200
    body = response.content.decode()
    assert case.reference in body and "Triaged" in body and "Acme Health Plan" in body
    assert unsponsored.reference not in body
    for clinical in ("I25.10", "Atherosclerotic", "Do I need a stent?", "Coronary stent", "García"):
        assert clinical not in body, clinical
    assert url("cases:detail", pk=case.pk) not in body
    assert events("case.list_status", object_id=str(case.pk), actor=payer_admin).exists()


def test_program_page_refuses_other_roles(client, login, patient_user, coordinator):
    client.force_login(patient_user)
    assert client.get(url("cases:program")).status_code == 403
    login(client, coordinator)
    assert client.get(url("cases:program")).status_code == 403
