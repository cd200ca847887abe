"""The coordinators' follow-up queue, the cost table (sources and years; bad input named) and the specialists'
"what became of my opinions"."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.outcomes import services
from konsil.outcomes.models import CostEntry, FollowUp, Outcome

from ..conftest import verified_login

pytestmark = pytest.mark.django_db


def test_queue_lists_the_networks_follow_ups(client, delivered_case, coordinator, other_coordinator, patient_user):
    services.plan(delivered_case)
    verified_login(client, coordinator)
    page = client.get(reverse("outcomes:queue") + "?status=scheduled")
    assert page.status_code == 200 and page.content.decode().count(delivered_case.reference) == 4
    assert AuditEvent.objects.filter(action="followup.list").count() == 4
    verified_login(client, other_coordinator)
    assert delivered_case.reference not in client.get(reverse("outcomes:queue")).content.decode()
    client.force_login(patient_user)
    assert client.get(reverse("outcomes:queue")).status_code == 403


def test_cost_table_add_edit_and_bad_input(client, coordinator, patient_user):
    verified_login(client, coordinator)
    url = reverse("outcomes:costs")
    good = {"code": "27447", "description": "Total knee replacement", "amount": "30000", "currency": "usd",
            "source": "Hospital price transparency file", "source_url": "https://example.org/prices", "year": "2025"}
    assert client.post(url, good).status_code == 302
    entry = CostEntry.objects.get(code="27447")
    assert entry.currency == "USD" and entry.amount == Decimal("30000")
    for field, value in [("amount", "-5"), ("amount", "1e400"), ("amount", "lots"), ("year", "1200"),
                         ("year", "9" * 30), ("code", "ABCDEFG"), ("source", ""), ("source_url", "javascript:x"),
                         ("code", "2744ñ")]:
        response = client.post(url, {**good, "code": "99999" if field != "code" else value, field: value})
        assert response.status_code == 400, (field, value)
        assert f'id="id_{field}_error"' in response.content.decode(), (field, value)
    assert not CostEntry.objects.filter(code="99999").exists()
    edited = client.post(f"{url}?edit={entry.pk}", {**good, "amount": "28000"})
    assert edited.status_code == 302 and CostEntry.objects.get(pk=entry.pk).amount == Decimal("28000")
    client.force_login(patient_user)
    assert client.get(url).status_code == 403


def test_new_price_updates_the_estimates(delivered_case, coordinator):
    services.plan(delivered_case)
    follow_up = FollowUp.objects.get(case=delivered_case, respondent="physician", day=30)
    FollowUp.objects.filter(pk=follow_up.pk).update(status="sent")
    services.answer(follow_up_id=follow_up.pk, data={"followed": "yes", "diagnosis_changed": "no",
                                                     "plan_changed": "yes", "procedure": "changed", "status": "better"})
    assert Outcome.objects.get(case=delivered_case).cost_difference is None  # nothing to price yet
    for code, amount in (("92928", "15000"), ("93458", "4000")):
        services.save_cost(actor=coordinator, data={"code": code, "description": "x", "amount": amount,
                                                    "currency": "USD", "source": "Test", "year": "2025"})
    services.set_alternative(actor=coordinator, case=delivered_case, code="93458")
    assert Outcome.objects.get(case=delivered_case).cost_difference == Decimal("-11000.00")
    with pytest.raises(Exception):  # noqa: B017 - ValidationFailed
        services.set_alternative(actor=coordinator, case=delivered_case, code="<script>")


def test_specialist_sees_what_became_of_their_opinions(client, delivered_case, specialist, network):
    from tests.factories import make_specialist

    services.plan(delivered_case)
    follow_up = FollowUp.objects.get(case=delivered_case, respondent="patient", day=30)
    FollowUp.objects.filter(pk=follow_up.pk).update(status="sent")
    services.answer(follow_up_id=follow_up.pk, data={"followed": "yes", "diagnosis_changed": "no",
                                                     "plan_changed": "yes", "procedure": "avoided",
                                                     "status": "better", "nps": "10"})
    verified_login(client, specialist.user)
    page = client.get(reverse("outcomes:mine"))
    html = page.content.decode()
    assert page.status_code == 200 and delivered_case.reference in html and 'id="mine-table"' in html
    other = make_specialist(network, specialty="cardiology")
    verified_login(client, other.user)
    assert delivered_case.reference not in client.get(reverse("outcomes:mine")).content.decode()
