"""PractitionerRole, ImagingStudy and AuditEvent (IHE BALP) in the FHIR API, and _include: scoped like every read,
audited, valid R4."""

from __future__ import annotations

import datetime as dt

import pytest

from konsil.audit.models import AuditEvent
from konsil.cases.models import Case
from konsil.fhir.resources import validate
from konsil.records.models import Series, Study

from .conftest import post_bundle, referral_bundle, synthea_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(client, ehr, walker):
    assert post_bundle(client, ehr, referral_bundle(synthea_patient("Abdul_Koepp"))).status_code == 201
    case = walker.walk_to(Case.objects.get(), "delivered")
    study = Study.objects.create(case=case, study_uid="1.2.840.113619.2.55.3", study_date=dt.date(2026, 3, 14),
                                 description="CT chest", modalities="CT", accession_number="ACC123")
    Series.objects.create(study=study, series_uid="1.2.840.113619.2.55.3.1", number=2, modality="CT",
                          body_part="CHEST", instance_count=120)
    return case


def get(client, backend, path, **params):
    return client.get(f"/fhir/R4/{path}", params, **backend.headers(client))


def test_imaging_study_of_the_case(client, ehr, other_ehr, delivered):
    body = get(client, ehr, "ImagingStudy", patient=f"Patient/{delivered.patient_id}").json()
    validate(body)
    (entry,) = body["entry"]
    study = validate(entry["resource"])
    assert study["identifier"][0]["value"] == "urn:oid:1.2.840.113619.2.55.3"
    assert study["numberOfInstances"] == 120 and study["series"][0]["modality"]["code"] == "CT"
    assert study["contained"][0]["address"].endswith(f"/dicomweb/cases/{delivered.pk}/")
    assert study["endpoint"] == [{"reference": "#wado"}]
    read = get(client, ehr, f"ImagingStudy/{study['id']}")
    assert read.status_code == 200
    assert AuditEvent.objects.filter(action="fhir.read", object_type="fhir.ImagingStudy",
                                     patient_id=delivered.patient_id).exists()
    assert get(client, other_ehr, f"ImagingStudy/{study['id']}").status_code == 404
    assert get(client, other_ehr, "ImagingStudy").json()["total"] == 0


def test_practitioner_role_of_the_signer(client, ehr, delivered):
    body = get(client, ehr, "PractitionerRole").json()
    validate(body)
    roles = {e["resource"]["id"]: e["resource"] for e in body["entry"]}
    signer = str(delivered.opinions.get().author_id)
    role = roles[signer]
    validate(role)
    assert role["practitioner"] == {"reference": f"Practitioner/{signer}"}
    assert role["specialty"] and role["organization"]["reference"] == f"Organization/{delivered.network_id}"
    assert get(client, ehr, f"PractitionerRole/{signer}").status_code == 200


def test_network_client_reads_its_directory(client, network_client, delivered):
    from konsil.matching.models import Specialist

    body = get(client, network_client, "PractitionerRole").json()
    assert body["total"] == Specialist.objects.filter(network=delivered.network).count()


def test_audit_events_for_the_networks_cases_only(client, ehr, network_client, delivered):
    assert get(client, ehr, "AuditEvent").json()["total"] == 0  # a referring hospital reads no trail
    body = get(client, network_client, "AuditEvent", patient=str(delivered.patient_id), _count=5).json()
    validate(body)
    assert body["total"] >= 5 and len(body["entry"]) == 5
    assert any(link["relation"] == "next" for link in body["link"])
    event = body["entry"][0]["resource"]
    validate(event)
    assert event["meta"]["profile"][0].startswith("https://profiles.ihe.net/ITI/BALP/")
    assert {"reference": f"Patient/{delivered.patient_id}"} in [e.get("what") for e in event["entity"]]
    one = get(client, network_client, f"AuditEvent/{event['id']}")
    assert one.status_code == 200 and one.json()["id"] == event["id"]
    later = get(client, network_client, "AuditEvent", _lastUpdated="gt2999-01-01").json()
    assert later["total"] == 0
    bad = get(client, network_client, "AuditEvent", _lastUpdated="yesterday")
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"


def test_include_adds_the_referenced_resources(client, ehr, delivered):
    body = get(client, ehr, "ServiceRequest", _include="ServiceRequest:subject").json()
    validate(body)
    modes = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in body["entry"]}
    assert modes == {("ServiceRequest", "match"), ("Patient", "include")}
    body = get(client, ehr, "DiagnosticReport",
               _include="DiagnosticReport:performer,DiagnosticReport:based-on").json()
    included = {e["resource"]["resourceType"] for e in body["entry"] if e["search"]["mode"] == "include"}
    assert included == {"Practitioner", "ServiceRequest"}
    body = get(client, ehr, "PractitionerRole", _include="PractitionerRole:practitioner:Practitioner").json()
    assert any(e["resource"]["resourceType"] == "Practitioner" for e in body["entry"])
    assert AuditEvent.objects.filter(action="fhir.search", object_type="fhir.Patient",
                                     patient_id=delivered.patient_id).exists()


@pytest.mark.parametrize("value", ["ServiceRequest:nothing", "Patient:subject", "ServiceRequest:subject:Practitioner",
                                   "ServiceRequest", "*"])
def test_unknown_includes_are_refused(client, ehr, delivered, value):
    response = get(client, ehr, "ServiceRequest", _include=value)
    assert response.status_code == 400 and response.json()["issue"][0]["code"] == "not-supported"


def test_capability_lists_the_new_types_and_includes(client):
    body = client.get("/fhir/R4/metadata").json()
    validate(body)
    types = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert {"PractitionerRole", "ImagingStudy", "AuditEvent"} <= set(types)
    assert "ServiceRequest:subject" in types["ServiceRequest"]["searchInclude"]


@pytest.mark.parametrize("rtype", ["ServiceRequest", "Task"])
def test_status_search_in_the_database_agrees_with_the_resources(client, ehr, delivered, rtype):
    assert post_bundle(client, ehr, referral_bundle(synthea_patient("Abdul_Koepp"), identifier="REF-DRAFT",
                                                    consent=False)).status_code == 201
    every = get(client, ehr, rtype).json()["entry"]
    codes = {e["resource"]["status"] for e in every}
    assert len(codes) == 2
    for code in [*codes, "on-hold", ",".join(sorted(codes))]:
        wanted = {e["resource"]["id"] for e in every if e["resource"]["status"] in code.split(",")}
        body = get(client, ehr, rtype, status=code).json()
        assert {e["resource"]["id"] for e in body.get("entry", [])} == wanted and body["total"] == len(wanted)
