"""Re-triage: a coordinator changes the specialty of a triaged or offered case; the offer is withdrawn and the
reason kept as triage feedback."""

from __future__ import annotations

import pytest
from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.cases.models import StatusChange
from konsil.cases.services import transition
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.triage.models import TriageDecision

from ..api.conftest import API, token_client
from ..conftest import verified_login
from ..factories import make_specialist


def test_coordinator_retriages_an_offered_case(walker, draft_case, coordinator, specialist):
    case = walker.walk_to(draft_case, "offered")
    offer = case.offers.get(status="pending")
    case = transition(actor=coordinator, case=case, action="retriage", specialty="electrophysiology",
                      reason="The question is about the arrhythmia, not the stent")
    assert case.status == "triaged" and case.specialty_id == "electrophysiology"
    offer.refresh_from_db()
    assert offer.status == "withdrawn" and "arrhythmia" in offer.reason
    decision = TriageDecision.objects.filter(case=case).order_by("-created_at").first()
    assert decision.chosen_specialty_id == "electrophysiology" and "arrhythmia" in decision.reason
    assert decision.decided_by == coordinator
    change = StatusChange.objects.get(case=case, action="retriage")
    assert (change.from_status, change.to_status) == ("offered", "triaged")
    assert AuditEvent.objects.filter(action="case.retriage", outcome="success").exists()
    assert specialist.user.notifications.exists()


def test_retriage_a_triaged_case_clears_the_escalation(walker, draft_case, coordinator):
    case = walker.walk_to(draft_case, "triaged")
    case.escalated_at = case.updated_at
    case.save(update_fields=["escalated_at"])
    case = transition(actor=coordinator, case=case, action="retriage", specialty="cardiothoracic_surgery",
                      reason="Surgical question")
    assert case.specialty_id == "cardiothoracic_surgery" and case.escalated_at is None


@pytest.mark.parametrize("who", ["patient", "specialist"])
def test_only_coordinators_retriage(walker, draft_case, cast, who):
    case = walker.walk_to(draft_case, "offered")
    with pytest.raises(PermissionDenied):
        transition(actor=cast[who], case=case, action="retriage", specialty="neurology", reason="x")
    assert AuditEvent.objects.filter(action="case.retriage", outcome="denied").exists()


def test_retriage_is_illegal_before_triage_and_after_acceptance(walker, draft_case, coordinator):
    case = walker.walk_to(draft_case, "submitted")
    with pytest.raises(Conflict):
        transition(actor=coordinator, case=case, action="retriage", specialty="neurology", reason="x")
    case = walker.walk_to(case, "accepted")
    with pytest.raises(Conflict):
        transition(actor=coordinator, case=case, action="retriage", specialty="neurology", reason="x")


@pytest.mark.parametrize(("params", "fields"), [
    ({"specialty": "", "reason": "x"}, {"specialty"}),
    ({"specialty": "astrology", "reason": "x"}, {"specialty"}),
    ({"specialty": "cardiology", "reason": "x"}, {"specialty"}),  # the specialty it already has
    ({"specialty": "neurology", "reason": " "}, {"reason"}),
    ({}, {"specialty", "reason"}),
])
def test_bad_input_names_the_fields_and_changes_nothing(walker, draft_case, coordinator, params, fields):
    case = walker.walk_to(draft_case, "offered")
    with pytest.raises(ValidationFailed) as err:
        transition(actor=coordinator, case=case, action="retriage", **params)
    assert set(err.value.as_dict()["errors"]) == fields
    case.refresh_from_db()
    assert case.status == "offered" and case.specialty_id == "cardiology"
    assert case.offers.filter(status="pending").count() == 1


def test_api_retriage_and_field_errors(walker, draft_case, coordinator):
    case = walker.walk_to(draft_case, "offered")
    client = token_client(coordinator)
    url = f"{API}/cases/{case.pk}/transitions/"
    bad = client.post(url, {"action": "retriage", "specialty": "nope", "reason": "x"}, format="json")
    assert bad.status_code == 400 and "specialty" in bad.json()["errors"]
    ok = client.post(url, {"action": "retriage", "specialty": "neurology", "reason": "Neurological question"},
                     format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["status"] == "triaged" and ok.json()["specialty"] == "neurology"


def test_page_offers_retriage_and_shows_errors(client, walker, draft_case, coordinator, network):
    make_specialist(network, specialty="neurology", first_name="Nora")
    case = walker.walk_to(draft_case, "offered")
    verified_login(client, coordinator)
    page = client.get(reverse("cases:detail", kwargs={"pk": case.pk}))
    assert b'id="action-retriage"' in page.content
    url = reverse("cases:transition", kwargs={"pk": case.pk, "action": "retriage"})
    bad = client.post(url, {"specialty": "neurology", "reason": ""})
    assert bad.status_code in (200, 400) and "This field is required." in bad.content.decode()
    client.post(url, {"specialty": "neurology", "reason": "Neurological question"})
    case.refresh_from_db()
    assert case.status == "triaged" and case.specialty_id == "neurology"


def test_after_a_change_the_form_starts_from_the_new_specialty(client, walker, draft_case, coordinator, network):
    """The proposal said cardiology; once a coordinator changed it, "Change specialty" shows the current one."""
    import re

    from konsil.triage.services import propose

    case = walker.walk_to(draft_case, "triaged")
    propose(case=case)
    transition(actor=coordinator, case=case, action="retriage", specialty="neurology", reason="A neurological question")
    verified_login(client, coordinator)
    page = client.get(reverse("cases:detail", kwargs={"pk": case.pk})).content.decode()
    form = page[page.index('id="action-retriage"'):]
    form = form[:form.index("</form>")]
    assert re.search(r'<option value="neurology"[^>]*selected', form), "the current specialty is preselected"
    assert not re.search(r'<option value="cardiology"[^>]*selected', form)
