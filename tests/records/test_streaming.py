"""Memory bounded by a segment, not the file: segmented encryption of finished uploads (tamper, cut and reorder
detected, seekable reads), a chunked tus PATCH through a real HTTP server, and a zipped study processed from the
stream. Peak RSS figures for 100 MB and 1 GB live in bench/records.py (`make bench-records`)."""

from __future__ import annotations

import hashlib
import http.client
import os
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from konsil.cases.models import Attachment
from konsil.core import crypto, files, streams
from konsil.records import processing
from konsil.records.models import Study
from tests.factories import api_token

from .records_support import TUS, ct, stored_names, tus_create, zip_bytes
from .test_dicomweb_standard import chunked

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(streams, "SEGMENT", 1000)


def _stored(case, data: bytes, pieces: int = 7) -> Attachment:
    record = Attachment(case=case, uploaded_by=case.patient.user, filename="x.bin", status="ready")
    step = max(1, len(data) // pieces)
    streams.write_for(record, (data[i:i + step] for i in range(0, len(data), step)))
    record.save()
    return record


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 5000, 12_345])
def test_segmented_round_trip_and_seek(small_segments, draft_case, size):
    data = os.urandom(size)
    record = _stored(draft_case, data)
    assert record.storage_name.startswith(streams.PREFIX) and record.size == size
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert files.get_for(record) == data and b"".join(streams.iter_for(record, 333)) == data
    with streams.open_for(record) as fh:
        fh.seek(max(0, size - 10))
        assert fh.read() == data[max(0, size - 10):]
        fh.seek(size // 2)
        assert fh.read(17) == data[size // 2: size // 2 + 17]
    if size >= 64:
        assert data[:64] not in files.raw(record.storage_name)  # encrypted at rest


def test_tampering_cutting_and_reordering_are_detected(small_segments, draft_case):
    data = os.urandom(3500)
    record = _stored(draft_case, data)
    raw = bytearray(files.raw(record.storage_name))
    segment = streams.NONCE + 1000 + streams.TAG

    def rewrite(blob: bytes) -> None:
        path = files._storage().path(record.storage_name)  # noqa: SLF001 -- the test reaches the bytes on disk
        with open(path, "wb") as fh:
            fh.write(blob)

    flipped = bytearray(raw)
    flipped[streams.HEADER + 50] ^= 1
    rewrite(bytes(flipped))
    with pytest.raises(crypto.DecryptionError):
        files.get_for(record)
    swapped = raw[:streams.HEADER] + raw[streams.HEADER + segment: streams.HEADER + 2 * segment] + \
        raw[streams.HEADER: streams.HEADER + segment] + raw[streams.HEADER + 2 * segment:]
    rewrite(bytes(swapped))
    with pytest.raises(crypto.DecryptionError):
        files.get_for(record)
    cut = raw[:streams.HEADER + 3 * segment]  # the last segment dropped: the new last one is not marked final
    rewrite(bytes(cut))
    record.size = 3000  # even with the length rewritten to match
    with pytest.raises(crypto.DecryptionError):
        files.get_for(record)


def test_a_finished_upload_is_stored_segmented_and_processed_from_the_stream(
        small_segments, client, login, patient_user, draft_case, django_capture_on_commit_callbacks):
    archive = zip_bytes({f"DICOM/IM{i}": data for i, data in enumerate(ct(4, seed=101))})
    login(client, patient_user)
    location = tus_create(client, draft_case, len(archive), "cd.zip")["Location"]
    with django_capture_on_commit_callbacks(execute=True):
        for offset in range(0, len(archive), 4000):
            answer = client.patch(location, archive[offset:offset + 4000], HTTP_UPLOAD_OFFSET=str(offset),
                                  content_type="application/offset+octet-stream", **TUS)
            assert answer.status_code == 204, answer.content
    record = Attachment.objects.get(pk=answer["Konsil-Record"])
    assert streams.is_segmented(record) and record.storage_name in stored_names()
    assert record.status == "ready" and record.kind == "zip" and record.detail["images"] == 4
    assert Study.objects.get(case=draft_case).series.get().instance_count == 4
    download = client.get(f"/cases/{draft_case.pk}/attachments/{record.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == archive


def test_a_cut_segmented_record_fails_processing_cleanly(small_segments, draft_case):
    record = _stored(draft_case, zip_bytes({"a.txt": b"hello " * 500}))
    Attachment.objects.filter(pk=record.pk).update(status="queued")
    path = files._storage().path(record.storage_name)  # noqa: SLF001
    with open(path, "rb") as fh:
        blob = fh.read()
    with open(path, "wb") as fh:
        fh.write(blob[:-5])
    done = processing.process(record.pk)
    assert done.status == "failed" and done.error_code == "integrity"


@pytest.mark.django_db(transaction=True)
def test_chunked_tus_patch_through_a_live_server(live_server, draft_case, patient_user):
    """A tus client that streams its PATCH (Transfer-Encoding: chunked, no Content-Length) is no longer read as
    an empty chunk: the bytes arrive and the offset moves."""
    token = api_token(patient_user)
    body = os.urandom(50_000)
    url = urlsplit(live_server.url)

    def request(method, path, headers, data=b"", chunk=False):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        conn.putrequest(method, path)
        for key, value in {"Authorization": f"Token {token}", "Tus-Resumable": "1.0.0", **headers}.items():
            conn.putheader(key, value)
        if chunk:
            conn.putheader("Transfer-Encoding", "chunked")
        else:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders()
        conn.send(chunked(data, 777) if chunk else data)
        return conn.getresponse()

    created = request("POST", f"/api/v1/records/cases/{draft_case.pk}/uploads/",
                      {"Upload-Length": str(len(body)), "Upload-Metadata": "filename bm90ZXMudHh0"})
    assert created.status == 201
    path = urlsplit(created.getheader("Location")).path
    first = request("PATCH", path, {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
                    body[:30_000], chunk=True)
    assert first.status == 204, first.read()
    assert first.getheader("Upload-Offset") == "30000"
    rest = request("PATCH", path, {"Upload-Offset": "30000", "Content-Type": "application/offset+octet-stream"},
                   body[30_000:], chunk=True)
    assert rest.status == 204, rest.read()
    assert rest.getheader("Upload-Offset") == "50000" and rest.getheader("Konsil-Record")


def _rle(data: bytes) -> bytes:
    import io

    import pydicom
    from pydicom.uid import RLELossless

    ds = pydicom.dcmread(io.BytesIO(data))
    ds.compress(RLELossless)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.mark.parametrize("encoding", ["native", "rle"])
def test_a_large_dicom_file_is_processed_and_rendered_frame_by_frame(
        small_segments, monkeypatch, settings, draft_case, encoding, client, login, patient_user):
    """A DICOM file over KONSIL_RECORD_IN_MEMORY_BYTES (a 1 GB tomosynthesis object in life) is never read whole:
    indexed from its header, its thumbnail and each viewed frame decoded from the encrypted stream."""
    from konsil.records import dicom, reading, render, synthetic

    data = synthetic.mr_multiframe(frames=8, size=64)
    data = _rle(data) if encoding == "rle" else data
    settings.KONSIL_RECORD_IN_MEMORY_BYTES = 1000
    monkeypatch.setattr(dicom, "DEFER_BYTES", 1024)  # the pixel data stays in the stream
    record = _stored(draft_case, data)
    Attachment.objects.filter(pk=record.pk).update(status="queued", filename="tomo.dcm")

    def whole(*_args):
        raise AssertionError("a large DICOM file was read whole")

    monkeypatch.setattr(streams, "read_segmented", whole)
    given, read = [], dicom.read

    def spy(content, **kwargs):
        given.append(type(content).__name__)
        return read(content, **kwargs)

    monkeypatch.setattr(dicom, "read", spy)
    done = processing.process(record.pk)
    assert given and "bytes" not in given, given  # the worker parsed the stream, never the file's bytes
    monkeypatch.setattr(dicom, "read", read)
    assert done.status == "ready" and done.kind == "dicom", done.error_code
    assert done.detail["frames"] == 8
    series = Study.objects.get(case=draft_case).series.get()
    assert series.thumbnail_id is not None
    for frame in (0, 5, 7):
        expected = render.render(dicom.read(data), frame=frame, window=None, size=None)
        assert reading._render_frame(done, frame=frame, window=None, size=None) == expected
    instance = series.instances.get()
    page = login(client, patient_user).get(reverse("records:frame", kwargs={"instance_id": instance.pk, "frame": 6}))
    assert page.status_code == 200 and page.content == render.render(dicom.read(data), frame=6)

    # DICOMweb reads the same way: raw frames, metadata (pixel data as a URI) and a rendered frame
    from pydicom.encaps import generate_frames

    from .test_dicomweb_standard import multipart_parts

    whole = dicom.read(data)
    if encoding == "rle":
        expected_frames = list(generate_frames(whole.PixelData, number_of_frames=8))
    else:
        step = len(whole.PixelData) // 8
        expected_frames = [whole.PixelData[i * step:(i + 1) * step] for i in range(8)]
    url = (f"/dicomweb/cases/{draft_case.pk}/studies/{series.study.study_uid}/series/{series.series_uid}"
           f"/instances/{instance.sop_uid}")
    frames = client.get(url + "/frames/2,8")
    assert frames.status_code == 200, frames.content
    assert [part for _media, part in multipart_parts(frames)] == [expected_frames[1], expected_frames[7]]
    meta = client.get(url + "/metadata").json()[0]
    assert meta["7FE00010"]["BulkDataURI"].endswith("/bulkdata/7FE00010") and meta["00280008"]["Value"] == [8]
    rendered = client.get(url + "/frames/4/rendered", HTTP_ACCEPT="image/png")
    assert rendered.status_code == 200 and rendered.content == render.render(whole, frame=3, fmt="png")
    bulk = client.get(url + "/bulkdata/7FE00010")  # sent from the stream a piece at a time
    assert bulk.status_code == 200 and bulk.streaming
    assert multipart_parts(bulk)[0][1] == whole.PixelData


def test_a_damaged_large_dicom_file_fails_cleanly(small_segments, monkeypatch, settings, draft_case):
    from konsil.records import dicom, synthetic

    data = synthetic.mr_multiframe(frames=8, size=64)
    settings.KONSIL_RECORD_IN_MEMORY_BYTES = 1000
    monkeypatch.setattr(dicom, "DEFER_BYTES", 1024)
    record = _stored(draft_case, data[: len(data) - 20_000])  # pixel data cut short
    Attachment.objects.filter(pk=record.pk).update(status="queued", filename="tomo.dcm")
    done = processing.process(record.pk)
    assert done.status == "failed" and done.error_code == "dicom_corrupt"
