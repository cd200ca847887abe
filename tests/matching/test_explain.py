"""When nobody is eligible, the page and the API say why for the nearest candidates and offer the ways out."""

from __future__ import annotations

import pytest
from django.urls import reverse

from konsil.accounts.models import Membership
from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases.services import transition
from konsil.matching import routing

from ..api.conftest import API, token_client
from ..conftest import verified_login
from ..factories import make_specialist


@pytest.fixture
def stuck(walker, draft_case, coordinator, network):
    """A nephrology case of a patient in CA (patient channel): one nephrologist licensed in NY only, one in CA who
    speaks only French, and a neighbouring network with an eligible nephrologist."""
    make_specialist(network, specialty="nephrology", states=("NY",), first_name="Nils", last_name="York")
    make_specialist(network, specialty="nephrology", states=("CA",), languages=("fr",), first_name="Fleur",
                    last_name="Franc")
    case = walker.walk_to(draft_case, "submitted")
    return transition(actor=coordinator, case=case, action="triage", specialty="nephrology", urgency="routine")


def test_explanation_names_the_failed_constraint_of_the_nearest(stuck, coordinator):
    why = routing.explain(stuck, coordinator)
    assert why["eligible"] == 0
    failed = {c["name"]: {f["constraint"] for f in c["failed"]} for c in why["nearest"]}
    assert failed["Nils York"] == {"licence"}
    assert failed["Fleur Franc"] == {"language"}
    assert any(name != "Nils York" and "specialty" in f for name, f in failed.items())  # the cardiologist
    ways = {w["way"]: w for w in why["ways_out"]}
    assert ways["consult_path"]["eligible"] == 1
    assert ways["interpreter"]["eligible"] == 1
    assert {"panel", "escalate"} <= set(ways)
    assert "related_specialty" not in ways  # nephrology has no neighbour in the catalog


def test_related_specialty_and_other_network(walker, draft_case, coordinator, network, other_network):
    make_specialist(network, specialty="hematology", states=("CA",), first_name="Hema")
    Membership.objects.create(user=coordinator, organization=other_network, role=Role.COORDINATOR)
    make_specialist(other_network, specialty="hematology_oncology", states=("CA",), first_name="Otto")
    case = walker.walk_to(draft_case, "submitted")
    case = transition(actor=coordinator, case=case, action="triage", specialty="hematology_oncology",
                      urgency="routine")
    why = routing.explain(case, coordinator)
    ways = {w["way"]: w for w in why["ways_out"]}
    assert why["eligible"] == 0
    assert ways["related_specialty"]["specialty"] == "hematology"  # same NUCC group, 207RH0
    assert ways["related_specialty"]["action"] == "retriage"
    assert ways["other_network"]["network"] == str(other_network.pk) and ways["other_network"]["eligible"] == 1
    case = transition(actor=coordinator, case=case, action=ways["related_specialty"]["action"],
                      reason="Hematology can answer", **ways["related_specialty"]["params"])
    assert routing.explain(case, coordinator)["eligible"] == 1


def test_a_breast_oncologist_takes_a_hem_onc_case_by_the_fallback(walker, draft_case, coordinator, network):
    make_specialist(network, specialty="breast_oncology", states=("CA",), first_name="Bea")
    case = walker.walk_to(draft_case, "submitted")
    case = transition(actor=coordinator, case=case, action="triage", specialty="hematology_oncology",
                      urgency="routine")
    why = routing.explain(case, coordinator)
    assert why == {"eligible": 1, "fallback_from": "hematology_oncology", "nearest": [], "ways_out": [],
                   "routing": None}


def test_api_eligibility_and_ways_out(stuck, coordinator, patient_user):
    client = token_client(coordinator)
    url = f"{API}/cases/{stuck.pk}/eligibility/"
    body = client.get(url).json()
    assert body["eligible"] == 0 and body["nearest"][0]["failed"][0]["constraint"]
    assert {w["way"] for w in body["ways_out"]} >= {"consult_path", "interpreter", "panel", "escalate"}
    assert AuditEvent.objects.filter(action="matching.eligibility", object_id=str(stuck.pk)).exists()
    ways = f"{API}/cases/{stuck.pk}/ways-out/"
    bad = client.post(ways, {"way": "teleport"}, format="json")
    assert bad.status_code == 400 and "way" in bad.json()["errors"]
    unnamed = client.post(ways, {"way": "consult_path"}, format="json")
    assert unnamed.status_code == 400 and "treating_physician" in unnamed.json()["errors"]
    ok = client.post(ways, {"way": "interpreter"}, format="json")
    assert ok.status_code == 200 and ok.json()["eligible"] == 1
    stuck.refresh_from_db()
    assert stuck.interpreter_needed
    assert token_client(patient_user).get(url).status_code in (403, 404)


def test_consult_path_makes_the_out_of_state_specialist_eligible(stuck, coordinator):
    stuck.treating_physician = "Dr. Local"
    stuck.save()
    case = routing.take_way_out(actor=coordinator, case=stuck, way="consult_path")
    assert case.channel == "clinician"
    assert routing.explain(case, coordinator)["eligible"] == 1


def test_escalate_alerts_the_coordinators(stuck, coordinator):
    case = routing.take_way_out(actor=coordinator, case=stuck, way="escalate")
    assert case.escalated_at is not None
    assert "escalate" not in {w["way"] for w in routing.explain(case, coordinator)["ways_out"]}


def test_page_shows_why_and_the_ways_out(client, stuck, coordinator):
    verified_login(client, coordinator)
    page = client.get(reverse("cases:detail", kwargs={"pk": stuck.pk})).content.decode()
    assert 'id="nobody-eligible"' in page and 'data-constraint="licence"' in page
    for way in ("consult_path", "interpreter", "panel", "escalate"):
        assert f'data-way="{way}"' in page
    response = client.post(reverse("matching:way_out", kwargs={"pk": stuck.pk, "way": "interpreter"}))
    assert response.status_code == 302
    stuck.refresh_from_db()
    assert stuck.interpreter_needed
    page = client.get(reverse("cases:detail", kwargs={"pk": stuck.pk})).content.decode()
    assert "Fleur Franc" in page and 'id="nobody-eligible"' not in page
    bad = client.post(reverse("matching:way_out", kwargs={"pk": stuck.pk, "way": "interpreter"}), follow=True)
    assert "already requested" in bad.content.decode()
