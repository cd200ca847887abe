"""Ways out that move a case on: referral to another network of the coordinator's, and auto-routing again after a
coordinator changed the specialty (the case is offered afresh when the network routes automatically)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from konsil.accounts.models import Membership
from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases.models import Notification
from konsil.cases.services import transition
from konsil.core.errors import ValidationFailed
from konsil.matching import routing
from konsil.matching.models import RoutingOutcome, RoutingSetting

from ..api.conftest import API, token_client
from ..conftest import verified_login
from ..factories import make_specialist


@pytest.fixture
def stuck_hemonc(walker, draft_case, coordinator, network, other_network):
    """A hem/onc case nobody in its network can take; the coordinator also coordinates a network where Otto can."""
    Membership.objects.create(user=coordinator, organization=other_network, role=Role.COORDINATOR)
    otto = make_specialist(other_network, specialty="hematology_oncology", states=("CA",), first_name="Otto")
    case = walker.walk_to(draft_case, "submitted")
    case = transition(actor=coordinator, case=case, action="triage", specialty="hematology_oncology",
                      urgency="routine")
    return case, otto


def test_referral_to_another_network_moves_the_case_and_routes_it_there(
        stuck_hemonc, coordinator, other_network, django_capture_on_commit_callbacks):
    case, otto = stuck_hemonc
    RoutingSetting.objects.create(network=other_network, auto_route=True)
    way = {w["way"]: w for w in routing.explain(case, coordinator)["ways_out"]}["other_network"]
    assert way["action"] == "other_network" and way["params"] == {"network": str(other_network.pk)}
    with django_capture_on_commit_callbacks(execute=True):
        case = routing.take_way_out(actor=coordinator, case=case, way="other_network", network=way["network"],
                                    reason="Our network has no hem/onc licensed in CA")
    case.refresh_from_db()
    assert case.network_id == other_network.pk
    assert case.status == "offered" and case.offers.get(status="pending").specialist == otto
    assert RoutingOutcome.objects.filter(case=case, outcome="offered", specialist=otto).exists()
    event = AuditEvent.objects.get(action="matching.way_out.other_network", object_id=str(case.pk))
    assert event.detail["to_network"] == str(other_network.pk)
    assert Notification.objects.filter(case=case, kind="network_transfer", user=case.patient.user).exists()


def test_referral_without_auto_routing_waits_for_the_new_networks_coordinators(
        stuck_hemonc, coordinator, other_network, django_capture_on_commit_callbacks):
    case, _otto = stuck_hemonc
    with django_capture_on_commit_callbacks(execute=True):
        routing.take_way_out(actor=coordinator, case=case, way="other_network", network=str(other_network.pk))
    case.refresh_from_db()
    assert case.network_id == other_network.pk and case.status == "triaged"
    assert routing.explain(case, coordinator)["eligible"] == 1


def test_referral_refused_to_a_network_not_coordinated_or_without_anyone_eligible(
        stuck_hemonc, coordinator, network, other_network):
    case, otto = stuck_hemonc
    for bad in (None, "not-a-uuid", str(network.pk)):
        with pytest.raises(ValidationFailed) as err:
            routing.take_way_out(actor=coordinator, case=case, way="other_network", network=bad)
        assert err.value.field == "network"
    otto.delete()
    with pytest.raises(ValidationFailed, match="no eligible specialist"):
        routing.take_way_out(actor=coordinator, case=case, way="other_network", network=str(other_network.pk))
    case.refresh_from_db()
    assert case.network_id == network.pk  # nothing moved
    Membership.objects.filter(user=coordinator, organization=other_network).delete()
    with pytest.raises(ValidationFailed):
        routing.take_way_out(actor=coordinator, case=case, way="other_network", network=str(other_network.pk))


def test_api_referral_needs_the_network_field(stuck_hemonc, coordinator, other_network):
    case, _otto = stuck_hemonc
    client = token_client(coordinator)
    url = f"{API}/cases/{case.pk}/ways-out/"
    response = client.post(url, {"way": "other_network"}, format="json")
    assert response.status_code == 400 and "network" in str(response.json())
    response = client.post(url, {"way": "other_network", "network": str(other_network.pk)}, format="json")
    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.network_id == other_network.pk


def test_page_refers_the_case_with_the_networks_form(client, stuck_hemonc, coordinator, other_network):
    case, _otto = stuck_hemonc
    verified_login(client, coordinator)
    page = client.get(reverse("cases:detail", kwargs={"pk": case.pk})).content.decode()
    assert f'name="network" value="{other_network.pk}"' in page
    response = client.post(reverse("matching:way_out", kwargs={"pk": case.pk, "way": "other_network"}),
                           {"network": str(other_network.pk)}, follow=True)
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.network_id == other_network.pk


def test_retriage_in_an_auto_routing_network_offers_the_case_afresh(
        walker, draft_case, coordinator, network, django_capture_on_commit_callbacks):
    hema = make_specialist(network, specialty="hematology", states=("CA",), first_name="Hema")
    case = walker.walk_to(draft_case, "submitted")
    case = transition(actor=coordinator, case=case, action="triage", specialty="hematology_oncology",
                      urgency="routine")
    RoutingSetting.objects.create(network=network, auto_route=True)
    with django_capture_on_commit_callbacks(execute=True):
        case = transition(actor=coordinator, case=case, action="retriage", specialty="hematology",
                          reason="Hematology can answer")
    case.refresh_from_db()
    assert case.status == "offered" and case.offers.get(status="pending").specialist == hema
    assert routing.route_triaged(case_id=case.pk) is None  # idempotent: an offered case is left alone


def test_retriage_without_auto_routing_stays_with_the_coordinators(
        walker, draft_case, coordinator, network, django_capture_on_commit_callbacks):
    make_specialist(network, specialty="hematology", states=("CA",), first_name="Hema")
    case = walker.walk_to(draft_case, "submitted")
    case = transition(actor=coordinator, case=case, action="triage", specialty="hematology_oncology",
                      urgency="routine")
    with django_capture_on_commit_callbacks(execute=True):
        case = transition(actor=coordinator, case=case, action="retriage", specialty="hematology",
                          reason="Hematology can answer")
    case.refresh_from_db()
    assert case.status == "triaged"


def test_retriage_to_a_specialty_nobody_takes_goes_back_to_the_coordinators(
        walker, draft_case, coordinator, network, django_capture_on_commit_callbacks):
    case = walker.walk_to(draft_case, "submitted")
    case = transition(actor=coordinator, case=case, action="triage", specialty="hematology_oncology",
                      urgency="routine")
    RoutingSetting.objects.create(network=network, auto_route=True)
    with django_capture_on_commit_callbacks(execute=True):
        case = transition(actor=coordinator, case=case, action="retriage", specialty="nephrology",
                          reason="Kidney question")
    case.refresh_from_db()
    assert case.status == "triaged" and case.escalated_at is not None
    assert RoutingOutcome.objects.get(case=case).outcome == "coordinators"
