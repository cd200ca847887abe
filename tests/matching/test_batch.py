"""Batch assignment in the background: exact proposals with reasons, stored, turned into offers by coordinators."""

from __future__ import annotations

import pytest

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases.models import Case
from konsil.core.errors import Conflict, ValidationFailed
from konsil.matching import optimize, services, tasks
from konsil.matching.models import AssignmentRun, BatchProposal

from ..factories import OrganizationFactory, make_draft, make_specialist, make_user, set_identity


@pytest.fixture
def scene(network, walker, draft_case, other_case, specialist):
    """Two triaged cases; the better specialist (A) is the only one for the Spanish-speaking patient."""
    specialist.peer_review_score = 1.0
    specialist.capacity = 1
    specialist.save()
    b = make_specialist(network, specialty="cardiology", states=("CA",), languages=("en",), capacity=1)
    b.peer_review_score = 0.1
    b.save()
    english = walker.walk_to(draft_case, "triaged")
    set_identity(other_case, language="es")
    spanish = walker.walk_to(other_case, "triaged")
    Case.objects.filter(pk=spanish.pk).update(created_at=english.created_at.replace(year=english.created_at.year + 1))
    return {"a": specialist, "b": b, "english": english, "spanish": spanish}


def proposals(run) -> dict:
    return {p.case_id: p for p in run.proposals.all()}


def test_the_run_is_exact_not_greedy(network, scene):
    run = services.execute_run(run=AssignmentRun.objects.create(network=network))
    assert (run.state, run.cases, run.assigned) == ("done", 2, 2)
    found = proposals(run)
    assert found[scene["english"].pk].specialist == scene["b"]
    assert found[scene["spanish"].pk].specialist == scene["a"]
    assert "speaks the patient's language (es)" in found[scene["spanish"].pk].reasons
    assert found[scene["english"].pk].factors and 0 < found[scene["english"].pk].score <= 1
    # case by case, the English case takes A first and the Spanish case is left without anyone
    from konsil.matching import inputs, selectors

    cases = [inputs.case_record(scene["english"]), inputs.case_record(scene["spanish"])]
    index = optimize.SpecialistIndex([inputs.specialist_record(s) for s in selectors.network_specialists(network)])
    assert optimize.greedy(cases, index).assigned == 1
    assert AuditEvent.objects.filter(action="matching.batch_proposal", patient_id=scene["spanish"].patient_id).exists()


def test_a_case_nobody_can_take_is_explained(network, scene, patient_user):
    set_identity(scene["english"], language="ko")
    run = services.execute_run(run=AssignmentRun.objects.create(network=network))
    nobody = proposals(run)[scene["english"].pk]
    assert nobody.specialist is None and nobody.score is None
    assert "no specialist meets every hard constraint" in nobody.reasons


def test_a_run_is_idempotent_and_supersedes_older_proposals(network, scene):
    first = services.execute_run(run=AssignmentRun.objects.create(network=network))
    assert services.execute_run(run=first).proposals.count() == 2  # a retried task changes nothing
    second = services.execute_run(run=AssignmentRun.objects.create(network=network))
    assert set(first.proposals.values_list("state", flat=True)) == {"superseded"}
    assert set(second.proposals.values_list("state", flat=True)) == {"proposed"}


def test_offering_a_proposal_goes_through_the_lifecycle(network, scene, coordinator):
    run = services.execute_run(run=AssignmentRun.objects.create(network=network))
    proposal = proposals(run)[scene["spanish"].pk]
    case = services.offer_proposal(actor=coordinator, proposal=proposal)
    assert case.status == "offered" and case.offers.get().specialist == scene["a"]
    proposal.refresh_from_db()
    assert (proposal.state, proposal.offered_by) == ("offered", coordinator)
    with pytest.raises(Conflict):
        services.offer_proposal(actor=coordinator, proposal=proposal)
    again = services.execute_run(run=AssignmentRun.objects.create(network=network))
    assert set(again.proposals.values_list("case", flat=True)) == {scene["english"].pk}  # offered cases wait


def test_on_demand_runs_in_the_background(network, scene, coordinator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.request_batch(actor=coordinator, network=network)
    run.refresh_from_db()
    assert run.state == "done" and run.trigger == "manual" and run.assigned == 2
    services.request_batch(actor=coordinator, network=network)  # queued, not yet run
    with pytest.raises(Conflict):
        services.request_batch(actor=coordinator, network=network)
    with pytest.raises(ValidationFailed):
        services.request_batch(actor=coordinator, network=OrganizationFactory(kind="payer"))


def test_the_schedule_runs_networks_with_pending_cases(network, other_network, scene):
    tasks.run_batch_assignments.enqueue()
    assert list(AssignmentRun.objects.values_list("network", "state", "trigger")) == [
        (network.pk, "done", "schedule")]


def test_the_batch_page(client, login, network, scene, coordinator):
    login(client, coordinator)
    page = client.get("/matching/batch/")
    assert page.status_code == 200 and b"2 triaged cases wait for an offer" in page.content
    response = client.post("/matching/batch/run/", {"network": network.pk})
    assert response.status_code == 302 and AssignmentRun.objects.filter(state="queued").count() == 1
    response = client.post("/matching/batch/run/", {"network": network.pk}, follow=True)
    assert b"already queued" in response.content
    run = services.execute_run(run=AssignmentRun.objects.get(state="queued"))
    page = client.get(f"/matching/batch/?network={network.pk}")
    assert scene["english"].reference.encode() in page.content
    proposal = proposals(run)[scene["english"].pk]
    response = client.post(f"/matching/batch/proposals/{proposal.pk}/offer/", follow=True)
    assert b"was offered" in response.content
    assert Case.objects.get(pk=scene["english"].pk).status == "offered"
    assert client.get("/matching/batch/?network=not-a-uuid").status_code == 404


def test_the_batch_page_is_for_the_network_coordinators(client, login, network, other_network, scene, patient_user):
    run = services.execute_run(run=AssignmentRun.objects.create(network=network))
    client.force_login(patient_user)
    assert client.get("/matching/batch/").status_code == 403
    login(client, make_user(Role.COORDINATOR, other_network))
    proposal = next(iter(proposals(run).values()))
    assert client.post(f"/matching/batch/proposals/{proposal.pk}/offer/").status_code == 404
    assert client.post("/matching/batch/run/", {"network": network.pk}).status_code == 404
    assert BatchProposal.objects.filter(state="offered").count() == 0
    assert client.get("/matching/batch/run/").status_code == 405


def test_an_unoffered_case_of_another_status_is_not_batched(network, scene, patient_user):
    make_draft(network, patient_user, questions=("draft",), specialty_id="cardiology")
    assert services.pending_cases(network).count() == 2


def test_a_failing_run_is_marked_failed(network, scene, monkeypatch):
    run = AssignmentRun.objects.create(network=network)

    def boom(**_kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(services, "execute_run", boom)
    with pytest.raises(RuntimeError):
        tasks.run_batch_assignment.call(str(run.pk))
    run.refresh_from_db()
    assert run.state == "failed" and "solver exploded" in run.error
    tasks.run_batch_assignment.call("00000000-0000-0000-0000-000000000000")  # an unknown run: nothing to do


def test_a_run_the_worker_lost_does_not_block_new_requests(network, coordinator):
    import datetime as dt

    from django.utils import timezone

    from konsil.matching import services
    from konsil.matching.models import AssignmentRun

    lost = AssignmentRun.objects.create(network=network, trigger="manual", requested_by=coordinator)
    AssignmentRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    run = services.request_batch(actor=coordinator, network=network)
    lost.refresh_from_db()
    assert lost.state == AssignmentRun.State.FAILED and run.pk != lost.pk
