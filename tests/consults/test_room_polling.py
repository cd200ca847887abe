"""The room's poll is the hottest request Konsil serves (each side, about once a second): the two sides get the
consult and their side in one narrow query and the new signals in one more; nothing is written per poll."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from konsil.audit.models import AuditEvent
from konsil.consults import selectors, services
from konsil.consults.models import Consult, Signal

from ..conftest import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_consult(delivered_case, patient_user):
    start = services.open_slots(delivered_case.assigned_specialist)[0].starts_at
    consult = services.book(actor=patient_user, case=delivered_case, mode="video", starts_at=start.isoformat())
    now = timezone.now()
    Consult.objects.filter(pk=consult.pk).update(starts_at=now, ends_at=now + dt.timedelta(minutes=30))
    consult.refresh_from_db()
    return consult


def _domain_queries(queries) -> list[str]:
    """The poll's own queries (the middleware's session, user, MFA and role loads are every request's)."""
    return [q["sql"] for q in queries if "consults_" in q["sql"] or "cases_" in q["sql"]]


@pytest.mark.parametrize("side", ["patient", "specialist"])
def test_a_poll_reads_two_narrow_queries_and_writes_nothing(client, live_consult, patient_user, side):
    user = patient_user if side == "patient" else live_consult.specialist.user
    other = live_consult.specialist.user if side == "patient" else patient_user
    services.post_signal(user=other, consult=live_consult, kind="hello", payload={})
    verified_login(client, user)
    url = reverse("consults:signals", kwargs={"pk": live_consult.pk})
    client.get(url)  # warm: the session and the user are loaded once
    events = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as poll:
        response = client.get(url + "?after=0")
    assert response.status_code == 200 and [s["kind"] for s in response.json()["signals"]] == ["hello"]
    queries = _domain_queries(poll.captured_queries)
    assert len(queries) == 2, queries
    assert not any(q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
                   for q in poll.captured_queries), poll.captured_queries
    assert not any("encrypted" in q or "patient_phone" in q for q in queries)  # only the columns the room needs
    assert AuditEvent.objects.count() == events


def test_caregiver_checked_with_one_more_query_and_others_keep_404_or_403(client, live_consult, other_patient,
                                                                         coordinator):
    url = reverse("consults:signals", kwargs={"pk": live_consult.pk})
    assert selectors.room_party(coordinator, live_consult.pk) is None  # not a side: the full path decides
    assert selectors.room_party(other_patient, "not-a-uuid") is None
    verified_login(client, coordinator)
    assert client.get(url).status_code == 403
    client.force_login(other_patient)
    assert client.get(url).status_code == 404
    assert client.post(url, b'{"kind": "hello", "payload": {}}', content_type="application/json").status_code == 404
    assert not Signal.objects.exists()


def test_the_room_closes_on_the_fast_path_too(client, live_consult, patient_user):
    Consult.objects.filter(pk=live_consult.pk).update(status="cancelled")
    client.force_login(patient_user)
    response = client.get(reverse("consults:signals", kwargs={"pk": live_consult.pk}))
    assert response.status_code == 409 and response.json()["code"] == "room_closed"
