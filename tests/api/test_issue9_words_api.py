"""Issue 9, done when: through the API, a case created with words only (no `diagnoses`, no `proposed_cpt`) and
submitted is offered automatically when triage is confident, or reaches the coordinators with the reasons; none is
left stuck (the coordinators always have an action on it)."""

from __future__ import annotations

import pytest

from konsil.cases.models import Case, Notification
from konsil.matching.models import RoutingOutcome, RoutingSetting

from ..factories import make_specialist
from .conftest import API

CONSENT = {"scope": ["obtain_records", "share_with_reviewers", "share_report"]}
BREAST = {
    "channel": "patient",
    "patient": {"given_name": "Rosa", "family_name": "Hale", "birth_date": "1968-04-12", "sex": "female",
                "state": "CA", "language": "en"},
    "questions": ["Do I need a mastectomy, or is a lumpectomy with radiation enough?"],
    "diagnosis_text": "breast cancer in my right breast",
    "proposed_treatment": "surgery to remove the whole right breast, then chemotherapy",
    "clinical_summary": "58-year-old woman. The core biopsy of the right breast showed invasive ductal carcinoma, "
                        "2 cm, estrogen and progesterone receptor positive, HER2 negative. The mammogram found it.",
}
VAGUE = {**BREAST, "questions": ["Is what they told me right?"], "diagnosis_text": "I do not feel well",
         "proposed_treatment": "they want to do something", "clinical_summary": "I am tired."}


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


@pytest.fixture
def auto(network):
    return RoutingSetting.objects.create(network=network, auto_route=True)


@pytest.fixture
def breast_oncologist(network):
    specialist = make_specialist(network, specialty="breast_oncology", states=("CA",), first_name="Bea",
                                 last_name="Breast")
    make_specialist(network, specialty="hematology_oncology", states=("NY",), first_name="Hal", last_name="Heme")
    return specialist


def submit_in_words(client, body, django_capture_on_commit_callbacks):
    created = ok(client.post(f"{API}/cases/", body, format="json"), 201)
    assert created["diagnoses"] == [] and created["proposed_cpt"] == ""
    ok(client.post(f"{API}/cases/{created['id']}/consent/", {**CONSENT, "signer_name": "Rosa Hale"},
                   format="json"), 201)
    with django_capture_on_commit_callbacks(execute=True):
        ok(client.post(f"{API}/cases/{created['id']}/transitions/", {"action": "submit"}, format="json"))
    return created["id"]


def test_breast_cancer_in_words_is_offered_to_the_breast_oncologist(
        api, auto, patient_user, coordinator, breast_oncologist, django_capture_on_commit_callbacks):
    case_id = submit_in_words(api(patient_user), BREAST, django_capture_on_commit_callbacks)
    outcome = RoutingOutcome.objects.get(case_id=case_id)
    seen = ok(api(coordinator).get(f"{API}/cases/{case_id}/"))
    assert outcome.outcome == "offered", outcome.reasons  # triage is confident about C50: nobody in between
    assert seen["status"] == "offered"
    case = Case.objects.get(pk=case_id)
    assert case.specialty_id == "breast_oncology"  # the most specific specialty the words support
    assert case.offers.get(status="pending").specialist == breast_oncologist
    assert "licensed in CA" in outcome.reasons
    offer_actions = [a["action"] for a in ok(api(breast_oncologist.user).get(f"{API}/cases/{case_id}/"))[
        "allowed_actions"]]
    assert "accept" in offer_actions  # the specialist still decides
    routing = ok(api(coordinator).get(f"{API}/cases/{case_id}/eligibility/"))["routing"]
    assert routing["outcome"] == outcome.outcome and routing["reasons"] == outcome.lines
    assert ok(api(coordinator).get(f"{API}/cases/{case_id}/eligibility/"))["eligible"] >= 1


def test_words_nobody_can_place_reach_the_coordinators_with_reasons(
        api, auto, patient_user, coordinator, breast_oncologist, django_capture_on_commit_callbacks):
    case_id = submit_in_words(api(patient_user), VAGUE, django_capture_on_commit_callbacks)
    outcome = RoutingOutcome.objects.get(case_id=case_id)
    seen = ok(api(coordinator).get(f"{API}/cases/{case_id}/"))
    assert outcome.outcome == "coordinators" and seen["status"] == "submitted"
    assert "not confident" in outcome.lines[0] and len(outcome.lines) > 1  # and what triage did see
    assert Notification.objects.filter(user=coordinator, kind="routing_needed", case_id=case_id).exists()
    routing = ok(api(coordinator).get(f"{API}/cases/{case_id}/eligibility/"))["routing"]
    assert routing["outcome"] == "coordinators" and routing["reasons"] == outcome.lines  # worded for the reader
    # never stuck: the coordinators (or the offered specialist) always have a way forward or out
    actions = {a["action"] for a in seen["allowed_actions"]}
    assert actions & {"triage", "offer", "retriage", "cancel"}, (seen["status"], actions)


def test_with_auto_routing_off_a_words_case_waits_for_the_coordinators_not_stuck(
        api, patient_user, coordinator, breast_oncologist, django_capture_on_commit_callbacks):
    case_id = submit_in_words(api(patient_user), BREAST, django_capture_on_commit_callbacks)
    assert not RoutingOutcome.objects.filter(case_id=case_id).exists()
    seen = ok(api(coordinator).get(f"{API}/cases/{case_id}/"))
    assert seen["status"] == "submitted"
    assert "triage" in {a["action"] for a in seen["allowed_actions"]}
    suggestions = {s["code"] for s in seen["code_suggestions"]}
    assert "C50" in suggestions or any(c.startswith("C50") for c in suggestions)


def test_a_words_case_with_a_code_in_the_wrong_field_is_refused_and_nothing_routes(
        api, auto, patient_user, breast_oncologist):
    response = api(patient_user).post(f"{API}/cases/", {**BREAST, "proposed_cpt": "mastectomy"}, format="json")
    assert response.status_code == 400 and "proposed_cpt" in response.json()["errors"]
    assert not Case.objects.exists() and not RoutingOutcome.objects.exists()
