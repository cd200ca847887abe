"""Coverage (the program funding a case) and QuestionnaireResponse (answered follow-ups) in the FHIR API: valid R4,
scoped to the client's cases, follow-up answers only where the report may be read."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from konsil.accounts.roles import OrganizationKind
from konsil.cases.models import Case
from konsil.fhir.resources import validate
from konsil.outcomes import questionnaires
from konsil.outcomes.models import FollowUp, FollowUpStatus
from konsil.programs.models import Enrollment, Member, Program

from ..factories import OrganizationFactory
from .conftest import post_bundle, referral_bundle, synthea_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(client, ehr, walker):
    assert post_bundle(client, ehr, referral_bundle(synthea_patient("Abdul_Koepp"))).status_code == 201
    case = walker.walk_to(Case.objects.get(), "delivered")
    payer = OrganizationFactory(name="Acme Health Plan", kind=OrganizationKind.PAYER)
    Case.objects.filter(pk=case.pk).update(sponsor=payer)  # as a program case is created
    program = Program.objects.create(sponsor=payer, network=case.network, name="Acme second opinions",
                                     slug="acme-so", languages=["en"], services=["written"])
    member = Member.objects.create(program=program, member_id="ACM123", subscriber_id="ACM100",
                                   relationship="spouse", given_name="Abdul", family_name="Koepp",
                                   birth_date=dt.date(1980, 1, 2), coverage_start=dt.date(2026, 1, 1),
                                   fingerprint="x")
    Enrollment.objects.create(case=case, program=program, member=member, eligible=True, reason="eligible")
    values = {"followed": "yes", "plan_changed": "no", "nps": 9}
    stored = questionnaires.response("patient", {k: v for k, v in values.items()
                                                 if k in {q.link_id for q in questionnaires.questions_for("patient")}},
                                     case_reference=case.reference, language="en")
    FollowUp.objects.create(case=case, respondent="patient", day=30, questionnaire=stored["questionnaire"],
                            due_at=timezone.now(), status=FollowUpStatus.ANSWERED, answered_at=timezone.now(),
                            response=json.dumps(stored))
    FollowUp.objects.create(case=case, respondent="physician", day=30, questionnaire="x", due_at=timezone.now())
    return case


def get(client, backend, path, **params):
    return client.get(f"/fhir/R4/{path}", params, **backend.headers(client))


def test_coverage_names_the_program_and_the_member(client, ehr, other_ehr, delivered):
    body = get(client, ehr, "Coverage", patient=str(delivered.patient_id), _include="Coverage:payor").json()
    validate(body)
    coverage = next(e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == "Coverage")
    validate(coverage)
    assert coverage["identifier"][0]["value"] == "ACM123" and coverage["subscriberId"] == "ACM100"
    assert coverage["relationship"]["coding"][0]["code"] == "spouse"
    assert coverage["class"][0]["name"] == "Acme second opinions" and coverage["status"] == "active"
    assert any(e["resource"]["resourceType"] == "Organization" and e["search"]["mode"] == "include"
               for e in body["entry"])
    assert get(client, ehr, "Coverage", identifier="urn:konsil:program:acme-so:member|ACM123").json()["total"] == 1
    assert get(client, other_ehr, "Coverage").json()["total"] == 0
    assert get(client, other_ehr, f"Coverage/{coverage['id']}").status_code == 404


def test_answered_follow_ups_as_questionnaire_responses(client, ehr, other_ehr, delivered):
    body = get(client, ehr, "QuestionnaireResponse", subject=f"Patient/{delivered.patient_id}").json()
    validate(body)
    (entry,) = body["entry"]  # the unanswered physician follow-up is not a response
    qr = validate(entry["resource"])
    assert qr["status"] == "completed" and qr["basedOn"] == [{"reference": f"ServiceRequest/{delivered.pk}"}]
    assert {i["linkId"] for i in qr["item"]} >= {"followed"}
    assert get(client, ehr, f"QuestionnaireResponse/{qr['id']}").status_code == 200
    assert get(client, other_ehr, "QuestionnaireResponse").json()["total"] == 0


@pytest.fixture
def plan(network):
    payer = OrganizationFactory(name="Blue Plan", kind=OrganizationKind.PAYER)
    program = Program.objects.create(sponsor=payer, network=network, name="Blue second opinions", slug="blue-so",
                                     languages=["en"], services=["written"])
    person = synthea_patient("Abdul_Koepp")
    Member.objects.create(program=program, member_id="BLU42", given_name=person["name"][0]["given"][0],
                          family_name=person["name"][0]["family"],
                          birth_date=dt.date.fromisoformat(person["birthDate"]),
                          coverage_start=dt.date(2020, 1, 1), fingerprint="x")
    return program


def with_coverage(member_id="BLU42", plan_slug="blue-so", identifier="REF-COV"):
    bundle = referral_bundle(synthea_patient("Abdul_Koepp"), identifier=identifier)
    subject = {"reference": bundle["entry"][0]["fullUrl"]}
    bundle["entry"].append({"fullUrl": "urn:uuid:5b0f1c2e-0000-4000-8000-000000000001",
                            "request": {"method": "POST", "url": "Coverage"},
                            "resource": {"resourceType": "Coverage", "status": "active", "beneficiary": subject,
                                         "subscriberId": member_id,
                                         "payor": [{"display": "Blue Plan"}],
                                         "class": [{"type": {"coding": [{
                                             "system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                             "code": "plan"}]}, "value": plan_slug}]}})
    return bundle


def test_referral_with_coverage_is_a_program_case(client, ehr, plan, specialist):
    response = post_bundle(client, ehr, with_coverage())
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert case.sponsor == plan.sponsor and case.channel == "payer"
    enrollment = Enrollment.objects.get(case=case)
    assert enrollment.eligible and enrollment.member.member_id == "BLU42"
    body = get(client, ehr, "Coverage").json()
    assert body["entry"][0]["resource"]["identifier"][0]["value"] == "BLU42"


@pytest.mark.parametrize("member_id, plan_slug, words", [("NOPE", "blue-so", "Not covered"),
                                                         ("BLU42", "red-so", "program")])
def test_referral_with_bad_coverage_is_refused_whole(client, ehr, plan, member_id, plan_slug, words):
    response = post_bundle(client, ehr, with_coverage(member_id, plan_slug))
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and words in json.dumps(body)
    assert not Case.objects.exists() and not Enrollment.objects.exists()
