"""Bad input over the API: a 400/404/409 JSON body naming the field, nothing half-saved, never a 500."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from konsil.cases.models import Case, CaseDiagnosis, CaseQuestion, Consent, Message, Patient

from .conftest import API


def good_case(**overrides) -> dict:
    body = {
        "channel": "patient",
        "patient": {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17", "sex": "female",
                    "state": "CA", "language": "es"},
        "questions": ["Is surgery the best option?"],
        "diagnoses": ["C50.911"],
        "proposed_treatment": "Mastectomy",
        "proposed_cpt": "19303",
        "treating_physician": "Dr. Ruiz",
        "treating_physician_email": "ruiz@example.test",
        "treating_facility": "General Hospital",
        "urgency": "urgent",
        "preferred_delivery": "video",
        "clinical_summary": "Lump found in March.",
    }
    body.update(overrides)
    return body


def counts() -> tuple:
    return tuple(m.objects.count() for m in (Case, Patient, CaseQuestion, CaseDiagnosis, Consent, Message))


@pytest.fixture
def patient_api(api, patient_user):
    return api(patient_user)


def test_good_case_is_created(patient_api):
    response = patient_api.post(f"{API}/cases/", good_case(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft" and body["urgency"] == "urgent"
    diagnosis = body["diagnoses"][0]
    assert diagnosis["code"] == "C50.911" and "breast" in diagnosis["description"].lower()
    assert body["questions"][0]["id"] and body["patient"]["language"] == "es"


def _patient(**changes) -> dict:
    return {**good_case()["patient"], **changes}


BAD_CREATES = [
    ("unknown ICD code", {"diagnoses": ["C50.911", "XYZ.99"]}, "diagnoses"),
    ("ICD chapter, not a code", {"diagnoses": ["C00-D49"]}, "diagnoses"),
    ("diagnoses as a string", {"diagnoses": "C50.911"}, "diagnoses"),
    ("malformed birth date", {"patient": _patient(birth_date="1970-13-45")}, "patient.birth_date"),
    ("future birth date", {"patient": _patient(birth_date="2999-01-01")}, "patient.birth_date"),
    ("birth date as a number", {"patient": _patient(birth_date=1970)}, "patient.birth_date"),
    ("bad state", {"patient": _patient(state="ZZ")}, "patient.state"),
    ("bad sex", {"patient": _patient(sex="x")}, "patient.sex"),
    ("bad language", {"patient": _patient(language="xx")}, "patient.language"),
    ("missing name", {"patient": _patient(given_name="")}, "patient.given_name"),
    ("huge name", {"patient": _patient(given_name="A" * 5000)}, "patient.given_name"),
    ("patient as a list", {"patient": ["Ana"]}, "patient"),
    ("patient missing", {"patient": None}, "patient"),
    ("unknown patient field", {"patient": _patient(ssn="123")}, "patient.ssn"),
    ("bad urgency", {"urgency": "yesterday"}, "urgency"),
    ("bad delivery", {"preferred_delivery": "pigeon"}, "preferred_delivery"),
    ("bad channel", {"channel": "fax"}, "channel"),
    ("bad CPT", {"proposed_cpt": "12"}, "proposed_cpt"),
    ("bad physician email", {"treating_physician_email": "nobody"}, "treating_physician_email"),
    ("questions as a dict", {"questions": {"q": "Why?"}}, "questions"),
    ("too many questions", {"questions": [f"Q{i}?" for i in range(50)]}, "questions"),
    ("huge question", {"questions": ["Why" * 1000]}, "questions"),
    ("huge summary", {"clinical_summary": "x" * 30000}, "clinical_summary"),
    ("summary as an object", {"clinical_summary": {"a": 1}}, "clinical_summary"),
    ("unknown field", {"diagnosis": ["C50.911"]}, "diagnosis"),
    ("unknown network", {"network": str(uuid.uuid4())}, "network"),
    ("malformed network", {"network": "abc"}, "network"),
]


@pytest.mark.parametrize("label,changes,field", BAD_CREATES, ids=[c[0] for c in BAD_CREATES])
def test_bad_create_names_the_field_and_saves_nothing(patient_api, label, changes, field):
    before = counts()
    response = patient_api.post(f"{API}/cases/", good_case(**changes), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and field in body["errors"], body
    assert all(isinstance(m, str) and m for m in body["errors"][field])
    assert counts() == before


def test_unknown_icd_code_error_shape(patient_api):
    response = patient_api.post(f"{API}/cases/", good_case(diagnoses=["Q99.999X"]), format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["diagnoses"]
    assert "Q99.999X" in response.json()["errors"]["diagnoses"][0]


@pytest.mark.parametrize("payload,content_type", [
    (b"{not json", "application/json"),
    (b"\xff\xfe", "application/json"),
    (b"<xml/>", "application/xml"),
])
def test_unreadable_bodies_are_400_or_415(patient_api, payload, content_type):
    before = counts()
    response = patient_api.generic("POST", f"{API}/cases/", payload, content_type=content_type)
    assert response.status_code in (400, 415)
    assert response.json()["code"] in ("parse_error", "unsupported_media_type")
    assert counts() == before


@pytest.mark.parametrize("payload", [[], ["a"], "text", 42, None])
def test_body_of_the_wrong_type_is_400(patient_api, draft_case, payload):
    for url in (f"{API}/cases/", f"{API}/cases/{draft_case.pk}/transitions/"):
        response = patient_api.post(url, payload, format="json")
        assert response.status_code == 400, (url, payload, response.content)
        assert response.json()["errors"]


def test_patch_validates_everything_and_saves_nothing_on_error(patient_api, draft_case):
    url = f"{API}/cases/{draft_case.pk}/"
    for body in ({"clinical_summary": "New", "proposed_cpt": "12", "diagnoses": ["nope"]},
                 {"clinical_summary": "New", "urgency": "soon"}):
        response = patient_api.patch(url, body, format="json")
        assert response.status_code == 400
        assert set(response.json()["errors"]) == set(body) - {"clinical_summary"}
    draft_case.refresh_from_db()
    assert draft_case.clinical_summary == "" and draft_case.urgency == "routine"
    assert list(draft_case.diagnoses.values_list("code", flat=True)) == ["I25.10"]
    response = patient_api.patch(url, {"clinical_summary": "New", "diagnoses": ["c50911"]}, format="json")
    assert response.status_code == 200
    assert response.json()["diagnoses"][0]["code"] == "C50.911"
    assert response.json()["clinical_summary"] == "New"


def test_patch_after_submission_is_409(patient_api, walker, draft_case):
    case = walker.walk_to(draft_case, "submitted")
    response = patient_api.patch(f"{API}/cases/{case.pk}/", {"clinical_summary": "late"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "not_editable"


def test_put_is_not_allowed(patient_api, draft_case):
    assert patient_api.put(f"{API}/cases/{draft_case.pk}/", good_case(), format="json").status_code == 405


@pytest.mark.parametrize("path", [
    "/cases/not-a-uuid/", "/cases/123/transitions/", f"/cases/{uuid.uuid4()}/",
    "/cases/not-a-uuid/opinion/", "/cases/not-a-uuid/report.pdf", "/cases/x/attachments/y/download/",
])
def test_bad_ids_in_the_url_are_404(patient_api, path):
    method = patient_api.post if path.endswith("transitions/") else patient_api.get
    response = method(API + path, {"action": "submit"}, format="json") if method == patient_api.post \
        else method(API + path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_attachment_id_is_404(patient_api, draft_case):
    for att in ("nope", uuid.uuid4()):
        response = patient_api.get(f"{API}/cases/{draft_case.pk}/attachments/{att}/download/")
        assert response.status_code == 404


def test_missing_questions_block_submission(patient_api):
    response = patient_api.post(f"{API}/cases/", good_case(questions=[]), format="json")
    case_id = response.json()["id"]
    patient_api.post(f"{API}/cases/{case_id}/consent/", {"scope": ["share_with_reviewers"],
                                                         "signer_name": "Ana García"}, format="json")
    response = patient_api.post(f"{API}/cases/{case_id}/transitions/", {"action": "submit"}, format="json")
    assert response.status_code == 400
    assert "questions" in response.json()["errors"]
    assert Case.objects.get(pk=case_id).status == "draft"


def test_missing_consent_blocks_submission(patient_api):
    case_id = patient_api.post(f"{API}/cases/", good_case(), format="json").json()["id"]
    response = patient_api.post(f"{API}/cases/{case_id}/transitions/", {"action": "submit"}, format="json")
    assert response.status_code == 400 and "consent" in response.json()["errors"]


@pytest.mark.parametrize("body,field", [
    ({"scope": [], "signer_name": "Ana"}, "scope"),
    ({"scope": ["everything"], "signer_name": "Ana"}, "scope"),
    ({"scope": ["obtain_records"], "signer_name": "Ana"}, "scope"),
    ({"scope": "share_with_reviewers", "signer_name": "Ana"}, "scope"),
    ({"scope": ["share_with_reviewers"], "signer_name": ""}, "signer_name"),
    ({"scope": ["share_with_reviewers"]}, "signer_name"),
    ({"scope": ["share_with_reviewers"], "signer_name": "Ana", "ip": "1.2.3.4"}, "ip"),
])
def test_bad_consent(patient_api, network, patient_user, body, field):
    from ..factories import make_draft

    case = make_draft(network, patient_user, consent=False)
    response = patient_api.post(f"{API}/cases/{case.pk}/consent/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()
    assert not Consent.objects.filter(case=case).exists()


@pytest.mark.parametrize(("relationship", "message"), [
    ("self", "As the referring clinician, sign as the treating clinician who refers the patient."),
    ("son", "Choose a relationship from the list."),
])
def test_a_referring_clinician_signing_as_the_patient_is_a_field_error(api, network, relationship, message):
    from konsil.accounts.roles import Role

    from ..factories import make_user

    clinician = make_user(Role.REFERRING_CLINICIAN, network)
    client = api(clinician)
    case_id = client.post(f"{API}/cases/", good_case(channel="clinician"), format="json").json()["id"]
    body = {"scope": ["share_with_reviewers"], "signer_name": "Dr. Rita Referrer",
            "signer_relationship": relationship}
    response = client.post(f"{API}/cases/{case_id}/consent/", body, format="json")
    assert response.status_code == 400 and response.json()["errors"] == {"signer_relationship": [message]}
    assert not Consent.objects.filter(case_id=case_id).exists()
    response = client.post(f"{API}/cases/{case_id}/consent/", {**body, "signer_relationship": "treating_clinician"},
                           format="json")
    assert response.status_code == 201 and response.json()["signer_relationship"] == "treating_clinician"


def test_unknown_action_is_400(patient_api, draft_case):
    response = patient_api.post(f"{API}/cases/{draft_case.pk}/transitions/", {"action": "teleport"},
                                format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_action" and "action" in response.json()["errors"]


def test_action_missing_or_of_the_wrong_type_is_400(patient_api, draft_case):
    url = f"{API}/cases/{draft_case.pk}/transitions/"
    for body in ({}, {"action": ["submit"]}, {"action": None}, {"action": "a" * 500}):
        response = patient_api.post(url, body, format="json")
        assert response.status_code == 400 and "action" in response.json()["errors"], body


def test_illegal_transition_is_409(patient_api, draft_case):
    url = f"{API}/cases/{draft_case.pk}/transitions/"
    response = patient_api.post(url, {"action": "close"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    draft_case.refresh_from_db()
    assert draft_case.status == "draft"


def test_role_that_may_not_is_403(patient_api, walker, draft_case):
    case = walker.walk_to(draft_case, "submitted")
    response = patient_api.post(f"{API}/cases/{case.pk}/transitions/",
                                {"action": "triage", "specialty": "cardiology"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


@pytest.mark.parametrize("body,field", [
    ({"action": "triage"}, "specialty"),
    ({"action": "triage", "specialty": "astrology"}, "specialty"),
    ({"action": "triage", "specialty": "cardiology", "urgency": "later"}, "urgency"),
    ({"action": "triage", "specialty": ["cardiology"]}, "specialty"),
    ({"action": "triage", "specialty": "cardiology", "specialist": "x"}, "specialist"),
    ({"action": "triage", "specialty": "cardiology", "reason": "r" * 6000}, "reason"),
])
def test_bad_transition_params_are_400(api, walker, draft_case, coordinator, body, field):
    case = walker.walk_to(draft_case, "submitted")
    response = api(coordinator).post(f"{API}/cases/{case.pk}/transitions/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()
    case.refresh_from_db()
    assert case.status == "submitted" and case.specialty_id is None


@pytest.mark.parametrize("specialist_id", ["not-a-uuid", str(uuid.uuid4()), ""])
def test_offer_to_an_unknown_specialist_is_400(api, walker, draft_case, coordinator, specialist_id):
    case = walker.walk_to(draft_case, "triaged")
    response = api(coordinator).post(f"{API}/cases/{case.pk}/transitions/",
                                     {"action": "offer", "specialist": specialist_id}, format="json")
    assert response.status_code == 400 and "specialist" in response.json()["errors"]
    assert not case.offers.exists()


def test_decline_needs_a_reason_and_huge_messages_are_refused(api, walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "offered")
    client = api(specialist.user)
    response = client.post(f"{API}/cases/{case.pk}/transitions/", {"action": "decline"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["errors"]
    client.post(f"{API}/cases/{case.pk}/transitions/", {"action": "accept"}, format="json")
    client.post(f"{API}/cases/{case.pk}/transitions/", {"action": "start_review"}, format="json")
    response = client.post(f"{API}/cases/{case.pk}/transitions/",
                           {"action": "request_info", "message": "x" * 20000}, format="json")
    assert response.status_code == 400 and "message" in response.json()["errors"]
    case.refresh_from_db()
    assert case.status == "in_review"


@pytest.mark.parametrize("body,field", [
    ({"body": ""}, "body"), ({"body": "x" * 20000}, "body"), ({"body": ["hi"]}, "body"), ({}, "body"),
    ({"body": "hi", "to": "all"}, "to"),
])
def test_bad_messages(patient_api, walker, draft_case, body, field):
    case = walker.walk_to(draft_case, "submitted")
    before = Message.objects.count()
    response = patient_api.post(f"{API}/cases/{case.pk}/messages/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert Message.objects.count() == before


def test_messages_on_a_draft_are_409(patient_api, draft_case):
    response = patient_api.post(f"{API}/cases/{draft_case.pk}/messages/", {"body": "hi"}, format="json")
    assert response.status_code == 409


def test_bad_attachments(patient_api, draft_case):
    url = f"{API}/cases/{draft_case.pk}/attachments/"
    assert "file" in patient_api.post(url, {"description": "x"}, format="multipart").json()["errors"]
    empty = SimpleUploadedFile("empty.pdf", b"")
    assert "file" in patient_api.post(url, {"file": empty}, format="multipart").json()["errors"]
    long = {"file": SimpleUploadedFile("a.txt", b"a"), "description": "d" * 300}
    assert "description" in patient_api.post(url, long, format="multipart").json()["errors"]
    assert patient_api.post(url, {"file": "x"}, format="json").status_code == 415
    assert not draft_case.attachments.exists()


def test_oversized_attachment_is_refused(patient_api, draft_case, settings):
    settings.KONSIL_MAX_ATTACHMENT_BYTES = 10
    response = patient_api.post(f"{API}/cases/{draft_case.pk}/attachments/",
                                {"file": SimpleUploadedFile("big.txt", b"x" * 11)}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["errors"]


@pytest.fixture
def in_review(walker, draft_case):
    return walker.walk_to(draft_case, "in_review")


@pytest.mark.parametrize("body,field", [
    ({"diagnosis_verdict": "maybe"}, "diagnosis_verdict"),
    ({"treatment_verdict": 3}, "treatment_verdict"),
    ({"confidence": "absolute"}, "confidence"),
    ({"revised_diagnosis": "NOPE1"}, "revised_diagnosis"),
    ({"answers": {str(uuid.uuid4()): "yes"}}, "answers"),
    ({"answers": ["yes"]}, "answers"),
    ({"narrative": "n" * 25000}, "narrative"),
    ({"signature": "me"}, "signature"),
])
def test_bad_opinion_fields(api, in_review, specialist, body, field):
    response = api(specialist.user).patch(f"{API}/cases/{in_review.pk}/opinion/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()
    assert not in_review.opinions.exists()


def test_opinion_outside_review_is_409_and_others_may_not_write(api, walker, draft_case, specialist,
                                                                coordinator):
    case = walker.walk_to(draft_case, "accepted")
    url = f"{API}/cases/{case.pk}/opinion/"
    assert api(specialist.user).put(url, {"narrative": "x"}, format="json").status_code == 409
    case = walker.walk_to(case, "in_review")
    assert api(coordinator).put(url, {"narrative": "x"}, format="json").status_code == 403


def test_bad_filters_and_notification_ids(patient_api):
    response = patient_api.get(f"{API}/cases/?status=lost")
    assert response.status_code == 400 and "status" in response.json()["errors"]
    assert patient_api.get(f"{API}/cases/?urgency=soon").status_code == 400
    response = patient_api.post(f"{API}/notifications/read/", {"ids": ["x"]}, format="json")
    assert response.status_code == 400 and "ids.0" in response.json()["errors"]
    response = patient_api.post(f"{API}/notifications/read/", {}, format="json")
    assert response.status_code == 400 and "ids" in response.json()["errors"]
    many = [str(uuid.uuid4()) for _ in range(1001)]  # a bounded list (one bind parameter per id on PostgreSQL)
    response = patient_api.post(f"{API}/notifications/read/", {"ids": many}, format="json")
    assert response.status_code == 400 and "ids" in response.json()["errors"]
    assert patient_api.post(f"{API}/notifications/read/", {"ids": many[:1000]}, format="json").status_code == 200


def test_bad_directory_filters(api, coordinator):
    client = api(coordinator)
    for query, field in (("state=ZZ", "state"), ("language=xx", "language"),
                         ("specialty=astrology", "specialty"), ("state=" + "C" * 50, "state")):
        response = client.get(f"{API}/specialists/?{query}")
        assert response.status_code == 400 and field in response.json()["errors"], query


def test_oversized_body_is_400_not_500(patient_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = patient_api.post(f"{API}/cases/", good_case(clinical_summary="x" * 5000), format="json")
    assert response.status_code == 400
