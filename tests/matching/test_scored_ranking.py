"""The scored ranking of a real case: hard constraints filter, the network's weights order, reasons explain."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from konsil.accounts.roles import Role
from konsil.cases.models import Case
from konsil.cases.services import transition
from konsil.core.errors import ValidationFailed
from konsil.matching import ranking, selectors, services
from konsil.matching.models import LicensureRule, Specialty
from konsil.triage.models import TriageProposal

from ..factories import make_draft, make_specialist, make_user, set_identity


@pytest.fixture(autouse=True)
def scored(settings):
    settings.KONSIL_MATCHING_ENGINE = "konsil.matching.ranking.ScoredRanking"


@pytest.fixture
def triaged(walker, draft_case):
    return walker.walk_to(draft_case, "triaged")  # cardiology, routine, patient in CA speaking en, channel patient


def ids(case) -> list:
    return [r.specialist.pk for r in ranking.rank(case)]


def by_pk(case, pk) -> ranking.Ranked:
    return next(r for r in ranking.rank(case) if r.specialist.pk == pk)


def test_the_default_contract_ranked_with_score_reasons_and_factors(triaged, specialist):
    [top] = ranking.rank(triaged)
    assert isinstance(top, ranking.Ranked) and top.specialist == specialist
    assert 0 < top.score <= 1
    assert "licensed in CA" in top.reasons and "speaks the patient's language (en)" in top.reasons
    assert {f["factor"] for f in top.factors} >= {"deadline", "load", "quality"}
    assert ranking.engine().name == "scored"


def test_a_case_without_specialty_ranks_nobody(network, patient_user, specialist):
    assert ranking.rank(make_draft(network, patient_user)) == []


def test_the_licensure_table_decides_visibly(network, triaged, specialist):
    ny = make_specialist(network, specialty="cardiology", states=("NY",))
    assert ny.pk not in ids(triaged)  # patient channel, CA is consult_only
    assert selectors.ineligibility(triaged, ny.pk).startswith("This specialist holds no valid license for CA")
    Case.objects.filter(pk=triaged.pk).update(channel="clinician")
    triaged.refresh_from_db()
    reasons = by_pk(triaged, ny.pk).reasons
    assert any("consultation with a local physician" in r for r in reasons)
    source = next(r for r in reasons if r.startswith("licensure rule for CA (California)"))
    assert "as of 2025-06-30" in source and "source:" in source
    assert selectors.ineligibility(triaged, ny.pk) is None  # the offer guard agrees with the ranking
    LicensureRule.objects.filter(kind="state", code="CA").update(direct_to_patient="not_allowed")
    assert ny.pk not in ids(triaged)  # the admin's edit applies at once
    assert selectors.ineligibility(triaged, ny.pk) is not None


def test_language_is_hard_unless_an_interpreter_is_requested(triaged, specialist):
    set_identity(triaged, language="ja")
    triaged.refresh_from_db()
    assert ids(triaged) == []
    triaged.interpreter_needed = True  # the case flag asked of the cases app
    assert ids(triaged) == [specialist.pk]
    assert any("needs an interpreter" in r for r in ranking.rank(triaged)[0].reasons)


@pytest.mark.parametrize("how", ["facility", "email", "name", "requester"])
def test_conflicts_of_interest_exclude(network, triaged, specialist, how):
    if how == "facility":
        specialist.affiliations = ["Riverside  General"]
        specialist.save()
        Case.objects.filter(pk=triaged.pk).update(treating_facility="riverside general")
    elif how == "email":
        Case.objects.filter(pk=triaged.pk).update(treating_physician_email=specialist.user.email.upper())
    elif how == "name":
        name = f"Dr. {specialist.user.first_name} {specialist.user.last_name}"
        Case.objects.filter(pk=triaged.pk).update(treating_physician=name)
    else:
        Case.objects.filter(pk=triaged.pk).update(requester=specialist.user, channel="clinician")
    triaged.refresh_from_db()
    assert ids(triaged) == []
    why = selectors.ineligibility(triaged, specialist.pk)
    if how == "facility":  # a coordinator may override an institution conflict; never a personal one
        assert why is None
    else:
        assert "conflict of interest" in why


def test_declined_full_or_wrong_mode_are_excluded(network, triaged, coordinator, specialist, patient_user):
    other = make_specialist(network, specialty="cardiology", states=("CA",), capacity=1)
    case = transition(actor=coordinator, case=triaged, action="offer", specialist=str(specialist.pk))
    case = transition(actor=specialist.user, case=case, action="decline", reason="Busy")
    assert ids(case) == [other.pk]
    busy = make_draft(network, patient_user, questions=("x",))
    Case.objects.filter(pk=busy.pk).update(status="in_review", assigned_specialist=other)
    assert ids(case) == []
    Case.objects.filter(pk=busy.pk).update(status="closed")
    Case.objects.filter(pk=case.pk).update(preferred_delivery="video")
    case.refresh_from_db()
    assert ids(case) == []
    other.delivery_modes = ["written", "video"]
    other.save()
    assert any("offers video opinions" in r for r in by_pk(case, other.pk).reasons)


def test_the_triage_subspecialty_is_preferred(network, triaged, specialist):
    ep = make_specialist(network, specialty="cardiology", states=("CA",), last_name="Zz")
    ep.subspecialties.add("electrophysiology")
    TriageProposal.objects.create(case=triaged, engine="t", model_version="1", urgency="routine",
                                  specialty_id="cardiology", subspecialty=Specialty.objects.get(pk="electrophysiology"))
    ranked = ranking.rank(triaged)
    assert ranked[0].specialist == ep
    assert "practises Cardiac Electrophysiology, the subspecialty asked for" in ranked[0].reasons


def test_network_weights_change_the_order(network, triaged, specialist, coordinator):
    quick = make_specialist(network, specialty="cardiology", states=("CA",))
    quick.turnaround_hours, quick.peer_review_score = 12, 0.1
    quick.save()
    specialist.turnaround_hours, specialist.peer_review_score = 160, 1.0
    specialist.save()
    services.set_network_weights(actor=coordinator, network=network, weights={
        "subspecialty": 0, "deadline": 1, "load": 0, "quality": 0, "continuity": 0, "timezone": 0, "cost": 0})
    assert ids(triaged)[0] == quick.pk
    services.set_network_weights(actor=coordinator, network=network, weights={"deadline": 0, "load": 0,
                                                                              "quality": 1, "timezone": 0})
    assert ids(triaged)[0] == specialist.pk
    with pytest.raises(ValidationFailed) as exc:
        services.set_network_weights(actor=coordinator, network=network, weights={"quality": -1})
    assert exc.value.field == "quality"
    with pytest.raises(ValidationFailed) as exc:
        services.set_network_weights(actor=coordinator, network=network, weights={"speed": 1})
    assert exc.value.field == "speed"


def test_continuity_and_time_zone_show_in_reasons(network, triaged, specialist, patient_user):
    earlier = make_draft(network, patient_user, questions=("before",))
    Case.objects.filter(pk=earlier.pk).update(status="closed", assigned_specialist=specialist)
    specialist.time_zone = "America/Los_Angeles"
    specialist.save()
    reasons = ranking.rank(triaged)[0].reasons
    assert "has seen this patient before" in reasons and "same time zone as the patient" in reasons


def test_the_candidates_api_carries_factors(client, triaged, coordinator, specialist):
    from rest_framework.test import APIClient

    from ..factories import api_token

    cache.clear()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(coordinator)}")
    body = api.get(f"/api/v1/cases/{triaged.pk}/candidates/").json()
    assert body[0]["specialist"]["id"] == str(specialist.pk) and body[0]["factors"]
    assert body[0]["specialist"]["delivery_modes"] == ["written"]
    cache.clear()


def test_a_referring_clinician_may_not_review_their_own_referral(network, triaged):
    clinician = make_user(Role.REFERRING_CLINICIAN, network)
    Case.objects.filter(pk=triaged.pk).update(requester=clinician, channel="clinician")
    triaged.refresh_from_db()
    assert ids(triaged)  # a requester without a specialist profile conflicts with nobody
