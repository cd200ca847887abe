"""Patient matching on referral: the same person referred twice is one patient record (by the sender's identifier,
or by unambiguous demographics); doubt makes a new record, never a wrong merge."""

from __future__ import annotations

import copy

import pytest

from konsil.audit.models import AuditEvent
from konsil.cases.models import Case, Patient
from konsil.fhir.models import PatientLink

from .conftest import post_bundle, referral_bundle, synthea_patient

pytestmark = pytest.mark.django_db


def send(client, backend, patient, identifier):
    response = post_bundle(client, backend, referral_bundle(patient, identifier=identifier))
    assert response.status_code == 201, response.content
    return Case.objects.get(fhir_referral__value=identifier)


def matched_how(case) -> str:
    return AuditEvent.objects.get(action="fhir.referral", object_id=str(case.pk)).detail["patient_match"]


def test_same_identifier_same_patient(client, ehr, specialist):
    person = synthea_patient("Abdul_Koepp")
    first = send(client, ehr, person, "REF-1")
    second = send(client, ehr, person, "REF-2")
    assert first.patient_id == second.patient_id and Patient.objects.count() == 1
    assert matched_how(first) == "new" and matched_how(second) == "identifier"
    assert PatientLink.objects.filter(patient=first.patient).exists()


def test_unambiguous_demographics_from_another_sender(client, ehr, other_ehr, specialist):
    person = synthea_patient("Abdul_Koepp")
    first = send(client, ehr, person, "REF-1")
    stranger = {k: v for k, v in copy.deepcopy(person).items() if k != "identifier"}
    for name in stranger.get("name", []):
        name["family"] = name["family"].upper()  # case does not matter
    second = send(client, other_ehr, stranger, "OTHER-1")
    assert second.patient_id == first.patient_id and matched_how(second) == "demographics"


def test_new_details_make_a_new_identity_version(client, ehr, specialist):
    person = synthea_patient("Abdul_Koepp")
    first = send(client, ehr, person, "REF-1")
    moved = copy.deepcopy(person)
    moved["telecom"] = [{"system": "phone", "value": "555-0199"}]
    second = send(client, ehr, moved, "REF-2")
    assert second.patient_id == first.patient_id
    assert second.identity_id != first.identity_id and second.identity.phone == "555-0199"
    first.refresh_from_db()
    assert first.identity.phone != "555-0199"  # the first case keeps the identity it was submitted with


def test_doubt_makes_a_new_record(client, ehr, other_ehr, specialist):
    person = synthea_patient("Abdul_Koepp")
    send(client, ehr, person, "REF-1")
    other = {k: v for k, v in copy.deepcopy(person).items() if k != "identifier"}
    other["name"] = [{"family": person["name"][0]["family"], "given": ["Someone"]}]
    third = send(client, other_ehr, other, "OTHER-1")
    assert matched_how(third) == "new" and Patient.objects.count() == 2
    # two records that both fit: no merge
    twin = {k: v for k, v in copy.deepcopy(person).items() if k != "identifier"}
    Patient.objects.create(network=third.network, given_name=person["name"][0]["given"][0],
                           family_name=person["name"][0]["family"], birth_date=person["birthDate"],
                           sex=person["gender"], state="MA")
    fourth = send(client, other_ehr, twin, "OTHER-2")
    assert matched_how(fourth) == "new" and Patient.objects.count() == 4
