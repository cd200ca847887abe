"""Master key rotation: data keys re-wrapped, content untouched, fields re-sealed, the old key removable."""

from __future__ import annotations

import pytest
from django.db import connection

from konsil.cases.models import Attachment, Patient
from konsil.core import crypto, fields, files, keys
from konsil.records import intake, processing
from konsil.records.models import Derivative, Series, Upload

from .records_support import ct, photo, storage_root, text_pdf, zip_bytes

pytestmark = pytest.mark.django_db
K1, K2 = b"\x01" * 32, b"\x02" * 32


@pytest.fixture
def two_keys(settings):
    settings.KONSIL_MASTER_KEYS = {**settings.KONSIL_MASTER_KEYS, "t1": K1, "t2": K2}
    settings.KONSIL_MASTER_KEY_ID = "t1"
    return settings


def ingest(case, user, data, name):
    record = intake.store_record(actor=user, case=case, content=data, filename=name, process=False)
    processing.process(record.pk)
    return Attachment.objects.get(pk=record.pk)


def snapshot() -> dict[str, bytes]:
    root = storage_root()
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def raw_values(table: str, columns: list[str]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608
        return [value for row in cursor.fetchall() for value in row if value]


def test_rotate_rewraps_without_reencrypting(two_keys, draft_case, patient_user):
    Patient.objects.get(pk=draft_case.patient_id).save()  # the fixture's patient, sealed under t1
    pdf = ingest(draft_case, patient_user, text_pdf(["Rotation survives"]), "a.pdf")
    cd = ingest(draft_case, patient_user, zip_bytes({f"IM{i}": d for i, d in enumerate(ct(2))}), "cd.zip")
    assert pdf.status == cd.status == "ready"
    upload = intake.create_upload(actor=patient_user, case=draft_case, length=20, filename="half.txt")
    upload = intake.append_chunk(actor=patient_user, upload=upload, offset=0, chunk=b"first half")
    assert set(Attachment.objects.values_list("key_id", flat=True)) == {"t1"}
    before = snapshot()

    two_keys.KONSIL_MASTER_KEY_ID = "t2"
    result = keys.rotate()
    assert result["master_key"] == "t2"
    assert result["rewrapped"]["cases.Attachment"] == Attachment.objects.count() == 4
    assert result["rewrapped"]["records.Upload"] == 1
    assert result["resealed_rows"]["cases.Patient"] >= 1

    for model in (Attachment, Derivative, Upload):
        assert set(model.objects.values_list("key_id", flat=True)) == {"t2"}, model
    assert snapshot() == before  # content is not re-encrypted
    for table, columns in (("cases_patient", ["given_name", "family_name"]),
                           ("cases_attachment", ["filename"]), ("records_upload", ["filename"]),
                           ("records_series", ["description"])):
        values = raw_values(table, columns)
        assert values and {fields.key_id_of(v) for v in values} == {"t2"}, table
    assert keys.status()["data_keys"]["cases.Attachment"] == {"t2": 4}
    assert keys.rotate()["rewrapped"] == {}  # nothing left to do

    # the old keys go away: everything still reads
    two_keys.KONSIL_MASTER_KEYS = {"t2": K2}
    for record in Attachment.objects.all():
        files.get_for(record)
    for derivative in Derivative.objects.all():
        files.get_for(derivative)
    assert b"Rotation survives" in files.get_for(Derivative.objects.get(attachment=pdf, kind="text"))
    assert Patient.objects.get(pk=draft_case.patient_id).family_name == "García"
    assert Series.objects.get().description == "Head 1.0 axial"
    upload = intake.append_chunk(actor=patient_user, upload=Upload.objects.get(pk=upload.pk), offset=10,
                                 chunk=b"second one")
    assert files.get_for(upload.attachment) == b"first halfsecond one"


def test_without_the_old_key_nothing_reads(two_keys, draft_case, patient_user):
    record = ingest(draft_case, patient_user, photo(), "p.jpg")
    two_keys.KONSIL_MASTER_KEYS = {"t2": K2}
    two_keys.KONSIL_MASTER_KEY_ID = "t2"
    with pytest.raises(crypto.DecryptionError):
        files.get_for(record)
    with pytest.raises(crypto.DecryptionError):
        keys.rotate()


def test_rotate_to_an_unconfigured_key_changes_nothing(two_keys, draft_case, patient_user):
    ingest(draft_case, patient_user, photo(), "p.jpg")
    two_keys.KONSIL_MASTER_KEY_ID = "missing"
    with pytest.raises(crypto.DecryptionError):
        keys.rotate()
    assert set(Attachment.objects.values_list("key_id", flat=True)) == {"t1"}


def test_status(two_keys, draft_case, patient_user):
    ingest(draft_case, patient_user, photo(), "p.jpg")
    status = keys.status()
    assert status["current"] == "t1" and {"t1", "t2"} <= set(status["configured"])
    assert status["data_keys"]["cases.Attachment"] == {"t1": 1}
    assert status["data_keys"]["records.Derivative"] == {"t1": 1}
