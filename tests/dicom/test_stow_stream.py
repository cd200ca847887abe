"""STOW-RS read as a stream: the multipart body is parsed part by part and each instance is stored encrypted as it
arrives, so a study is never held whole in memory (memory figures: bench/records.py, `make bench-records`)."""

from __future__ import annotations

import gc
import http.client
import io
import os
import random
import tracemalloc
from urllib.parse import urlsplit

import pydicom
import pytest
from pydicom.uid import generate_uid

from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment
from konsil.core.errors import DomainError
from konsil.records import synthetic
from konsil.records.models import Instance, Study
from konsil.records.multipart import MultipartReader, boundary_of
from tests.factories import api_token
from tests.records.records_support import ct, stored_names

BOUNDARY = "konsil-test-boundary"
CONTENT_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'


def _part(content: bytes, media: str = "application/dicom") -> bytes:
    return f"--{BOUNDARY}\r\nContent-Type: {media}\r\n\r\n".encode() + content + b"\r\n"


def _close() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


class _Trickle(io.BytesIO):
    """A stream that answers every read with a random, smaller piece (as a socket does)."""

    def read(self, n=-1):
        return super().read(random.randint(1, max(1, n if n and n > 0 else 4096)))


# --- the parser ----------------------------------------------------------------------------------------------


def test_parts_come_whole_whatever_the_pieces():
    random.seed(7)
    for trial in range(150):
        # contents that end in pieces of the delimiter must not be cut there
        contents = [os.urandom(random.randint(0, 3000)) + f"\r\n--{BOUNDARY}"[:random.randint(0, 8)].encode()
                    for _ in range(random.randint(1, 5))]
        body = b"a preamble\r\n" + b"".join(_part(c) for c in contents) + _close() + b"an epilogue"
        reader = MultipartReader(_Trickle(body), BOUNDARY, piece=random.randint(1, 700))
        got = []
        for part in reader.parts():
            assert part.content_type == "application/dicom"
            got.append(None if trial % 3 == 0 and len(got) == 0 else b"".join(part.chunks()))  # one left unread
        assert len(got) == len(contents)
        assert all(g is None or g == c for g, c in zip(got, contents, strict=True))


@pytest.mark.parametrize("body", [
    b"",  # nothing at all
    b"--other\r\n\r\nx\r\n--other--\r\n",  # another boundary
    f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\nhalf a part".encode(),  # cut in a part
    f"--{BOUNDARY}\r\nContent-Type: appl".encode(),  # cut in the headers
    f"--{BOUNDARY}\r\n".encode() + b"X-Long: " + b"a" * 20_000 + b"\r\n\r\n",  # headers without end
])
def test_broken_bodies_are_refused(body):
    with pytest.raises(DomainError):
        for part in MultipartReader(io.BytesIO(body), BOUNDARY).parts():
            b"".join(part.chunks())


@pytest.mark.parametrize("content_type", ["application/dicom", "multipart/related", 'multipart/related; boundary=""',
                                          "multipart/related; boundary=" + "b" * 201, ""])
def test_a_content_type_without_a_usable_boundary_is_refused(content_type):
    with pytest.raises(DomainError):
        boundary_of(content_type)


def test_boundary_read_quoted_or_not():
    assert boundary_of('multipart/related; type="application/dicom"; boundary="a b:c"') == "a b:c"
    assert boundary_of("Multipart/Related; boundary=xyz; type=application/dicom") == "xyz"
    orthanc = "4531c8ee-c438-4bec-b338-6262fae246f2-4531c8ee-c438-4bec-b338-6262fae246f2"  # 73, over RFC 2046's 70
    assert boundary_of(f'multipart/related; type="application/dicom"; boundary={orthanc}') == orthanc


# --- through a real HTTP server ------------------------------------------------------------------------------


def _post(live_server, case, token, pieces, *, chunked=True, length=None, close_early=False):
    """POST the body produced by `pieces` (an iterable of bytes), never materialised here."""
    url = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    conn.putrequest("POST", f"/dicomweb/cases/{case.pk}/studies")
    conn.putheader("Content-Type", CONTENT_TYPE)
    conn.putheader("Authorization", f"Token {token}")
    if chunked:
        conn.putheader("Transfer-Encoding", "chunked")
    else:
        conn.putheader("Content-Length", str(length))
    conn.endheaders()
    for piece in pieces:
        conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
    if close_early:
        conn.sock.shutdown(1)  # the client stops sending: the body broke off
    elif chunked:
        conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    status, payload = response.status, response.read()
    conn.close()
    return status, payload


def _slices(n: int, size: int, seed: int):
    """`n` CT slices of one study, made one at a time (each about size*size*2 bytes)."""
    first = pydicom.dcmread(io.BytesIO(synthetic.ct_series(1, size=size, seed=seed)[0]))
    for i in range(n):
        first.SOPInstanceUID = first.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        first.InstanceNumber = i + 1
        first.ImagePositionPatient = [0, 0, float(i)]
        out = io.BytesIO()
        first.save_as(out, enforce_file_format=True)
        yield out.getvalue()


def _peak_of(push) -> tuple:
    gc.collect()
    tracemalloc.start()
    try:
        result = push()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_large_study_is_stored_part_by_part_in_bounded_memory(live_server, draft_case, patient_user):
    """40 slices of 0.5 MB (21 MB) pushed chunked in one request: the peak traced memory of the whole process
    (client and server) grows by far less than the body over one slice pushed the same way in the same run, and
    the study is one record of 40 instances. (Read whole, the body alone would add 21 MB.)"""
    token = api_token(patient_user)
    count, size = 40, 512
    body_bytes = count * size * size * 2
    (status, payload), baseline = _peak_of(lambda: _post(live_server, draft_case, token,
                                                          _body(_slices(1, size, seed=60))))
    assert status == 200, payload[:500]
    (status, payload), peak = _peak_of(lambda: _post(live_server, draft_case, token,
                                                      _body(_slices(count, size, seed=61))))
    assert status == 200, payload[:500]
    assert peak - baseline < body_bytes / 4, f"peak {peak / 1e6:.1f} MB, one slice {baseline / 1e6:.1f} MB"
    record = Attachment.objects.filter(case=draft_case, parent=None).latest("created_at")
    assert record.kind == "study" and record.detail["images"] == count
    assert Instance.objects.filter(series__study__case=draft_case).count() == count + 1
    entry = record.entries.first()
    assert entry.storage_name.startswith("segmented/")  # stored encrypted as a stream
    assert AuditEvent.objects.filter(action="dicomweb.stow", detail__stored=count).exists()


def _body(instances):
    for instance in instances:
        yield _part(instance)
    yield _close()


@pytest.mark.django_db(transaction=True)
def test_a_body_that_breaks_off_keeps_the_whole_instances_only(live_server, draft_case, patient_user):
    token = api_token(patient_user)
    first, second = ct(2, seed=62)
    for chunked in (True, False):
        pieces = [_part(first), _part(second)[: len(second) // 2]]
        status, payload = _post(live_server, draft_case, token, pieces, chunked=chunked,
                                length=len(_part(first)) + len(_part(second)) + len(_close()), close_early=True)
        assert status == 400, payload[:300]
    assert Instance.objects.filter(series__study__case=draft_case).count() == 1  # the first came whole
    entries = Attachment.objects.filter(case=draft_case, kind="dicom")
    assert entries.count() == 1
    # no object left of the broken part: the study manifest and the one instance
    assert len(stored_names()) == Attachment.objects.filter(case=draft_case).count() + _derivatives()


def _derivatives() -> int:
    from konsil.records.models import Derivative

    return Derivative.objects.count()


@pytest.mark.django_db(transaction=True)
def test_a_body_over_the_limit_is_refused_with_413(live_server, draft_case, patient_user, settings):
    token = api_token(patient_user)
    instances = ct(3, seed=63)
    settings.KONSIL_MAX_STUDY_BYTES = len(instances[0]) + 1000
    status, payload = _post(live_server, draft_case, token, [_part(d) for d in instances] + [_close()])
    assert status == 413 and b"too_large" in payload
    assert Instance.objects.filter(series__study__case=draft_case).count() == 1
    assert len(stored_names()) == Attachment.objects.filter(case=draft_case).count() + _derivatives()
    big = sum(len(_part(d)) for d in instances) + len(_close())
    status, _payload = _post(live_server, draft_case, token, [], chunked=False, length=big)
    assert status == 413  # refused by its Content-Length before anything is read


def test_parts_other_than_dicom_are_skipped(draft_case, patient_user, client, login):
    (instance,) = ct(1, seed=64)
    body = _part(b'{"00100010": {}}', "application/dicom+json") + _part(instance) + _close()
    response = login(client, patient_user).generic("POST", f"/dicomweb/cases/{draft_case.pk}/studies", body,
                                             content_type=CONTENT_TYPE)
    assert response.status_code == 200, response.content
    assert Study.objects.filter(case=draft_case).count() == 1


def test_an_empty_part_is_a_failure_not_a_record(draft_case, patient_user, client, login):
    body = _part(b"") + _close()
    response = login(client, patient_user).generic("POST", f"/dicomweb/cases/{draft_case.pk}/studies", body,
                                             content_type=CONTENT_TYPE)
    assert response.status_code == 409
    assert response.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xC000]
    assert not Attachment.objects.exists() and not stored_names()
