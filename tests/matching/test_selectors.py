"""The specialist directory, who may be offered a case and why not, and the ranking."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from konsil.cases.models import Case
from konsil.cases.services import transition
from konsil.matching import catalog, ranking, selectors
from konsil.matching.models import License, Specialty

from ..factories import make_draft, make_specialist, set_identity


@pytest.fixture
def people(network, other_network, specialist):
    expired = make_specialist(network, specialty="cardiology", states=("CA",), languages=("en",))
    License.objects.filter(specialist=expired).update(expires_on=timezone.localdate() - dt.timedelta(days=1))
    return {
        "cardio_ca": specialist,  # cardiology, CA, en/es
        "interv_ny": make_specialist(network, specialty="interventional_cardiology", states=("NY",)),
        "derm_ca": make_specialist(network, specialty="dermatology", states=("CA", "NV"), languages=("ja",)),
        "expired_ca": expired,
        "far_cardio": make_specialist(other_network, specialty="cardiology", states=("CA",)),
    }


def _names(qs, people):
    by_pk = {s.pk: name for name, s in people.items()}
    return {by_pk[s.pk] for s in qs}


def test_catalog_is_loaded_with_parents(db):
    assert Specialty.objects.count() == len(catalog.rows()) >= 20
    assert Specialty.objects.get(code="interventional_cardiology").parent_id == "cardiology"
    assert set(Specialty.objects.get(code="cardiology").subspecialties.values_list("code", flat=True)) >= {
        "interventional_cardiology", "electrophysiology"}


def test_catalog_sync_is_idempotent(db):
    before = Specialty.objects.count()
    assert catalog.sync(Specialty) == before
    assert Specialty.objects.count() == before


def test_directory_by_specialty_includes_subspecialties(people, network):
    assert _names(selectors.directory(network=network, specialty="cardiology"), people) == {
        "cardio_ca", "interv_ny", "expired_ca"}
    assert _names(selectors.directory(network=network, specialty="interventional_cardiology"), people) == {
        "interv_ny"}
    assert _names(selectors.directory(specialty="cardiology"), people) == {
        "cardio_ca", "interv_ny", "expired_ca", "far_cardio"}


def test_directory_by_license_state_skips_expired_licenses(people, network):
    assert _names(selectors.directory(network=network, state="CA"), people) == {"cardio_ca", "derm_ca"}
    assert _names(selectors.directory(network=network, state="NV"), people) == {"derm_ca"}
    assert _names(selectors.directory(network=network, state="TX"), people) == set()


def test_directory_by_language(people, network):
    assert _names(selectors.directory(network=network, language="ja"), people) == {"derm_ca"}
    assert _names(selectors.directory(network=network, language="es"), people) == {"cardio_ca"}


def test_directory_filters_combine_without_duplicates(people, network):
    result = list(selectors.directory(network=network, specialty="cardiology", state="CA", language="en"))
    assert _names(result, people) == {"cardio_ca"}
    assert len(result) == 1


def test_directory_counts_active_cases(people, network, walker, draft_case):
    walker.walk_to(draft_case, "accepted")
    counts = {s.pk: s.active_cases for s in selectors.directory(network=network)}
    assert counts[people["cardio_ca"].pk] == 1
    assert counts[people["derm_ca"].pk] == 0


@pytest.fixture
def triaged(walker, draft_case):
    return walker.walk_to(draft_case, "triaged")  # cardiology, patient in CA


def test_ineligibility_reasons(people, triaged, network, other_network):
    why = lambda name: selectors.ineligibility(triaged, people[name].pk)  # noqa: E731
    assert why("cardio_ca") is None
    assert why("interv_ny").startswith("This specialist holds no valid license for CA: not licensed in CA")
    assert why("expired_ca").startswith("This specialist holds no valid license for CA: ")
    assert why("derm_ca") == "This specialist does not practise the case's specialty."
    assert why("far_cardio") == "Unknown specialist."
    for bad in ("not-a-uuid", "", None, "00000000-0000-0000-0000-000000000000"):
        assert selectors.ineligibility(triaged, bad) == "Unknown specialist."


def test_subspecialist_is_eligible_for_the_parent_specialty(network, triaged):
    sub = make_specialist(network, specialty="electrophysiology", states=("CA",))
    assert selectors.ineligibility(triaged, sub.pk) is None


def test_not_accepting(people, triaged):
    people["cardio_ca"].accepting = False
    people["cardio_ca"].save()
    why = selectors.ineligibility(triaged, people["cardio_ca"].pk)
    assert why == "This specialist is not accepting cases."
    assert people["cardio_ca"] not in selectors.candidates(triaged)


def test_declined(people, triaged, coordinator, specialist):
    case = transition(actor=coordinator, case=triaged, action="offer", specialist=str(specialist.pk))
    case = transition(actor=specialist.user, case=case, action="decline", reason="Busy")
    assert selectors.ineligibility(case, specialist.pk) == "This specialist already declined the case."
    assert specialist not in selectors.candidates(case)


def test_capacity_full(people, triaged, network, patient_user, specialist):
    specialist.capacity = 1
    specialist.save()
    busy = make_draft(network, patient_user, questions=("Another?",))
    Case.objects.filter(pk=busy.pk).update(status="in_review", assigned_specialist=specialist)
    assert selectors.ineligibility(triaged, specialist.pk) == "This specialist has no capacity left."
    Case.objects.filter(pk=busy.pk).update(status="delivered")  # delivered cases no longer count
    assert selectors.ineligibility(triaged, specialist.pk) is None


def test_candidates(people, triaged):
    assert _names(selectors.candidates(triaged), people) == {"cardio_ca"}


@pytest.fixture
def filtered(settings):
    settings.KONSIL_MATCHING_ENGINE = "konsil.matching.ranking.FilteredRanking"


def test_ranking_puts_a_language_match_first(network, triaged, filtered):
    set_identity(triaged, language="es")
    roomy = make_specialist(network, specialty="cardiology", states=("CA",), languages=("en",), capacity=20,
                            last_name="Aaron")
    speaks = make_specialist(network, specialty="cardiology", states=("CA",), languages=("es",), capacity=1,
                             last_name="Zed")
    ranked = ranking.rank(triaged)
    order = [r.specialist.pk for r in ranked]
    assert order.index(speaks.pk) < order.index(roomy.pk)
    top = next(r for r in ranked if r.specialist.pk == speaks.pk)
    assert "speaks the patient's language" in top.reasons and "licensed in CA" in top.reasons
    low = next(r for r in ranked if r.specialist.pk == roomy.pk)
    assert "needs an interpreter" in low.reasons
    assert top.score > low.score


def test_ranking_prefers_free_capacity_among_equals(network, triaged, specialist, filtered):
    specialist.languages = ["fr"]
    specialist.save()
    free = make_specialist(network, specialty="cardiology", states=("CA",), languages=("fr",), capacity=4)
    busy_case = make_draft(network, triaged.requester, questions=("x",))
    Case.objects.filter(pk=busy_case.pk).update(status="in_review", assigned_specialist=specialist)
    ranked = ranking.rank(triaged)
    assert [r.specialist.pk for r in ranked][:2] == [free.pk, specialist.pk]
    assert "4 of 4 case slots free" in ranked[0].reasons


def test_ranking_of_a_case_without_candidates(triaged, specialist):
    specialist.accepting = False
    specialist.save()
    assert ranking.rank(triaged) == []
