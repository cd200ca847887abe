"""Object-level access over the API: each role against its own and foreign cases, for every endpoint."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from konsil.audit.models import AuditEvent
from konsil.cases import services
from konsil.cases.models import Message
from konsil.triage.services import propose

from .conftest import API

CASE_ENDPOINTS = [
    ("get", "/cases/{id}/", None),
    ("patch", "/cases/{id}/", {"clinical_summary": "x"}),
    ("post", "/cases/{id}/consent/", {"scope": ["share_with_reviewers"], "signer_name": "X"}),
    ("post", "/cases/{id}/transitions/", {"action": "close"}),
    ("get", "/cases/{id}/attachments/", None),
    ("post", "/cases/{id}/attachments/", "file"),
    ("get", "/cases/{id}/attachments/{att}/download/", None),
    ("get", "/cases/{id}/messages/", None),
    ("post", "/cases/{id}/messages/", {"body": "hello"}),
    ("get", "/cases/{id}/triage/", None),
    ("get", "/cases/{id}/candidates/", None),
    ("get", "/cases/{id}/opinion/", None),
    ("patch", "/cases/{id}/opinion/", {"narrative": "x"}),
    ("get", "/cases/{id}/opinions/", None),
    ("get", "/cases/{id}/report.pdf", None),
]
OTHER_ENDPOINTS = [("get", "/me/"), ("get", "/cases/"), ("post", "/cases/"), ("get", "/specialists/"),
                   ("get", "/specialties/"), ("get", "/notifications/"), ("post", "/notifications/read/")]


def call(client, method, path, body=None):
    if body == "file":
        return client.post(API + path, {"file": SimpleUploadedFile("x.txt", b"abc")}, format="multipart")
    return getattr(client, method)(API + path, body, format="json") if body is not None else \
        getattr(client, method)(API + path)


@pytest.fixture
def delivered(walker, draft_case, patient_user):
    """A delivered case of patient_user with one document, one message and a triage proposal."""
    case = walker.walk_to(draft_case, "submitted")
    propose(case=case)
    case = walker.walk_to(case, "delivered")
    attachment = services.add_attachment(actor=patient_user, case=case, description="echo",
                                         upload=SimpleUploadedFile("echo.txt", b"EF 55%"))
    services.post_message(actor=patient_user, case=case, body="Thank you")
    return case, attachment


def _user(fixture):
    """The user behind a fixture (the specialist fixtures are Specialist rows)."""
    return getattr(fixture, "user", fixture)


def _path(template, case, attachment):
    return template.format(id=case.pk, att=attachment.pk)


@pytest.mark.parametrize("method,template,body", CASE_ENDPOINTS)
def test_anonymous_gets_401_on_case_endpoints(api, delivered, method, template, body):
    case, attachment = delivered
    response = call(api(), method, _path(template, case, attachment), body)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("method,path", OTHER_ENDPOINTS)
def test_anonymous_gets_401_elsewhere(api, db, method, path):
    assert call(api(), method, path, {} if method == "post" else None).status_code == 401


FOREIGN = ["other_patient", "other_coordinator", "other_specialist", "payer_admin", "auditor"]


@pytest.mark.parametrize("who", FOREIGN)
@pytest.mark.parametrize("method,template,body", CASE_ENDPOINTS)
def test_foreign_users_get_404_and_change_nothing(request, api, delivered, payer, who, method, template,
                                                  body):
    case, attachment = delivered
    case.sponsor = payer  # the payer admin's program sponsors the case: still no clinical content
    case.save(update_fields=["sponsor"])
    user = _user(request.getfixturevalue(who))
    messages = Message.objects.count()
    response = call(api(user), method, _path(template, case, attachment), body)
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    case.refresh_from_db()
    assert case.status == "delivered" and Message.objects.count() == messages
    assert AuditEvent.objects.filter(actor=user, outcome="denied").exists()


@pytest.mark.parametrize("who", FOREIGN)
def test_foreign_users_list_none_of_the_case(request, api, delivered, payer, who):
    case, _attachment = delivered
    case.sponsor = payer
    case.save(update_fields=["sponsor"])
    response = api(_user(request.getfixturevalue(who))).get(f"{API}/cases/")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_patient_a_cannot_see_patient_b(api, patient_user, draft_case, other_case):
    client = api(patient_user)
    ids = [c["id"] for c in client.get(f"{API}/cases/").json()["results"]]
    assert ids == [str(draft_case.pk)]
    assert client.get(f"{API}/cases/{other_case.pk}/").status_code == 404
    assert client.get(f"{API}/cases/{draft_case.pk}/").status_code == 200


OWN = {
    # role: {endpoint: expected status} on a delivered case (others in CASE_ENDPOINTS are writes)
    "patient_user": {"/cases/{id}/": 200, "/cases/{id}/attachments/": 200,
                     "/cases/{id}/attachments/{att}/download/": 200, "/cases/{id}/messages/": 200,
                     "/cases/{id}/triage/": 403, "/cases/{id}/candidates/": 403, "/cases/{id}/opinion/": 200,
                     "/cases/{id}/opinions/": 200},
    "coordinator": {"/cases/{id}/": 200, "/cases/{id}/attachments/": 200,
                    "/cases/{id}/attachments/{att}/download/": 200, "/cases/{id}/messages/": 200,
                    "/cases/{id}/triage/": 200, "/cases/{id}/candidates/": 200, "/cases/{id}/opinion/": 200,
                    "/cases/{id}/opinions/": 200},
    "specialist": {"/cases/{id}/": 200, "/cases/{id}/attachments/": 200,
                   "/cases/{id}/attachments/{att}/download/": 200, "/cases/{id}/messages/": 200,
                   "/cases/{id}/triage/": 200, "/cases/{id}/candidates/": 403, "/cases/{id}/opinion/": 200,
                   "/cases/{id}/opinions/": 200},
}


@pytest.mark.parametrize("who", sorted(OWN))
def test_own_reads_per_role(request, api, delivered, who):
    case, attachment = delivered
    user = _user(request.getfixturevalue(who))
    client = api(user)
    for template, expected in OWN[who].items():
        response = client.get(API + _path(template, case, attachment))
        assert response.status_code == expected, (template, response.content)
    assert [c["id"] for c in client.get(f"{API}/cases/").json()["results"]] == [str(case.pk)]


def test_download_returns_the_decrypted_bytes_and_is_audited(api, delivered, patient_user):
    case, attachment = delivered
    response = api(patient_user).get(f"{API}/cases/{case.pk}/attachments/{attachment.pk}/download/",
                                     HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 200 and response.streaming  # decrypted piece by piece, never whole in memory
    assert b"".join(response.streaming_content) == b"EF 55%"
    assert "attachment" in response["Content-Disposition"] and response["Content-Length"] == "6"
    assert AuditEvent.objects.filter(actor=patient_user, action="attachment.download",
                                     object_id=str(attachment.pk)).exists()


def test_a_damaged_document_is_a_409_with_a_json_body_not_a_500(api, delivered, patient_user):
    from ..records.records_support import storage_root

    case, attachment = delivered
    path = storage_root() / attachment.storage_name
    sealed = bytearray(path.read_bytes())
    sealed[-1] ^= 0xFF  # flipped bits in the ciphertext
    path.write_bytes(bytes(sealed))
    response = api(patient_user).get(f"{API}/cases/{case.pk}/attachments/{attachment.pk}/download/")
    assert response.status_code == 409 and response.json()["code"] == "unreadable"


def test_a_document_of_another_case_is_404(api, delivered, other_case, other_patient):
    _case, attachment = delivered
    response = api(other_patient).get(f"{API}/cases/{other_case.pk}/attachments/{attachment.pk}/download/")
    assert response.status_code == 404


def test_specialist_sees_only_offered_or_assigned(api, walker, draft_case, specialist, other_specialist,
                                                  coordinator):
    mine, theirs = api(specialist.user), api(other_specialist.user)
    url = f"{API}/cases/{draft_case.pk}/"
    case = walker.walk_to(draft_case, "triaged")
    assert mine.get(url).status_code == 404
    assert mine.get(f"{API}/cases/").json()["results"] == []
    case = walker.walk_to(case, "offered")
    assert mine.get(url).status_code == 200
    assert [a["action"] for a in mine.get(url).json()["allowed_actions"]] == ["accept", "decline"]
    assert theirs.get(url).status_code == 404
    # Declining ends the access; the answer carries only the status.
    response = mine.post(f"{url}transitions/", {"action": "decline", "reason": "On leave"}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"id", "reference", "status"}
    assert mine.get(url).status_code == 404


def test_signer_keeps_access_after_closing(api, walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "closed")
    response = api(specialist.user).get(f"{API}/cases/{case.pk}/opinions/")
    assert response.status_code == 200 and len(response.json()) == 1


def test_payer_admin_gets_no_clinical_content(api, draft_case, payer, payer_admin):
    draft_case.sponsor = payer
    draft_case.save(update_fields=["sponsor"])
    client = api(payer_admin)
    assert client.get(f"{API}/cases/").json()["results"] == []
    assert client.get(f"{API}/cases/{draft_case.pk}/").status_code == 404
    assert client.post(f"{API}/cases/", {}, format="json").status_code == 403


def test_coordinator_of_another_network_gets_404(api, draft_case, other_coordinator, walker):
    case = walker.walk_to(draft_case, "submitted")
    client = api(other_coordinator)
    assert client.get(f"{API}/cases/{case.pk}/").status_code == 404
    response = client.post(f"{API}/cases/{case.pk}/transitions/",
                           {"action": "triage", "specialty": "cardiology"}, format="json")
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.status == "submitted"


def test_mfa_role_session_without_otp_is_refused(client, coordinator, patient_user, login):
    client.force_login(coordinator)
    response = client.get(f"{API}/cases/")
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"
    login(client, coordinator)  # after the TOTP step
    assert client.get(f"{API}/cases/").status_code == 200


def test_patient_session_works_without_otp(client, patient_user, draft_case):
    client.force_login(patient_user)
    response = client.get(f"{API}/cases/")
    assert response.status_code == 200 and response.json()["count"] == 1


def test_session_writes_need_csrf(patient_user, draft_case):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(patient_user)
    response = client.patch(f"{API}/cases/{draft_case.pk}/", {"clinical_summary": "x"},
                            content_type="application/json")
    assert response.status_code == 403


def test_directory_is_for_coordinators_and_specialists_of_the_network(api, other_network, coordinator,
                                                                      specialist, patient_user):
    from ..factories import make_specialist

    make_specialist(other_network, specialty="cardiology")
    response = api(coordinator).get(f"{API}/specialists/")
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["results"]] == [str(specialist.pk)]
    assert api(specialist.user).get(f"{API}/specialists/").status_code == 200
    assert api(patient_user).get(f"{API}/specialists/").status_code == 403
    assert api(patient_user).get(f"{API}/specialties/").status_code == 200


def test_notifications_are_own_only(api, walker, draft_case, patient_user, coordinator):
    walker.walk_to(draft_case, "triaged")
    mine = api(patient_user).get(f"{API}/notifications/").json()["results"]
    theirs = api(coordinator).get(f"{API}/notifications/").json()["results"]
    assert mine and theirs
    assert not {n["id"] for n in mine} & {n["id"] for n in theirs}
    assert {n["page"] for n in mine} == {f"/cases/{draft_case.pk}/"}  # where the reader acts, as the web list
    # Marking someone else's notification as read does nothing.
    response = api(patient_user).post(f"{API}/notifications/read/", {"ids": [theirs[0]["id"]]}, format="json")
    assert response.json() == {"marked": 0}
    response = api(patient_user).post(f"{API}/notifications/read/", {"all": True}, format="json")
    assert response.json() == {"marked": len(mine)}
