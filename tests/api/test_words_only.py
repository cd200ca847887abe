"""Intake in the patient's own words over the API (#9): codes optional, the ICD-10-CM lookup, code suggestions."""

from __future__ import annotations

import pytest

from konsil.audit.models import AuditEvent
from konsil.cases.models import Case, CaseDiagnosis

from .conftest import API

WORDS = {
    "channel": "patient",
    "patient": {"given_name": "Rosa", "family_name": "Ejemplo", "birth_date": "1968-04-12", "sex": "female",
                "state": "CA", "language": "es"},
    "questions": ["Do I need a mastectomy, or is a lumpectomy enough?"],
    "diagnosis_text": "breast cancer",
    "proposed_treatment": "surgery to remove the whole left breast, then chemotherapy",
    "clinical_summary": "A lump in the left breast; the biopsy showed ductal carcinoma.",
}


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


@pytest.fixture
def words_case(api, patient_user):
    return ok(api(patient_user).post(f"{API}/cases/", WORDS, format="json"), 201)


def test_a_case_in_words_only_is_valid_and_submits(api, patient_user, words_case,
                                                   django_capture_on_commit_callbacks):
    client = api(patient_user)
    assert words_case["diagnoses"] == [] and words_case["proposed_cpt"] == ""
    assert words_case["diagnosis_text"] == "breast cancer"  # in full, not cut to a code's length
    assert Case.objects.get(pk=words_case["id"]).diagnosis_text == "breast cancer"
    ok(client.post(f"{API}/cases/{words_case['id']}/consent/", {
        "scope": ["obtain_records", "share_with_reviewers", "share_report"], "signer_name": "Rosa Ejemplo"},
        format="json"), 201)
    with django_capture_on_commit_callbacks(execute=True):
        body = ok(client.post(f"{API}/cases/{words_case['id']}/transitions/", {"action": "submit"},
                              format="json"))
    assert body["status"] != "draft"


def test_the_old_shape_with_codes_stays_valid(api, patient_user):
    body = ok(api(patient_user).post(f"{API}/cases/", {**WORDS, "diagnoses": ["C50.912"], "proposed_cpt": "19303"},
                                     format="json"), 201)
    assert [d["code"] for d in body["diagnoses"]] == ["C50.912"] and body["proposed_cpt"] == "19303"


def test_words_in_the_codes_list_are_a_field_error_and_nothing_is_saved(api, patient_user):
    response = api(patient_user).post(f"{API}/cases/", {**WORDS, "diagnoses": ["breast cancer"]}, format="json")
    assert response.status_code == 400
    assert "diagnoses" in response.json()["errors"]
    assert not Case.objects.exists()


def test_a_long_diagnosis_in_words_is_refused_with_its_field(api, patient_user):
    response = api(patient_user).post(f"{API}/cases/", {**WORDS, "diagnosis_text": "x" * 5001}, format="json")
    assert response.status_code == 400 and "diagnosis_text" in response.json()["errors"]
    assert not Case.objects.exists()


def test_konsil_suggests_codes_from_the_words(words_case):
    suggestions = {s["code"]: s for s in words_case["code_suggestions"]}
    assert "C50" in suggestions
    assert suggestions["C50"]["status"] == "suggested" and suggestions["C50"]["source"] == "text"
    assert words_case["diagnoses"] == []  # a suggestion is not a diagnosis until a person confirms it


def test_a_coordinator_confirms_a_suggestion_and_the_patient_cannot(api, patient_user, coordinator, words_case):
    url = f"{API}/cases/{words_case['id']}/code-suggestions/"
    refused = api(patient_user).post(url, {"code": "C50", "decision": "confirm"}, format="json")
    assert refused.status_code == 403
    assert AuditEvent.objects.filter(action="case.code_decide", outcome="denied").exists()
    body = ok(api(coordinator).post(url, {"code": "C50", "decision": "confirm"}, format="json"))
    assert body["status"] == "confirmed"
    assert list(CaseDiagnosis.objects.filter(case_id=words_case["id"]).values_list("code", flat=True)) == ["C50"]
    assert AuditEvent.objects.filter(action="case.code_confirm").exists()
    again = api(coordinator).post(url, {"code": "C50", "decision": "reject"}, format="json")
    assert again.status_code == 409
    listed = ok(api(coordinator).get(url))
    assert {s["code"]: s["status"] for s in listed}["C50"] == "confirmed"


@pytest.mark.parametrize("body", [{"code": "C50", "decision": "maybe"}, {"code": "Z99.89", "decision": "confirm"},
                                  {"decision": "confirm"}, {"code": {"a": 1}, "decision": "confirm"}])
def test_bad_decisions_are_field_errors(api, coordinator, words_case, body):
    response = api(coordinator).post(f"{API}/cases/{words_case['id']}/code-suggestions/", body, format="json")
    assert response.status_code == 400 and response.json()["errors"]


# --- the ICD-10-CM lookup ----------------------------------------------------------------------------------

def test_lookup_finds_titles_inclusion_terms_and_plain_words(api, patient_user):
    client = api(patient_user)
    codes = [r["code"] for r in ok(client.get(f"{API}/icd10/", {"q": "breast"}))]
    assert codes[0] == "C50"
    plain = ok(client.get(f"{API}/icd10/", {"q": "breast cancer"}))
    assert plain[0] == {"code": "C50", "title": "Malignant neoplasm of breast"}
    assert ok(client.get(f"{API}/icd10/", {"q": "high blood pressure"}))[0]["code"] == "I10"  # an inclusion term
    assert ok(client.get(f"{API}/icd10/", {"q": "C50.91", "limit": 3}))[0]["code"] == "C50.91"


@pytest.mark.parametrize("q", ["", "   ", "ü😀漢字", "of the"])
def test_lookup_of_nothing_or_odd_unicode_is_an_empty_list(api, patient_user, q):
    response = api(patient_user).get(f"{API}/icd10/", {"q": q})
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json() == []
    else:
        assert "q" in response.json()["errors"]


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%FF%FE", "%C0%AF"])
def test_lookup_of_bytes_that_are_not_utf8_is_no_server_error(api, patient_user, raw):
    response = api(patient_user).get(f"{API}/icd10/?q={raw}")
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("params", [{"q": "breast " * 500}, {"q": "a\x00b"}, {"q": "breast", "limit": 10**9},
                                    {"q": "breast", "limit": "many"}])
def test_lookup_refuses_huge_or_bad_input_with_400(api, patient_user, params):
    response = api(patient_user).get(f"{API}/icd10/", params)
    assert response.status_code == 400
    assert response.json()["errors"]


def test_lookup_needs_a_signed_in_caller(api):
    assert api().get(f"{API}/icd10/", {"q": "breast"}).status_code in (401, 403)
