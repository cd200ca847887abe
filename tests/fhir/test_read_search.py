"""Read and search: scoped to what the client's organization may see, audited, every resource valid R4."""

from __future__ import annotations

import pytest

from konsil.audit.models import AuditEvent
from konsil.cases.models import Case
from konsil.fhir.resources import validate

from .conftest import post_bundle, referral_bundle, synthea_patient

pytestmark = pytest.mark.django_db

TYPES = ["Patient", "ServiceRequest", "Task", "Condition", "DocumentReference", "DiagnosticReport", "PractitionerRole",
         "Provenance", "Consent", "Practitioner", "Organization"]


@pytest.fixture
def delivered(client, ehr, walker):
    """A referral from the EHR, walked by the network's people to a delivered opinion."""
    assert post_bundle(client, ehr, referral_bundle(synthea_patient("Abdul_Koepp"))).status_code == 201
    return walker.walk_to(Case.objects.get(), "delivered")


def search(client, backend, path, **params):
    response = client.get(f"/fhir/R4/{path}", params, **backend.headers(client))
    return response


def test_every_type_is_searchable_and_every_resource_validates(client, ehr, delivered):
    for rtype in TYPES:
        response = search(client, ehr, rtype)
        assert response.status_code == 200, (rtype, response.content)
        assert response["Content-Type"] == "application/fhir+json"
        body = response.json()
        validate(body)
        assert body["type"] == "searchset" and body["total"] >= 1, rtype
        for entry in body["entry"]:
            assert entry["resource"]["resourceType"] == rtype
            validate(entry["resource"])
    assert {e["resource"]["id"] for e in search(client, ehr, "DocumentReference").json()["entry"]} >= {
        str(delivered.attachments.get().pk), f"report-{delivered.opinions.get().pk}"}


def test_service_request_and_task_say_where_the_case_is(client, ehr, delivered):
    request = client.get(f"/fhir/R4/ServiceRequest/{delivered.pk}", **ehr.headers(client)).json()
    assert request["status"] == "completed" and request["subject"]["reference"] == f"Patient/{delivered.patient_id}"
    assert {"system": "urn:oid:1.2.3.4.hospital.referrals", "value": "REF-1"} in request["identifier"]
    task = client.get(f"/fhir/R4/Task/{delivered.pk}", **ehr.headers(client)).json()
    opinion = delivered.opinions.get()
    assert task["status"] == "completed" and task["businessStatus"]["coding"][0]["code"] == "delivered"
    assert task["output"][0]["valueReference"]["reference"] == f"DiagnosticReport/{opinion.pk}"
    report = client.get(f"/fhir/R4/DiagnosticReport/{opinion.pk}", **ehr.headers(client)).json()
    assert report["status"] == "final" and report["conclusionCode"][0]["coding"][0]["code"] == "I25.110"
    assert AuditEvent.objects.filter(action="fhir.read", object_type="fhir.DiagnosticReport",
                                     object_id=str(opinion.pk), patient_id=delivered.patient_id).exists()


def test_document_bundle_of_the_opinion(client, ehr, delivered):
    opinion = delivered.opinions.get()
    response = client.get(f"/fhir/R4/DiagnosticReport/{opinion.pk}/$document", **ehr.headers(client))
    assert response.status_code == 200, response.content
    body = response.json()
    validate(body)
    assert body["type"] == "document" and body["entry"][0]["resource"]["resourceType"] == "Composition"
    composition = body["entry"][0]["resource"]
    assert composition["subject"]["reference"] == f"Patient/{delivered.patient_id}"
    assert "Stress echocardiogram" in str(composition["section"])
    types = [e["resource"]["resourceType"] for e in body["entry"]]
    assert types[:4] == ["Composition", "DiagnosticReport", "Patient", "ServiceRequest"]


def test_binary_serves_the_record(client, ehr, delivered):
    attachment = delivered.attachments.get()
    response = client.get(f"/fhir/R4/Binary/{attachment.pk}", **ehr.headers(client))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_search_parameters(client, ehr, delivered):
    patient = f"Patient/{delivered.patient_id}"
    assert search(client, ehr, "ServiceRequest", patient=patient).json()["total"] == 1
    assert search(client, ehr, "ServiceRequest", subject=str(delivered.patient_id)).json()["total"] == 1
    assert search(client, ehr, "ServiceRequest", patient="Patient/00000000-0000-0000-0000-000000000000"
                  ).json()["total"] == 0
    assert search(client, ehr, "ServiceRequest", status="completed").json()["total"] == 1
    assert search(client, ehr, "ServiceRequest", status="active,draft").json()["total"] == 0
    assert search(client, ehr, "Task", status="completed").json()["total"] == 1
    assert search(client, ehr, "ServiceRequest", identifier="urn:oid:1.2.3.4.hospital.referrals|REF-1"
                  ).json()["total"] == 1
    assert search(client, ehr, "ServiceRequest", identifier=delivered.reference).json()["total"] == 1
    assert search(client, ehr, "ServiceRequest", identifier="other|REF-1").json()["total"] == 0
    assert search(client, ehr, "ServiceRequest", _id=str(delivered.pk)).json()["total"] == 1
    assert search(client, ehr, "Task", _lastUpdated="ge2000-01-01").json()["total"] == 1
    assert search(client, ehr, "Task", _lastUpdated="lt2000-01-01").json()["total"] == 0


def test_count_pages_with_next_links(client, ehr, delivered):
    first = search(client, ehr, "Organization", _count=1).json()
    assert first["total"] >= 2 and len(first["entry"]) == 1
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = client.get(next_url.replace("http://testserver", ""), **ehr.headers(client)).json()
    assert len(second["entry"]) == 1 and second["entry"][0]["resource"]["id"] != first["entry"][0]["resource"]["id"]


@pytest.mark.parametrize("path, params, status", [
    ("Patient", {"name": "Koepp"}, 400),
    ("Condition", {"status": "active"}, 400),
    ("Task", {"_count": "many"}, 400),
    ("Task", {"_lastUpdated": "yesterday"}, 400),
    ("Task", {"patient": "Practitioner/1"}, 400),
    ("Observation", {}, 404),
    ("Patient/not-a-uuid", {}, 404),
])
def test_refusals_are_operation_outcomes(client, ehr, delivered, path, params, status):
    response = search(client, ehr, path, **params)
    assert response.status_code == status
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    validate(body)


def test_another_organizations_client_sees_nothing(client, ehr, other_ehr, delivered):
    for rtype in TYPES:
        body = search(client, other_ehr, rtype).json()
        ids = {e["resource"]["id"] for e in body.get("entry", [])}
        assert rtype == "Organization" or not ids, (rtype, ids)
        assert str(delivered.network_id) not in ids
    response = client.get(f"/fhir/R4/ServiceRequest/{delivered.pk}", **other_ehr.headers(client))
    assert response.status_code == 404 and response.json()["issue"][0]["code"] == "not-found"
    assert AuditEvent.objects.filter(action="fhir.read", outcome="denied", object_id=str(delivered.pk)).exists()


def test_the_networks_client_sees_the_network_cases(client, network_client, delivered):
    body = search(client, network_client, "ServiceRequest").json()
    assert [e["resource"]["id"] for e in body["entry"]] == [str(delivered.pk)]


def test_searches_are_audited_per_resource(client, ehr, delivered):
    search(client, ehr, "Condition")
    event = AuditEvent.objects.filter(action="fhir.search", object_type="fhir.Condition").get()
    assert event.patient_id == delivered.patient_id and event.actor == ehr.client.service_user


def test_the_report_waits_for_delivery(client, ehr, walker):
    post_bundle(client, ehr, referral_bundle())
    case = walker.walk_to(Case.objects.get(), "signed")
    assert search(client, ehr, "DiagnosticReport").json()["total"] == 0
    opinion = case.opinions.get()
    assert client.get(f"/fhir/R4/DiagnosticReport/{opinion.pk}/$document", **ehr.headers(client)).status_code == 404


def test_metadata_and_smart_configuration(client):
    response = client.get("/fhir/R4/metadata")
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    capability = response.json()
    validate(capability)
    assert capability["fhirVersion"] == "4.0.1"
    names = {r["type"]: {p["name"] for p in r.get("searchParam", [])} for r in capability["rest"][0]["resource"]}
    assert {"_id", "patient", "status", "identifier", "_lastUpdated", "_count"} <= names["ServiceRequest"]
    smart = client.get("/fhir/R4/.well-known/smart-configuration").json()
    assert smart["token_endpoint"] == "http://testserver/fhir/R4/auth/token"
    assert smart["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]


def test_fhir_reads_are_audited_on_the_api_channel(client, ehr):
    client.get("/fhir/R4/Patient/00000000-0000-0000-0000-000000000000", **ehr.headers(client))
    event = AuditEvent.objects.filter(action="fhir.read").get()
    assert event.channel == "api" and event.outcome == "denied"


def test_signature_provenance_and_consent(client, ehr, delivered):
    opinion = delivered.opinions.get()
    provenance = client.get(f"/fhir/R4/Provenance/sig-{opinion.pk}", **ehr.headers(client)).json()
    assert provenance["target"] == [{"reference": f"DiagnosticReport/{opinion.pk}"}]
    assert provenance["signature"][0]["who"]["reference"] == f"Practitioner/{opinion.author_id}"
    consent = search(client, ehr, "Consent", patient=f"Patient/{delivered.patient_id}").json()
    assert consent["total"] == 1 and consent["entry"][0]["resource"]["status"] == "active"


def test_case_searches_page_in_the_database(client, ehr):
    for i in range(3):
        assert post_bundle(client, ehr, referral_bundle(identifier=f"R-{i}")).status_code == 201
    first = search(client, ehr, "ServiceRequest", _count=2).json()
    assert first["total"] == 3 and len(first["entry"]) == 2
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = client.get(next_url.replace("http://testserver", ""), **ehr.headers(client)).json()
    ids = {e["resource"]["id"] for e in first["entry"] + second["entry"]}
    assert len(ids) == 3 and not any(link["relation"] == "next" for link in second["link"])
    one = Case.objects.first()
    body = search(client, ehr, "Task", _id=f"{one.pk},not-a-uuid", patient=f"Patient/{one.patient_id}").json()
    assert [e["resource"]["id"] for e in body["entry"]] == [str(one.pk)]
    assert search(client, ehr, "Task", _id="not-a-uuid").json()["total"] == 0
