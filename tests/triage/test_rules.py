"""Rule-based triage: ICD-10-CM chapter and block to specialty; proposals and decisions."""

from __future__ import annotations

import pytest

from konsil.audit.models import AuditEvent
from konsil.core import icd10
from konsil.matching import catalog
from konsil.triage import engine, rules, services, tasks
from konsil.triage.models import TriageProposal

from ..factories import make_draft


@pytest.mark.parametrize(("code", "specialty"), [
    ("C50.911", "breast_oncology"), ("c50911", "breast_oncology"), ("I25.10", "interventional_cardiology"),
    ("M54.16", "spine_surgery"), ("I48.0", "electrophysiology"), ("I10", "cardiology"),
    ("J34.2", "otolaryngology"), ("J45.909", "pulmonology"), ("M17.11", "orthopedic_surgery"),
    ("M05.79", "rheumatology"), ("G89.29", "anesthesiology_pain"), ("G40.909", "neurology"),
    ("C4A.9", "dermatology"),  # C4A sits between C43 and C44 in the tabular list
])
def test_route(code, specialty):
    assert rules.route(code)[0] == specialty


def test_narrower_rules_win():
    assert rules.route("I25.10")[1].startswith("block")
    assert rules.route("I10")[1].startswith("ICD-10-CM chapter")


@pytest.mark.parametrize("code", ["NOPE", "", "C50-C50"])
def test_unrouted_codes(code):
    assert rules.route(code) is None


def test_every_route_names_a_catalog_specialty_and_real_codes():
    known = {row["code"] for row in catalog.rows()}
    for first, last, specialty, _source in rules.routes():
        assert specialty in known, specialty
        assert icd10.is_valid(first) and icd10.is_valid(last), (first, last)
        assert first <= last


@pytest.fixture
def case_with(network, patient_user):
    return lambda *codes: make_draft(network, patient_user, codes=codes)


def test_engine_proposes_the_principal_diagnosis_specialty(case_with):
    proposal = rules.RuleBasedTriage().propose(case_with("C50.911", "I25.10"))
    assert proposal.specialty == "breast_oncology" and not proposal.abstain
    assert proposal.ranked == [{"code": "breast_oncology", "probability": 0.667},
                               {"code": "interventional_cardiology", "probability": 0.333}]
    assert len(proposal.reasons) == 2 and "C50.911" in proposal.reasons[0]


def test_three_secondary_codes_outvote_the_principal(case_with):
    proposal = rules.RuleBasedTriage().propose(case_with("I10", "C50.911", "C50.912", "C50.919"))
    assert proposal.specialty == "breast_oncology"
    assert proposal.ranked == [{"code": "breast_oncology", "probability": 0.6},
                               {"code": "cardiology", "probability": 0.4}]


@pytest.mark.parametrize("codes", [(), ("XYZ.9",)])
def test_abstains_without_a_routable_code(codes, case_with):
    proposal = rules.RuleBasedTriage().propose(case_with(*codes))
    assert proposal.abstain and proposal.specialty is None and proposal.ranked == []
    assert proposal.reasons


@pytest.fixture(autouse=True)
def _rules_engine(settings):
    settings.KONSIL_TRIAGE_ENGINE = "konsil.triage.rules.RuleBasedTriage"


FLAG = {"code": "test", "label": "Test flag", "urgency": "urgent", "evidence": "", "source": "test"}


class FixedEngine:
    """A stand-in engine: proposes a known and an unknown specialty."""

    name, version = "fixed", "0.1"

    def propose(self, case):
        return engine.Proposal(specialty="nephrology", urgency="urgent", red_flags=[FLAG],
                               ranked=[{"code": "nephrology", "probability": 0.9},
                                       {"code": "astrology", "probability": 0.1}])


def test_engine_is_pluggable(settings, case_with):
    assert isinstance(engine.engine(), rules.RuleBasedTriage)
    settings.KONSIL_TRIAGE_ENGINE = "tests.triage.test_rules.FixedEngine"
    proposal = services.propose(case=case_with("I10"))
    assert (proposal.engine, proposal.model_version, proposal.specialty_id) == ("fixed", "0.1", "nephrology")
    assert proposal.ranked == [{"code": "nephrology", "probability": 0.9}]  # unknown specialties dropped
    assert (proposal.urgency, proposal.red_flags) == ("urgent", [FLAG])


def test_propose_stores_the_proposal_with_engine_and_version(case_with):
    case = case_with("M54.16")
    proposal = services.propose(case=case)
    assert (proposal.engine, proposal.model_version, proposal.specialty_id) == ("icd10-rules", "1",
                                                                                "spine_surgery")
    assert services.latest_proposal(case) == proposal
    event = AuditEvent.objects.get(action="triage.propose")
    assert (event.actor_label, event.patient_id) == ("triage", case.patient_id)
    assert event.detail == {"engine": "icd10-rules", "version": "1", "specialty": "spine_surgery", "red_flags": []}


def test_propose_abstains_cleanly(case_with):
    proposal = services.propose(case=case_with())
    assert proposal.abstain and proposal.specialty_id is None


def test_record_decision_keeps_whether_the_coordinator_agreed(case_with, coordinator):
    case = case_with("I25.10")
    services.propose(case=case)
    agreed = services.record_decision(case=case, actor=coordinator,
                                      specialty_code="interventional_cardiology", urgency="routine")
    assert agreed.agreed and agreed.proposal is not None
    changed = services.record_decision(case=case, actor=coordinator, specialty_code="cardiology",
                                       urgency="routine", reason="General cardiology first")
    assert not changed.agreed and changed.reason == "General cardiology first"
    case.refresh_from_db()
    assert case.specialty_id == "cardiology"


def test_task_is_idempotent_and_only_for_submitted_cases(walker, draft_case):
    tasks.propose_triage.call(str(draft_case.pk))
    assert not TriageProposal.objects.exists()  # still a draft
    case = walker.walk_to(draft_case, "submitted")
    tasks.propose_triage.call(str(case.pk))
    tasks.propose_triage.call(str(case.pk))
    assert TriageProposal.objects.filter(case=case).count() == 1
    tasks.propose_triage.call("00000000-0000-0000-0000-000000000000")
