"""Eligibility follows the catalog's hierarchy everywhere: a subspecialist takes cases of their parent specialty,
and a case of a subspecialty goes to the parent specialty when no subspecialist is eligible (said so)."""

from __future__ import annotations

import io
import json

import pytest

from konsil.cases.services import transition
from konsil.matching import commands, optimize, ranking, scoring, selectors, services
from konsil.matching.models import AssignmentRun, BatchProposal

from ..factories import make_specialist


def test_may_take_is_the_specialty_and_everything_under_it():
    assert scoring.may_take("medical_oncology") >= {"medical_oncology", "breast_oncology", "hematology_oncology"}
    assert scoring.may_take("breast_oncology") == {"breast_oncology"}
    assert scoring.may_take("hematology_oncology", fallback=True) >= {"medical_oncology", "breast_oncology"}
    assert scoring.fallback_specialty("hematology_oncology") == "medical_oncology"
    assert scoring.fallback_specialty("medical_oncology") is None
    assert scoring.may_take(None) == frozenset()


def _triaged(walker, case, coordinator, specialty):
    case = walker.walk_to(case, "submitted")
    return transition(actor=coordinator, case=case, action="triage", specialty=specialty, urgency="routine")


@pytest.fixture
def breast(network):
    return make_specialist(network, specialty="breast_oncology", states=("CA",), first_name="Bea", last_name="Breast")


def test_subspecialist_takes_a_case_of_the_parent_specialty(walker, draft_case, coordinator, breast):
    case = _triaged(walker, draft_case, coordinator, "medical_oncology")
    ranked = ranking.rank(case)
    assert [r.specialist for r in ranked] == [breast]
    assert ranked[0].fallback_from is None
    assert selectors.ineligibility(case, breast.pk) is None
    assert breast in selectors.directory(network=case.network, specialty="medical_oncology")


def test_subspecialty_case_falls_back_to_the_parent_when_no_subspecialist_is_eligible(
        walker, draft_case, coordinator, network, breast):
    hemonc_ny = make_specialist(network, specialty="hematology_oncology", states=("NY",), first_name="Hal")
    case = _triaged(walker, draft_case, coordinator, "hematology_oncology")  # a patient in CA
    ranked = ranking.rank(case)
    assert [r.specialist for r in ranked] == [breast]
    assert ranked[0].fallback_from == "hematology_oncology"
    assert any("parent specialty" in str(x) and "Medical Oncology" in str(x) for x in ranked[0].reasons)
    assert selectors.ineligibility(case, breast.pk) is None
    assert "license" in selectors.ineligibility(case, hemonc_ny.pk)
    case = transition(actor=coordinator, case=case, action="offer", specialist=str(breast.pk))
    assert case.status == "offered"


def test_no_fallback_while_a_subspecialist_is_eligible(walker, draft_case, coordinator, network, breast):
    hemonc = make_specialist(network, specialty="hematology_oncology", states=("CA",), first_name="Hal")
    case = _triaged(walker, draft_case, coordinator, "hematology_oncology")
    assert [r.specialist for r in ranking.rank(case)] == [hemonc]
    assert selectors.ineligibility(case, breast.pk) == "This specialist does not practise the case's specialty."
    assert not ranking.falls_back(case)


def test_batch_falls_back_too_and_says_so(walker, draft_case, coordinator, network, breast):
    _triaged(walker, draft_case, coordinator, "hematology_oncology")
    run = AssignmentRun.objects.create(network=network, trigger="manual")
    services.execute_run(run=run)
    proposal = BatchProposal.objects.get(run=run)
    assert proposal.specialist == breast
    assert any("parent specialty" in r for r in proposal.reasons)


def _spec(sid, codes, states=("CA",)):
    return scoring.parse_specialist({"id": sid, "specialties": list(codes), "licensed_states": list(states),
                                     "languages": ["en"], "capacity": 3, "turnaround_hours": 48})


def _case(cid, specialty):
    return scoring.parse_case({"id": cid, "specialty": specialty, "state": "CA", "language": "en",
                               "channel": "patient", "urgency": "routine"})


def test_pure_assignment_falls_back_only_when_needed():
    index = optimize.SpecialistIndex([_spec("b", ["breast_oncology"]), _spec("h", ["hematology_oncology"], ["NY"])])
    moved, = optimize.with_fallback([_case("c1", "hematology_oncology")], index)
    assert moved["specialty"] == "medical_oncology" and moved["fallback_from"] == "hematology_oncology"
    kept, = optimize.with_fallback([_case("c2", "breast_oncology")], index)
    assert kept["specialty"] == "breast_oncology" and "fallback_from" not in kept
    nowhere, = optimize.with_fallback([_case("c3", "cardiology")], index)  # no parent: stays, unassigned
    assert nowhere["specialty"] == "cardiology"


def test_assign_command_explains_the_fallback(tmp_path):
    cases = tmp_path / "cases.jsonl"
    specs = tmp_path / "specs.jsonl"
    cases.write_text(json.dumps({"id": "c1", "specialty": "hematology_oncology", "state": "CA", "language": "en",
                                 "channel": "patient", "urgency": "routine"}) + "\n")
    specs.write_text(json.dumps({"id": "b", "specialties": ["breast_oncology"], "licensed_states": ["CA"],
                                 "languages": ["en"], "capacity": 2, "turnaround_hours": 48}) + "\n")
    out, err = io.StringIO(), io.StringIO()
    assert commands.assign(cases, specs, out, err) == 0
    first = json.loads(out.getvalue().splitlines()[0])
    assert first["specialist_id"] == "b"
    assert any("parent specialty" in r for r in first["reasons"])


def test_candidates_api_says_the_case_fell_back(walker, draft_case, coordinator, breast):
    from ..api.conftest import API, token_client

    case = _triaged(walker, draft_case, coordinator, "hematology_oncology")
    body = token_client(coordinator).get(f"{API}/cases/{case.pk}/candidates/").json()
    assert [c["specialist"]["id"] for c in body] == [str(breast.pk)]
    assert body[0]["fallback_from"] == "hematology_oncology"
    assert any("parent specialty" in r for r in body[0]["reasons"])
