"""Referrals in: a transaction Bundle built from a Synthea patient becomes one case, however often it is posted."""

from __future__ import annotations

import base64
import json

import pytest

from konsil.cases.models import Attachment, Case, Patient
from konsil.fhir.models import Referral

from .conftest import post_bundle, referral_bundle, synthea_patient

pytestmark = pytest.mark.django_db


def counts():
    return Case.objects.count(), Patient.objects.count(), Attachment.objects.count(), Referral.objects.count()


def test_a_synthea_referral_becomes_one_submitted_case(client, ehr, network):
    bundle = referral_bundle(synthea_patient("Abdul_Koepp"))
    response = post_bundle(client, ehr, bundle)
    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    assert body["type"] == "transaction-response" and body["entry"][0]["response"]["status"] == "201 Created"
    case = Case.objects.get()
    assert response["Location"].endswith(f"ServiceRequest/{case.pk}")
    assert case.network == network and case.channel == "clinician" and case.status == "submitted"
    assert case.requester == ehr.client.service_user and case.urgency == "urgent"
    assert case.identity.family_name == "Koepp" and case.identity.state == "MA"
    assert [d.code for d in case.diagnoses.all()] == ["I25.10"]
    assert [q.text for q in case.questions.all()] == ["Is a stent needed now?"]
    assert case.treating_physician == "Dr. Rita Referrer" and hasattr(case, "consent")
    assert case.attachments.get().filename == "letter.pdf"

    again = post_bundle(client, ehr, referral_bundle(synthea_patient("Abdul_Koepp")))
    assert again.status_code == 200 and again.json()["entry"][0]["response"]["location"] == f"ServiceRequest/{case.pk}"
    assert counts() == (1, 1, 1, 1)


def test_without_a_consent_the_case_waits_as_a_draft(client, ehr):
    response = post_bundle(client, ehr, referral_bundle(consent=False, document=None))
    assert response.status_code == 201
    assert Case.objects.get().status == "draft"


def test_another_client_with_the_same_identifier_makes_its_own_case(client, ehr, other_ehr):
    assert post_bundle(client, ehr, referral_bundle()).status_code == 201
    assert post_bundle(client, other_ehr, referral_bundle()).status_code == 201
    assert Case.objects.count() == 2


def _outcome(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


@pytest.mark.parametrize("mutate, status, expression", [
    (lambda b: b.update(type="batch"), 400, "Bundle.type"),
    (lambda b: b["entry"][1]["resource"].update(status=7, bogus=True), 400, "Bundle.entry[1].resource"),
    (lambda b: b["entry"].append({"resource": {"resourceType": "Observation", "status": "final",
                                               "code": {"text": "x"}}}), 400, "Bundle.entry[5].resource"),
    (lambda b: b["entry"][1]["resource"].update(subject={"reference": "Patient/elsewhere"}), 400,
     "Bundle.entry[1].resource.subject"),
    (lambda b: b["entry"][1]["resource"].pop("identifier"), 400, "Bundle.entry[1].resource.identifier"),
    (lambda b: b["entry"][3]["resource"]["content"][0]["attachment"].update(data=None, url="https://ehr/x"), 400,
     "Bundle.entry[3].resource.content[0].attachment"),
    (lambda b: b["entry"][3]["resource"]["content"][0]["attachment"].update(data="%%%"), 400,
     "Bundle.entry[3].resource.content[0].attachment"),
    (lambda b: b["entry"][2]["resource"]["code"]["coding"][0].update(code="ZZZ.99"), 422, "diagnoses"),
    (lambda b: b["entry"][1]["resource"].pop("note"), 422, "questions"),
    (lambda b: b["entry"][0]["resource"].pop("birthDate"), 422, "patient.birth_date"),
])
def test_bad_referrals_are_refused_and_leave_nothing(client, ehr, mutate, status, expression):
    bundle = referral_bundle()
    mutate(bundle)
    issues = _outcome(post_bundle(client, ehr, bundle), status)
    assert any(expression in (i.get("expression") or [""])[0] for i in issues), issues
    assert counts() == (0, 0, 0, 0)


def test_not_json_and_not_a_bundle(client, ehr):
    headers = ehr.headers(client)
    _outcome(client.post("/fhir/R4/", "{nope", content_type="application/fhir+json", **headers), 400)
    _outcome(client.post("/fhir/R4/", json.dumps({"resourceType": "Patient"}),
                         content_type="application/fhir+json", **ehr.headers(client)), 400)
    _outcome(client.post("/fhir/R4/", json.dumps([1]), content_type="application/fhir+json",
                         **ehr.headers(client)), 400)


def test_a_duplicate_document_is_refused_as_a_whole(client, ehr):
    bundle = referral_bundle()
    doc = dict(bundle["entry"][3])
    bundle["entry"].insert(4, json.loads(json.dumps(doc)))
    issues = _outcome(post_bundle(client, ehr, bundle), 409)
    assert issues
    assert counts() == (0, 0, 0, 0)


def test_referrals_need_the_create_scope(client, ehr):
    response = post_bundle(client, ehr, referral_bundle(), scope="system/ServiceRequest.rs")
    _outcome(response, 403)
    assert counts() == (0, 0, 0, 0)


def test_a_client_without_a_network_cannot_refer(client, hospital):
    from .conftest import make_backend

    backend = make_backend(hospital)
    _outcome(post_bundle(client, backend, referral_bundle()), 403)
    assert counts() == (0, 0, 0, 0)


def test_document_bytes_are_kept(client, ehr):
    pdf = b"%PDF-1.4\n% the letter\n"
    post_bundle(client, ehr, referral_bundle(document=pdf))
    from konsil.records.intake import read_record

    attachment = Attachment.objects.get()
    assert read_record(actor=ehr.client.service_user, attachment=attachment) == pdf
    assert base64.b64encode(pdf)


def test_a_referral_larger_than_a_form_post_is_taken(client, ehr, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = post_bundle(client, ehr, referral_bundle(document=b"%PDF-1.4\n" + b"x" * 4096))
    assert response.status_code == 201, response.content
    settings.KONSIL_MAX_ATTACHMENT_BYTES = 1024
    big_document = post_bundle(client, ehr, referral_bundle(identifier="REF-2", document=b"%PDF" + b"y" * 8192))
    assert big_document.status_code == 413 and big_document.json()["issue"][0]["code"] == "too-costly"
    assert "attachment" in big_document.json()["issue"][0]["expression"][0]
    big_body = post_bundle(client, ehr, referral_bundle(identifier="REF-3", document=b"%PDF" + b"z" * 100_000))
    assert big_body.status_code == 413 and "expression" not in big_body.json()["issue"][0]
    assert counts() == (1, 1, 1, 1)


@pytest.mark.parametrize("entry", [
    "not an object",
    {"resource": "Patient"},
    {"resource": {"resourceType": "Patient", "name": "Koepp"}},
    {"resource": {"resourceType": "Patient", "birthDate": "yesterday"}},
    {"resource": {"resourceType": "Condition", "subject": {"reference": 5}}},
    {"resource": {"resourceType": "DocumentReference", "status": "current", "content": "x"}},
])
def test_odd_entries_are_refused_in_fhir_never_a_500(client, ehr, entry):
    bundle = referral_bundle()
    bundle["entry"].append(entry)
    response = post_bundle(client, ehr, bundle)
    assert response.status_code == 400, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize("patient_change, expression", [
    ({"gender": "robot"}, "patient.sex"),
    ({"birthDate": "1956"}, "patient.birth_date"),
    ({"address": [{"state": "Atlantis", "country": "US"}]}, "patient.state"),
])
def test_konsil_rules_on_the_patient_are_422(client, ehr, patient_change, expression):
    patient = {**synthea_patient(), **patient_change}
    issues = _outcome(post_bundle(client, ehr, referral_bundle(patient)), 422)
    assert any(expression in (i.get("expression") or [""])[0] for i in issues), issues
    assert counts() == (0, 0, 0, 0)
