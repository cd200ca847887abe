"""Records intake: storing encrypted, reading back audited, who may add, expiry of unfinished uploads, and no
plaintext record content or patient name in the storage folder or the database."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from konsil.audit.models import AuditEvent
from konsil.cases.choices import Status
from konsil.cases.models import Attachment
from konsil.core import files
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.records import intake, processing
from konsil.records.models import Upload, UploadStatus

from .records_support import (
    DICOM_NAME,
    bundle_family_name,
    cd_export,
    ct,
    storage_contains,
    stored_names,
    synthea_bundle,
    text_pdf,
    zip_folder,
)

pytestmark = pytest.mark.django_db


def store(case, user, data, name="file.bin", **kwargs) -> Attachment:
    return intake.store_record(actor=user, case=case, content=data, filename=name, process=False, **kwargs)


def test_store_and_read_back(draft_case, patient_user):
    record = store(draft_case, patient_user, b"Lab values: creatinine 1.1 mg/dL\n", "C:\\scans\\labs.txt",
                   description="Lab sheet")
    assert record.filename == "labs.txt"  # only the base name is kept
    assert record.status == "queued" and record.size == 33 and len(record.sha256) == 64
    assert stored_names() == {record.storage_name}
    assert record.storage_name.startswith("objects/") and "labs" not in record.storage_name
    assert AuditEvent.objects.filter(action="attachment.create", object_id=str(record.pk)).exists()
    assert intake.read_record(actor=patient_user, attachment=record) == b"Lab values: creatinine 1.1 mg/dL\n"
    assert AuditEvent.objects.filter(action="attachment.download", object_id=str(record.pk),
                                     actor=patient_user).exists()


def test_ciphertext_is_bound_to_its_record(draft_case, patient_user):
    a = store(draft_case, patient_user, b"first record", "a.txt")
    b = store(draft_case, patient_user, b"second record", "b.txt")
    # b's row pointed at a's object (same key material would be needed, and the record id is bound in)
    b.storage_name, b.wrapped_key, b.key_id, b.sha256 = a.storage_name, a.wrapped_key, a.key_id, a.sha256
    with pytest.raises(Exception) as caught:
        files.get_for(b)
    assert type(caught.value).__name__ == "DecryptionError"


def test_limits(draft_case, patient_user, settings):
    settings.KONSIL_MAX_STUDY_BYTES = 10
    with pytest.raises(ValidationFailed) as caught:
        store(draft_case, patient_user, b"x" * 11)
    assert caught.value.code == "too_large"
    with pytest.raises(ValidationFailed) as caught:
        store(draft_case, patient_user, b"")
    assert caught.value.code == "empty"
    assert stored_names() == set()


def test_who_may_add(draft_case, patient_user, other_patient, specialist, coordinator):
    intake.check_can_add(patient_user, draft_case)
    intake.check_can_add(coordinator, draft_case)
    for stranger in (other_patient, specialist.user):
        with pytest.raises(PermissionDenied):
            intake.check_can_add(stranger, draft_case)
    type(draft_case).objects.filter(pk=draft_case.pk).update(assigned_specialist=specialist)
    draft_case.refresh_from_db()
    intake.check_can_add(specialist.user, draft_case)
    for closed in (Status.CLOSED, Status.CANCELLED, Status.WITHDRAWN):
        draft_case.status = closed
        with pytest.raises(Conflict):
            intake.check_can_add(patient_user, draft_case)


def test_create_upload_refuses_strangers(draft_case, other_patient):
    with pytest.raises(PermissionDenied):
        intake.create_upload(actor=other_patient, case=draft_case, length=10, filename="x.txt")
    assert not Upload.objects.exists()


def test_upload_parts_assemble_in_order(draft_case, patient_user, django_capture_on_commit_callbacks):
    data = bytes(range(256)) * 3
    upload = intake.create_upload(actor=patient_user, case=draft_case, length=len(data), filename="blob.txt")
    for offset in range(0, len(data), 100):
        upload = intake.append_chunk(actor=patient_user, upload=upload, offset=offset, chunk=data[offset:offset + 100])
    assert upload.status == UploadStatus.COMPLETE
    assert files.get_for(upload.attachment) == data  # stored as segments, streamed
    assert stored_names() == {upload.attachment.storage_name}


def test_expired_uploads_are_purged(draft_case, patient_user):
    upload = intake.create_upload(actor=patient_user, case=draft_case, length=100, filename="slow.pdf")
    upload = intake.append_chunk(actor=patient_user, upload=upload, offset=0, chunk=b"x" * 40)
    fresh = intake.create_upload(actor=patient_user, case=draft_case, length=100, filename="fresh.pdf")
    fresh = intake.append_chunk(actor=patient_user, upload=fresh, offset=0, chunk=b"y" * 40)
    Upload.objects.filter(pk=upload.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert intake.purge_expired_uploads() == 1
    upload.refresh_from_db()
    assert upload.status == UploadStatus.CANCELLED and upload.parts == []
    assert stored_names() == {fresh.parts[0]["name"]}
    with pytest.raises(Conflict):
        intake.append_chunk(actor=patient_user, upload=upload, offset=40, chunk=b"x")


def test_an_expired_upload_takes_no_more_chunks(draft_case, patient_user):
    upload = intake.create_upload(actor=patient_user, case=draft_case, length=100, filename="slow.pdf")
    Upload.objects.filter(pk=upload.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    upload.refresh_from_db()
    with pytest.raises(Conflict) as caught:
        intake.append_chunk(actor=patient_user, upload=upload, offset=0, chunk=b"x")
    assert caught.value.code == "upload_expired"


# --- nothing in the clear ----------------------------------------------------------------------------------


def test_storage_and_database_hold_no_plaintext(draft_case, patient_user, tmp_path,
                                                django_capture_on_commit_callbacks):
    bundle = synthea_bundle()
    family = bundle_family_name(bundle)
    pdf = text_pdf(["Patient Marguerite Zelinska: suspected cardiac amyloidosis"])
    cd = zip_folder(cd_export(tmp_path, ct(3)))
    with django_capture_on_commit_callbacks(execute=True):
        for name, data in (("Zelinska_export.json", bundle), ("Zelinska_letter.pdf", pdf),
                           ("Zelinska_cd.zip", cd), ("Zelinska_IM1.dcm", ct(1, seed=7)[0])):
            store(draft_case, patient_user, data, name)
        for record in Attachment.objects.filter(parent__isnull=True):
            processing.process(record.pk)
        # a half-finished upload: its parts are in storage too
        upload = intake.create_upload(actor=patient_user, case=draft_case, length=len(pdf) + 5,
                                      filename="Zelinska_second.pdf")
        intake.append_chunk(actor=patient_user, upload=upload, offset=0, chunk=pdf)
    records = Attachment.objects.filter(parent__isnull=True)
    assert {r.status for r in records} == {"ready"}, [(r.kind, r.error_code) for r in records]
    assert Attachment.objects.filter(parent__isnull=False, kind="dicom").count() == 3
    assert len(stored_names()) > 8
    for needle in (family.encode(), b"Zelinska", DICOM_NAME.encode(), b"amyloidosis", b"Marguerite",
                   "García".encode(), b"DICM"):
        assert not storage_contains(needle), needle

    with connection.cursor() as cursor:
        cursor.execute("SELECT given_name, family_name FROM cases_patient")
        rows = cursor.fetchall()
        cursor.execute("SELECT filename, description FROM cases_attachment")
        rows += cursor.fetchall()
        cursor.execute("SELECT filename, relative_path FROM records_upload")
        rows += cursor.fetchall()
        cursor.execute("SELECT description FROM records_study UNION ALL SELECT description FROM records_series")
        rows += cursor.fetchall()
        cursor.execute("SELECT detail FROM cases_attachment")
        details = " ".join(str(r[0]) for r in cursor.fetchall())
    values = [str(v) for row in rows for v in row if v]
    assert values
    for value in values:
        assert value.startswith("enc1:"), value
        # the stored bytes (nonce and ciphertext), not their base64 text, where "Ana" can appear by chance
        stored = base64.b64decode(value.split(":", 2)[2], validate=True)
        for word in ("Ana", "García", "Zelinska", "letter", "Synthetic", "Head"):
            assert word.encode() not in stored, word
    assert "Zelinska" not in details and family not in details


def test_reading_a_record_checks_integrity(draft_case, patient_user, monkeypatch):
    record = store(draft_case, patient_user, b"content", "a.txt")
    record.sha256 = "0" * 64
    with pytest.raises(files.IntegrityError):
        files.get_for(record)
