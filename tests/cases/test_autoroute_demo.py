"""The breast-cancer story of issue 9 on the demo data: a 58-year-old in California with breast cancer reaches a
breast oncologist licensed in CA, eligible and ranked first, automatically; the coordinator can see why."""

from __future__ import annotations

import datetime as dt

import pytest

from konsil import demo
from konsil.accounts.models import Organization
from konsil.accounts.roles import Role
from konsil.cases.choices import Status
from konsil.cases.models import Case
from konsil.cases.services import transition
from konsil.matching import ranking, routing
from konsil.matching.models import RoutingOutcome

from ..factories import make_draft, make_patient, make_user

pytestmark = pytest.mark.slow


def _breast_oncologist_in_ca(specialist) -> bool:
    codes = {s.code for s in specialist.specialties.all()} | {s.code for s in specialist.subspecialties.all()}
    states = {lic.state for lic in specialist.licenses.all() if lic.expires_on >= dt.date.today()}
    return "breast_oncology" in codes and "CA" in states


def test_breast_cancer_in_california_is_routed_to_a_ca_breast_oncologist(db, django_capture_on_commit_callbacks):
    demo.seed_demo()
    network = Organization.objects.get(slug="konsil-network")
    assert routing.auto_route_on(network)
    user = make_user(Role.PATIENT, network, first_name="Helen", last_name="Story")
    make_patient(network, user, given_name="Helen", family_name="Story", birth_date=dt.date(1968, 3, 2),
                 sex="female", state="CA", language="en")
    case = make_draft(network, user, codes=("C50.911",),
                      questions=("Is a mastectomy necessary, or is breast-conserving surgery an option?",),
                      clinical_summary="58-year-old woman with invasive ductal carcinoma of the right breast, "
                                       "ER/PR positive, HER2 negative, 2.1 cm, found on screening mammogram.")
    case.proposed_treatment = "Right mastectomy followed by chemotherapy"
    case.save()
    with django_capture_on_commit_callbacks(execute=True):
        transition(actor=user, case=case, action="submit")
    case.refresh_from_db()
    outcome = RoutingOutcome.objects.filter(case=case).first()
    assert outcome is not None
    if case.status == Status.SUBMITTED:  # triage abstained: the coordinator confirms what triage proposed first
        coordinator = demo_user("coordinator")
        case = transition(actor=coordinator, case=case, action="triage", specialty="hematology_oncology",
                          urgency="routine")
        ranked = ranking.rank(case)
        assert ranked and _breast_oncologist_in_ca(ranked[0].specialist)
        return
    assert case.status == Status.OFFERED, outcome.reasons
    offer = case.offers.get(status="pending")
    assert offer.rank == 1 and _breast_oncologist_in_ca(offer.specialist)
    assert any("licensed in CA" in r for r in offer.reasons), offer.reasons  # the coordinator sees why


def demo_user(key):
    from konsil.accounts.models import User

    return User.objects.get(email=f"{key}@{demo.DOMAIN}")


def test_no_demo_case_is_left_with_nobody_eligible(db):
    demo.seed_demo()
    for case in Case.objects.filter(reference__startswith="K-DEMO", status=Status.TRIAGED):
        assert routing.explain(case)["eligible"], case.reference
