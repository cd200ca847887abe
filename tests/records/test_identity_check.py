"""Wrong-patient check: a record naming another person (document text, DICOM header, FHIR Patient) is flagged on the
record (no PHI stored), the patient's side and coordinators are told, pages list it, a coordinator keeps or
removes it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment, Case, Notification
from konsil.records import identity_check, intake, processing, synthetic
from konsil.records.models import Derivative

from ..factories import make_draft, make_patient
from .records_support import ct, stored_names, text_pdf

pytestmark = pytest.mark.django_db
HOLLOWAY = text_pdf(["Patient: Margaret Holloway", "DOB: 03/14/1952", "Pathology: invasive ductal carcinoma."])


@pytest.fixture
def rosa_case(network, patient_user):
    make_patient(network, patient_user, given_name="Rosa", family_name="Díaz", birth_date=dt.date(1968, 4, 2))
    return make_draft(network, patient_user)


def ingest(case, user, data: bytes, name: str) -> Attachment:
    record = intake.store_record(actor=user, case=case, content=data, filename=name, process=False)
    processing.process(record.pk)
    return Attachment.objects.get(pk=record.pk)


# ---------------------------------------------------------------- reading and comparing


def test_a_document_s_labelled_name_and_birth_date():
    found = identity_check.from_text("Patient: Margaret Holloway   DOB: 03/14/1952\nMRN: 1234")
    assert found == [{"name": "Margaret Holloway", "birth_date": dt.date(1952, 3, 14), "source": "document"}]
    assert identity_check.from_text("Name: HOLLOWAY, MARGARET\nDate of birth: March 14, 1952")[0] == {
        "name": "HOLLOWAY, MARGARET", "birth_date": dt.date(1952, 3, 14), "source": "document"}
    assert identity_check.from_text("Pathology: invasive ductal carcinoma.") == []


@pytest.mark.parametrize(("found", "agree"), [
    ("Rosa Díaz", True), ("ROSA DIAZ", True), ("Diaz, Rosa", True), ("R. Diaz", True), ("DIAZ^ROSA", True),
    ("Mrs. Rosa Diaz", True), ("Margaret Holloway", False), ("Rosa Martinez", False), ("Maria Diaz", False), ("", True),
])
def test_names_agree_ignoring_accents_order_and_initials(found, agree):
    assert identity_check.names_agree(found, "Rosa", "Díaz") is agree


def test_compound_family_names_may_be_shortened():
    assert identity_check.names_agree("Ana García", "Ana", "García López")
    assert not identity_check.names_agree("Ana Pérez", "Ana", "García López")


@pytest.mark.parametrize(("value", "expected"), [
    ("03/14/1952", dt.date(1952, 3, 14)), ("14/03/1952", dt.date(1952, 3, 14)), ("1952-03-14", dt.date(1952, 3, 14)),
    ("19520314", dt.date(1952, 3, 14)), ("14 March 1952", dt.date(1952, 3, 14)), ("13/13/1952", None), ("soon", None),
])
def test_birth_dates(value, expected):
    assert identity_check._date(value) == expected


# ---------------------------------------------------------------- processing flags the record


def test_margaret_holloway_s_pdf_in_rosa_s_case_is_flagged(rosa_case, patient_user, coordinator):
    record = ingest(rosa_case, patient_user, HOLLOWAY, "pathology.pdf")
    assert record.status == "ready"
    assert record.detail["identity"] == {"status": "mismatch", "fields": ["birth_date", "name"],
                                         "sources": ["document"]}
    assert "Holloway" not in json.dumps(record.detail) and "1952" not in json.dumps(record.detail)
    for user in (patient_user, coordinator):
        assert Notification.objects.filter(user=user, case=rosa_case, kind="record_identity").exists()
    event = AuditEvent.objects.get(action="record.identity_mismatch", object_id=str(record.pk))
    assert event.detail == {"fields": ["birth_date", "name"], "sources": ["document"]}
    assert [a.pk for a in identity_check.flagged(rosa_case)] == [record.pk]


def test_rosa_s_own_pdf_is_not_flagged(rosa_case, patient_user):
    record = ingest(rosa_case, patient_user, text_pdf(["Patient: Rosa Diaz", "DOB: 04/02/1968"]), "mine.pdf")
    assert "identity" not in record.detail
    assert not Notification.objects.filter(kind="record_identity").exists()


def test_a_dicom_study_of_another_person_is_flagged(rosa_case, patient_user):
    (data,) = ct(1, name="Holloway^Margaret")
    record = ingest(rosa_case, patient_user, data, "IM0001")
    assert record.detail["identity"]["sources"] == ["dicom"] and "name" in record.detail["identity"]["fields"]


def test_a_fhir_patient_of_another_person_is_flagged(rosa_case, patient_user):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Patient", "id": "p1", "name": [{"family": "Holloway", "given": ["Margaret"]}],
        "birthDate": "1968-04-02"}}]}
    record = ingest(rosa_case, patient_user, json.dumps(bundle).encode(), "export.json")
    assert record.status == "ready", record.error_code
    assert record.detail["identity"] == {"status": "mismatch", "fields": ["name"], "sources": ["fhir"]}


def test_a_check_that_fails_leaves_the_record_ready(rosa_case, patient_user, monkeypatch):
    monkeypatch.setattr(identity_check, "identities", lambda *a: 1 / 0)
    record = ingest(rosa_case, patient_user, HOLLOWAY, "pathology.pdf")
    assert record.status == "ready" and "identity" not in record.detail


# ---------------------------------------------------------------- pages and the coordinator's decision


def test_the_case_page_warns_and_the_records_list_marks_it(rosa_case, patient_user, coordinator, client, login):
    record = ingest(rosa_case, patient_user, HOLLOWAY, "pathology.pdf")
    login(client, coordinator)
    html = client.get(f"/cases/{rosa_case.pk}/").content.decode()
    assert 'id="identity-flags"' in html and "pathology.pdf" in html and "May be another person" in html
    assert f"/triage/records/{record.pk}/identity/" in html  # the coordinator can settle it
    client.logout()
    login(client, patient_user)
    html = client.get(f"/cases/{rosa_case.pk}/").content.decode()
    assert 'id="identity-flags"' in html and f"/triage/records/{record.pk}/identity/" not in html


def test_the_review_screen_lists_flagged_records(rosa_case, patient_user, coordinator):
    ingest(rosa_case, patient_user, HOLLOWAY, "pathology.pdf")
    request = RequestFactory().get("/")
    request.user = coordinator
    html = Template("{% load identity_tags %}{% identity_flags case %}").render(
        Context({"request": request, "case": rosa_case}))
    assert "pathology.pdf" in html
    from django.template.loader import get_template

    assert "identity_flags case" in get_template("opinions/review.html").template.source


def test_a_coordinator_keeps_a_record_of_the_same_person(rosa_case, patient_user, coordinator, client, login):
    record = ingest(rosa_case, patient_user, HOLLOWAY, "pathology.pdf")
    login(client, coordinator)
    response = client.post(f"/triage/records/{record.pk}/identity/", {"action": "confirm"})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.detail["identity"]["status"] == "confirmed" and identity_check.flagged(rosa_case) == []
    assert AuditEvent.objects.filter(action="record.identity_confirm", outcome="success").exists()
    assert 'id="identity-flags"' not in client.get(f"/cases/{rosa_case.pk}/").content.decode()


def test_a_coordinator_removes_another_person_s_record(rosa_case, patient_user, coordinator, client, login):
    record = ingest(rosa_case, patient_user, HOLLOWAY, "pathology.pdf")
    names = [record.storage_name, *Derivative.objects.filter(attachment=record).values_list("storage_name", flat=True)]
    Case.objects.filter(pk=rosa_case.pk).update(status="submitted")
    login(client, coordinator)
    response = client.post(f"/triage/records/{record.pk}/identity/", {"action": "remove"})
    assert response.status_code == 302
    assert not Attachment.objects.filter(pk=record.pk).exists()
    assert not Derivative.objects.filter(attachment_id=record.pk).exists()
    assert not set(names) & stored_names()
    assert AuditEvent.objects.filter(action="record.identity_remove", object_id=str(record.pk)).exists()


@pytest.mark.parametrize("action", ["confirm", "remove", "delete-everything", ""])
def test_the_patient_cannot_settle_it_and_bad_actions_change_nothing(rosa_case, patient_user, client, login,
                                                                     action):
    record = ingest(rosa_case, patient_user, HOLLOWAY, "pathology.pdf")
    login(client, patient_user)
    response = client.post(f"/triage/records/{record.pk}/identity/", {"action": action}, follow=True)
    assert response.status_code == 200
    record.refresh_from_db()
    assert record.detail["identity"]["status"] == "mismatch"
    assert b'alert error' in response.content or b"alert-error" in response.content


def test_settling_a_record_of_a_case_one_cannot_see_is_404(rosa_case, patient_user, other_patient, client, login):
    record = ingest(rosa_case, patient_user, HOLLOWAY, "pathology.pdf")
    login(client, other_patient)
    assert client.post(f"/triage/records/{record.pk}/identity/", {"action": "confirm"}).status_code == 404
    assert client.post("/triage/records/00000000-0000-0000-0000-000000000000/identity/",
                       {"action": "confirm"}).status_code == 404


def _api(user):
    from rest_framework.test import APIClient

    from ..conftest import verified_login

    return verified_login(APIClient(), user)


def test_api_a_coordinator_confirms_and_bad_input_names_the_field(rosa_case, patient_user, coordinator):
    record = ingest(rosa_case, patient_user, HOLLOWAY, "pathology.pdf")
    url = f"/api/v1/records/{record.pk}/identity/"
    bad = _api(coordinator).post(url, {"action": "shred"}, format="json")
    assert bad.status_code == 400 and "action" in bad.json()["errors"]
    assert _api(coordinator).post(url, {}, format="json").json()["errors"].keys() == {"action"}
    denied = _api(patient_user).post(url, {"action": "confirm"}, format="json")
    assert denied.status_code == 403
    record.refresh_from_db()
    assert record.detail["identity"]["status"] == "mismatch"
    ok = _api(coordinator).post(url, {"action": "confirm"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "confirmed"
    again = _api(coordinator).post(url, {"action": "remove"}, format="json")
    assert again.status_code == 409  # no longer flagged: nothing to remove here
    assert _api(coordinator).post("/api/v1/records/00000000-0000-0000-0000-000000000000/identity/",
                                  {"action": "confirm"}, format="json").status_code == 404


def test_a_cd_export_of_another_person_is_flagged(rosa_case, patient_user, tmp_path):
    from .records_support import cd_export, zip_folder

    record = ingest(rosa_case, patient_user, zip_folder(cd_export(tmp_path, ct(2, name="Holloway^Margaret"))), "cd.zip")
    assert record.status == "ready" and record.detail["identity"]["sources"] == ["dicom"]
    rosas = synthetic.ct_series(2, size=64, patient_name="Diaz^Rosa", seed=3, birth_date="19680402")
    own = ingest(rosa_case, patient_user, zip_folder(cd_export(tmp_path, rosas)), "cd2.zip")
    assert own.status == "ready" and "identity" not in own.detail
