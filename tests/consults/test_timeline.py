"""Consult steps on the case timeline: booked, moved, cancelled (late), no-show, held, notes; shown to those who may
see the case's consults, with no contact details and no note text."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from konsil.cases.models import EmergencyAccess
from konsil.consults import services
from konsil.consults.models import Consult, ConsultEvent

from ..conftest import verified_login
from ..factories import make_specialist

pytestmark = pytest.mark.django_db

PHONE = "+1 555 010 0177"


def _timeline(client, case) -> str:
    page = client.get(reverse("cases:detail", kwargs={"pk": case.pk}))
    assert page.status_code == 200
    html = page.content.decode()
    return html[html.index('id="timeline-h"'):]


def _start_now(consult):
    now = timezone.now()
    Consult.objects.filter(pk=consult.pk).update(starts_at=now, ends_at=now + dt.timedelta(minutes=30))
    consult.refresh_from_db()
    return consult


def test_booked_moved_cancelled_in_order_without_the_phone_number(client, delivered_case, patient_user,
                                                                  coordinator):
    free = services.open_slots(delivered_case.assigned_specialist)
    consult = services.book(actor=patient_user, case=delivered_case, mode="phone", starts_at=free[-2].starts_at,
                            patient_phone=PHONE)
    services.reschedule(actor=patient_user, consult=consult, starts_at=free[-1].starts_at)
    services.cancel(actor=patient_user, consult=consult, reason="Feeling better")
    assert list(ConsultEvent.objects.values_list("kind", flat=True)) == ["booked", "moved", "cancelled"]
    for user in (patient_user, coordinator, consult.specialist.user):
        verified_login(client, user)
        timeline = _timeline(client, delivered_case)
        booked, moved = timeline.index("Consult booked"), timeline.index("Consult moved")
        assert booked < moved < timeline.index("Consult cancelled")
        assert 'data-kind="consult.cancelled"' in timeline and "Phone" in timeline
        assert PHONE not in timeline and "Feeling better" not in timeline
        assert reverse("consults:detail", kwargs={"pk": consult.pk}) in timeline


def test_no_show_held_and_notes_on_the_timeline_but_not_the_notes_text(client, delivered_case, patient_user):
    free = services.open_slots(delivered_case.assigned_specialist)
    first = _start_now(services.book(actor=patient_user, case=delivered_case, mode="video",
                                     starts_at=free[0].starts_at))
    specialist_user = first.specialist.user
    services.record_attendance(actor=specialist_user, consult=first, held=False, no_show_party="patient")
    second = _start_now(services.book(actor=patient_user, case=delivered_case, mode="video",
                                      starts_at=free[1].starts_at))
    services.add_note(actor=specialist_user, consult=second, body="Secret clinical words", opinion_changed=True)
    assert list(ConsultEvent.objects.values_list("kind", flat=True)) == ["booked", "no_show", "booked", "held",
                                                                           "note"]
    client.force_login(patient_user)
    timeline = _timeline(client, delivered_case)
    assert "The patient&#x27;s side did not come" in timeline or "The patient's side did not come" in timeline
    assert "Consult held" in timeline and "Consult notes written" in timeline
    assert "The opinion changes after this consult" in timeline
    assert "Secret clinical words" not in timeline


def test_late_cancellation_is_its_own_step(client, delivered_case, patient_user):
    consult = services.book(actor=patient_user, case=delivered_case, mode="video",
                            starts_at=services.open_slots(delivered_case.assigned_specialist)[0].starts_at)
    soon = timezone.now() + dt.timedelta(hours=1)
    Consult.objects.filter(pk=consult.pk).update(starts_at=soon, ends_at=soon + dt.timedelta(minutes=30))
    consult.refresh_from_db()
    services.cancel(actor=patient_user, consult=consult)
    client.force_login(patient_user)
    assert 'data-kind="consult.late_cancelled"' in _timeline(client, delivered_case)


def test_a_refused_step_leaves_no_timeline_row(delivered_case, patient_user):
    from konsil.core.errors import DomainError

    with pytest.raises(DomainError):
        services.book(actor=patient_user, case=delivered_case, mode="video", starts_at="2020-01-01T10:00:00+00:00")
    assert not ConsultEvent.objects.exists()


def test_readers_without_consult_access_see_no_consult_steps(client, delivered_case, patient_user, network):
    consult = services.book(actor=patient_user, case=delivered_case, mode="phone", patient_phone=PHONE,
                            starts_at=services.open_slots(delivered_case.assigned_specialist)[0].starts_at)
    bystander = make_specialist(network, specialty="cardiology", states=("NY",)).user
    EmergencyAccess.objects.create(case=delivered_case, user=bystander, reason="Unconscious in the ED, no records",
                                   expires_at=timezone.now() + dt.timedelta(minutes=30))
    verified_login(client, bystander)
    timeline = _timeline(client, delivered_case)
    assert "Consult booked" not in timeline and 'data-kind="consult.' not in timeline
    assert reverse("consults:detail", kwargs={"pk": consult.pk}) not in timeline
    assert "Delivered" in timeline  # the status changes are still there


def test_consults_booked_before_the_timeline_get_their_known_steps(delivered_case, patient_user):
    import importlib

    from django.apps import apps

    backfill = importlib.import_module("konsil.consults.migrations.0003_timeline_events").backfill
    free = services.open_slots(delivered_case.assigned_specialist)
    held = _start_now(services.book(actor=patient_user, case=delivered_case, mode="video",
                                    starts_at=free[0].starts_at))
    services.add_note(actor=held.specialist.user, consult=held, body="Notes", opinion_changed=True)
    cancelled = services.book(actor=patient_user, case=delivered_case, mode="video", starts_at=free[-1].starts_at)
    services.cancel(actor=patient_user, consult=cancelled)
    ConsultEvent.objects.all().delete()
    backfill(apps, None)
    steps = sorted(ConsultEvent.objects.values_list("consult_id", "kind", "opinion_changed"))
    assert sorted(steps) == sorted([(held.pk, "booked", False), (held.pk, "held", False), (held.pk, "note", True),
                                    (cancelled.pk, "booked", False), (cancelled.pk, "cancelled", False)])
    booked = ConsultEvent.objects.get(consult=cancelled, kind="booked")
    assert booked.created_at == Consult.objects.get(pk=cancelled.pk).created_at
