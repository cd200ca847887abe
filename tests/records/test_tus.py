"""Resumable uploads (tus 1.0.0) through the Django test client: protocol, limits, scoping, encryption at rest."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment
from konsil.records.models import Upload, UploadStatus

from .records_support import (
    TUS,
    stored_names,
    text_pdf,
    tus_create,
    tus_patch,
    tus_upload,
    uploads_url,
)

pytestmark = pytest.mark.django_db
PDF = text_pdf(["Discharge letter: stable angina, follow up in clinic."])


@pytest.fixture
def patient_client(client, login, patient_user):
    return login(client, patient_user)


def _upload(location: str) -> Upload:
    return Upload.objects.get(pk=location.rstrip("/").rsplit("/", 1)[-1])


def test_options_announces_the_protocol(patient_client, draft_case):
    response = patient_client.options(uploads_url(draft_case))
    assert response.status_code == 204
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Tus-Version"] == "1.0.0"
    assert set(response["Tus-Extension"].split(",")) >= {"creation", "termination"}
    assert int(response["Tus-Max-Size"]) > 0


def test_create_head_and_patch_in_chunks(patient_client, draft_case, django_capture_on_commit_callbacks):
    batch = str(uuid.uuid4())
    created = tus_create(patient_client, draft_case, len(PDF), "letter.pdf", batch=batch)
    assert created.status_code == 201, created.content
    assert created["Upload-Offset"] == "0"
    location = created["Location"]
    assert location.startswith("http://testserver/")
    upload = _upload(location)
    assert upload.filename == "letter.pdf" and str(upload.batch) == batch and upload.length == len(PDF)

    head = patient_client.head(location, **TUS)
    assert head.status_code == 200
    assert head["Upload-Offset"] == "0" and head["Upload-Length"] == str(len(PDF))

    first = tus_patch(patient_client, location, 0, PDF[:100])
    assert first.status_code == 204 and first["Upload-Offset"] == "100"
    assert patient_client.head(location, **TUS)["Upload-Offset"] == "100"
    parts = _upload(location).parts
    assert len(parts) == 1 and set(stored_names()) == {parts[0]["name"]}

    with django_capture_on_commit_callbacks(execute=True):
        last = tus_patch(patient_client, location, 100, PDF[100:])
    assert last.status_code == 204, last.content
    assert last["Upload-Offset"] == str(len(PDF))
    record = Attachment.objects.get(pk=last["Konsil-Record"])
    assert record.status == Attachment.Processing.READY and record.kind == "pdf"
    assert record.filename == "letter.pdf" and str(record.batch) == batch
    upload = _upload(location)
    assert upload.status == UploadStatus.COMPLETE and upload.parts == [] and upload.attachment_id == record.pk
    for part in parts:
        assert part["name"] not in stored_names()  # the parts were removed
    assert record.storage_name in stored_names()


def test_wrong_offset_empty_chunk_and_wrong_type(patient_client, draft_case):
    location = tus_create(patient_client, draft_case, len(PDF), "a.pdf")["Location"]
    assert tus_patch(patient_client, location, 0, PDF[:50]).status_code == 204

    wrong = tus_patch(patient_client, location, 10, PDF[10:60])
    assert wrong.status_code == 409
    assert wrong.json()["code"] == "offset_mismatch"

    empty = tus_patch(patient_client, location, 50, b"")
    assert empty.status_code == 204 and empty["Upload-Offset"] == "50"
    assert _upload(location).offset == 50 and len(_upload(location).parts) == 1

    bad_type = tus_patch(patient_client, location, 50, PDF[50:], content_type="application/octet-stream")
    assert bad_type.status_code == 415
    assert "error" in bad_type.json()
    assert _upload(location).offset == 50

    no_offset = patient_client.generic("PATCH", location, PDF[50:], content_type="application/offset+octet-stream",
                                       **TUS)
    assert no_offset.status_code == 400


def test_more_bytes_than_announced_is_refused(patient_client, draft_case):
    location = tus_create(patient_client, draft_case, 10, "a.txt")["Location"]
    response = tus_patch(patient_client, location, 0, b"x" * 11)
    assert response.status_code in (400, 413)
    assert response.json()["code"] == "too_large"
    assert _upload(location).offset == 0 and stored_names() == set()


def test_resume_after_a_dropped_connection(patient_client, draft_case, django_capture_on_commit_callbacks):
    location = tus_create(patient_client, draft_case, len(PDF), "resume.pdf")["Location"]
    tus_patch(patient_client, location, 0, PDF[:64])
    tus_patch(patient_client, location, 64, PDF[64:128])
    # the client lost the connection mid-chunk and does not know what arrived: it asks
    offset = int(patient_client.head(location, **TUS)["Upload-Offset"])
    assert offset == 128
    with django_capture_on_commit_callbacks(execute=True):
        done = tus_patch(patient_client, location, offset, PDF[offset:])
    assert done.status_code == 204
    record = Attachment.objects.get(pk=done["Konsil-Record"])
    from konsil.core.files import get_for

    assert get_for(record) == PDF


def test_patch_after_completion_is_a_conflict(patient_client, draft_case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = tus_create(patient_client, draft_case, 5, "n.txt")
        tus_patch(patient_client, created["Location"], 0, b"hello")
    again = tus_patch(patient_client, created["Location"], 5, b"!")
    assert again.status_code == 409 and again.json()["code"] == "upload_closed"


def test_delete_cancels_and_removes_parts(patient_client, draft_case):
    location = tus_create(patient_client, draft_case, len(PDF), "cancel.pdf")["Location"]
    tus_patch(patient_client, location, 0, PDF[:100])
    assert stored_names()
    response = patient_client.delete(location, **TUS)
    assert response.status_code == 204
    assert stored_names() == set()
    assert Upload.objects.get(pk=_upload(location).pk).status == UploadStatus.CANCELLED
    assert patient_client.head(location, **TUS).status_code == 404
    assert tus_patch(patient_client, location, 100, PDF[100:]).status_code == 404
    assert AuditEvent.objects.filter(action="upload.cancel").exists()


def test_other_users_get_404(client, login, patient_user, other_patient, specialist, draft_case):
    login(client, patient_user)
    location = tus_create(client, draft_case, len(PDF), "mine.pdf")["Location"]
    tus_patch(client, location, 0, PDF[:10])
    for stranger in (other_patient, specialist.user):
        login(client, stranger)
        assert tus_create(client, draft_case, len(PDF), "x.pdf").status_code == 404
        assert client.head(location, **TUS).status_code == 404
        assert tus_patch(client, location, 10, PDF[10:20]).status_code == 404
        assert client.delete(location, **TUS).status_code == 404
    assert _upload(location).offset == 10 and _upload(location).status == UploadStatus.RECEIVING


def test_anonymous_is_refused(client, draft_case):
    response = tus_create(client, draft_case, 10, "a.txt")
    assert response.status_code in (401, 403)


def test_study_over_the_limit_is_413(patient_client, draft_case, settings):
    settings.KONSIL_MAX_STUDY_BYTES = 1000
    response = tus_create(patient_client, draft_case, 1001, "big.zip")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Upload.objects.exists()


def test_empty_file_is_refused_at_creation(patient_client, draft_case):
    response = tus_create(patient_client, draft_case, 0, "empty.pdf")
    assert response.status_code == 400 and response.json()["code"] == "empty"


def test_batch_over_the_file_limit_is_400(patient_client, draft_case, settings):
    settings.KONSIL_MAX_BATCH_FILES = 2
    batch = str(uuid.uuid4())
    for name in ("1.txt", "2.txt"):
        assert tus_create(patient_client, draft_case, 3, name, batch=batch).status_code == 201
    third = tus_create(patient_client, draft_case, 3, "3.txt", batch=batch)
    assert third.status_code == 400 and third.json()["code"] == "too_many_files"
    # files of a CD folder count as one study, another batch starts afresh
    assert tus_create(patient_client, draft_case, 3, "IM1", batch=batch, relativepath="CD/DICOM/IM1").status_code == 201
    assert tus_create(patient_client, draft_case, 3, "4.txt", batch=str(uuid.uuid4())).status_code == 201


def test_bad_metadata_and_length_are_400(patient_client, draft_case):
    url = uploads_url(draft_case)
    assert patient_client.post(url, HTTP_UPLOAD_LENGTH="12", HTTP_UPLOAD_METADATA="filename %%%", **TUS
                               ).status_code == 400
    assert patient_client.post(url, HTTP_UPLOAD_LENGTH="twelve", **TUS).status_code == 400
    assert patient_client.post(url, **TUS).status_code == 400


def test_duplicate_file_is_409_and_nothing_stored(patient_client, draft_case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = tus_upload(patient_client, draft_case, PDF, "first.pdf")
    assert first.status_code == 204
    before = stored_names()
    second = tus_upload(patient_client, draft_case, PDF, "again.pdf", chunk=200)
    assert second.status_code == 409
    body = second.json()
    assert body["code"] == "duplicate" and body["error"]
    assert stored_names() == before  # neither the parts nor a second copy remain
    assert Attachment.objects.filter(case=draft_case).count() == 1


def test_api_token_upload(draft_case, patient_user, django_capture_on_commit_callbacks):
    from ..factories import api_token

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(patient_user)}")
    with django_capture_on_commit_callbacks(execute=True):
        response = tus_upload(api, draft_case, b"Blood pressure diary: 128/82, 131/85.\n", "diary.txt", chunk=10)
    assert response.status_code == 204, response.content
    record = Attachment.objects.get(pk=response["Konsil-Record"])
    assert record.kind == "text" and record.status == Attachment.Processing.READY


def test_closed_case_refuses_uploads(patient_client, draft_case):
    from konsil.cases.choices import Status

    type(draft_case).objects.filter(pk=draft_case.pk).update(status=Status.CLOSED)
    response = tus_create(patient_client, draft_case, 10, "late.pdf")
    assert response.status_code == 409


def test_chunks_are_encrypted_at_rest(patient_client, draft_case):
    secret = b"Diagnosis: sarcoidosis of the left lung, patient Marguerite Zelinska. " * 4
    location = tus_create(patient_client, draft_case, len(secret) + 10, "notes.txt")["Location"]
    tus_patch(patient_client, location, 0, secret)
    from .records_support import storage_contains

    assert stored_names()
    assert not storage_contains(b"sarcoidosis") and not storage_contains(b"Zelinska")


def test_chunk_size_limits(patient_client, draft_case, settings, django_capture_on_commit_callbacks):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # chunks are read from the stream, not through request.body
    settings.KONSIL_UPLOAD_CHUNK_BYTES = 1500
    data = bytes(range(256)) * 20  # 5120 bytes
    location = tus_create(patient_client, draft_case, len(data), "blob.bin")["Location"]
    too_big = tus_patch(patient_client, location, 0, data[:3001])
    assert too_big.status_code == 413 and too_big.json()["code"] == "too_large"
    assert tus_patch(patient_client, location, 0, data[:3000]).status_code == 204
    assert _upload(location).offset == 3000


def test_bodiless_patch_without_a_type_changes_nothing(patient_client, draft_case):
    location = tus_create(patient_client, draft_case, 10, "a.txt")["Location"]
    response = patient_client.generic("PATCH", location, b"", HTTP_UPLOAD_OFFSET="0", **TUS)
    assert response.status_code == 204 and response["Upload-Offset"] == "0"


def test_no_chunks_once_the_case_is_closed(patient_client, draft_case):
    from konsil.cases.choices import Status

    location = tus_create(patient_client, draft_case, len(PDF), "a.pdf")["Location"]
    type(draft_case).objects.filter(pk=draft_case.pk).update(status=Status.CLOSED)
    response = tus_patch(patient_client, location, 0, PDF)
    assert response.status_code == 409
    assert stored_names() == set() and not Attachment.objects.exists()


def test_another_protocol_version_is_412(patient_client, draft_case):
    response = patient_client.post(uploads_url(draft_case), HTTP_UPLOAD_LENGTH="10", HTTP_TUS_RESUMABLE="0.2.2")
    assert response.status_code == 412 and response["Tus-Version"] == "1.0.0"
    assert not Upload.objects.exists()
