"""Downloads stream decrypted pieces (never the whole file in memory); a pushed study downloads as a zip of its
instances, written as it is sent. Scoped and audited like every read."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile

import pydicom
import pytest
from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment
from konsil.core import files, streams
from tests.records.records_support import ct

from .test_stow_stream import CONTENT_TYPE, _close, _part

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(streams, "SEGMENT", 1000)


def _segmented(case, data: bytes, filename="scan.bin") -> Attachment:
    record = Attachment(case=case, uploaded_by=case.patient.user, filename=filename, status="ready",
                        content_type="application/octet-stream")
    streams.write_for(record, (data[i:i + 777] for i in range(0, len(data), 777)))
    record.save()
    return record


def _url(case, record) -> str:
    return reverse("cases:attachment", kwargs={"pk": case.pk, "att": record.pk})


def test_a_large_record_streams_in_segments(small_segments, draft_case, patient_user, client, login):
    data = os.urandom(50_000)
    record = _segmented(draft_case, data)
    response = login(client, patient_user).get(_url(draft_case, record))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Length"] == "50000" and "no-store" in response["Cache-Control"]
    pieces = list(response.streaming_content)
    assert max(len(p) for p in pieces) <= 1000 and len(pieces) >= 50  # one segment at a time, not the file
    assert b"".join(pieces) == data
    assert AuditEvent.objects.filter(action="attachment.download", object_id=str(record.pk),
                                     actor=patient_user).exists()


def test_a_tampered_record_is_refused_with_a_message(small_segments, draft_case, patient_user, client, login):
    record = _segmented(draft_case, os.urandom(5000))
    raw = bytearray(files.raw(record.storage_name))
    raw[40] ^= 1  # inside the first segment
    with open(files._storage().path(record.storage_name), "wb") as fh:  # noqa: SLF001
        fh.write(raw)
    response = login(client, patient_user).get(_url(draft_case, record), follow=True)
    assert response.status_code == 200 and not response.streaming
    assert "cannot be read right now" in response.content.decode()
    assert not AuditEvent.objects.filter(action="attachment.download", object_id=str(record.pk)).exists()


def test_someone_else_gets_404(draft_case, other_patient, client, login):
    record = _segmented(draft_case, b"hello")
    assert login(client, other_patient).get(_url(draft_case, record)).status_code == 404


def test_a_pushed_study_downloads_as_a_zip_of_its_instances(draft_case, patient_user, client, login):
    instances = ct(3, seed=71)
    client = login(client, patient_user)
    body = b"".join(_part(d) for d in instances) + _close()
    assert client.generic("POST", f"/dicomweb/cases/{draft_case.pk}/studies", body,
                          content_type=CONTENT_TYPE).status_code == 200
    study = Attachment.objects.get(case=draft_case, parent=None)
    response = client.get(_url(draft_case, study))
    assert response.status_code == 200 and response.streaming and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].endswith('.zip"')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    got = {hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()}
    assert got == {hashlib.sha256(d).hexdigest() for d in instances}
    uids = {pydicom.dcmread(io.BytesIO(archive.read(n))).SOPInstanceUID for n in archive.namelist()}
    assert {f"DICOM/{uid}.dcm" for uid in uids} == set(archive.namelist())
    assert AuditEvent.objects.filter(action="attachment.download", object_id=str(study.pk),
                                     detail__instances=3).exists()
