"""DICOMweb to the standard: QIDO-RS matching, every search path, JSON errors, Accept negotiation, raw frames,
bulk data URIs that resolve, and STOW-RS with a chunked body (decoded here, or by the server), grouped as a study."""

from __future__ import annotations

import email
import email.policy
import http.client
import io
import secrets
from urllib.parse import urlsplit

import pydicom
import pytest
from django.test import RequestFactory

from konsil.cases.models import Attachment
from konsil.records import dicomweb, synthetic
from konsil.records.models import Study
from tests.factories import api_token

from .records_support import ct, ingest, zip_bytes
from .test_dicomweb import multipart, value

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user(client, login):
    def sign_in(user):
        client.logout()
        return login(client, user)
    return sign_in


def edited(data: bytes, **values) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    for keyword, val in values.items():
        setattr(ds, keyword, val)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.fixture
def two_studies(draft_case, patient_user):
    """A CT study (2023-05-01, accession ACC1) and an MR study (2024-02-10, accession ACC2)."""
    cts = [edited(d, StudyDate="20230501", AccessionNumber="ACC1") for d in ct(2, seed=31)]
    ingest(draft_case, patient_user, zip_bytes({f"IM{i}": d for i, d in enumerate(cts)}), "ct.zip")
    ingest(draft_case, patient_user, edited(synthetic.mr_multiframe(3, size=16), StudyDate="20240210",
                                            AccessionNumber="ACC2"), "mr.dcm")
    ct_study = Study.objects.get(case=draft_case, modalities="CT")
    mr_study = Study.objects.get(case=draft_case, modalities="MR")
    return {"ct": ct_study, "mr": mr_study, "base": f"/dicomweb/cases/{draft_case.pk}/"}


def uids(response, tag="0020000D") -> set[str]:
    assert response.status_code == 200, response.content
    return {value(item, tag) for item in response.json()}


def test_qido_study_filters(two_studies, draft_case, patient_user, as_user):
    client, base = as_user(patient_user), two_studies["base"]
    ct_uid, mr_uid = two_studies["ct"].study_uid, two_studies["mr"].study_uid
    both = {ct_uid, mr_uid}
    family = draft_case.identity.family_name
    assert uids(client.get(base + "studies")) == both
    assert uids(client.get(base + "studies", {"StudyDate": "20230501"})) == {ct_uid}
    assert uids(client.get(base + "studies", {"StudyDate": "20240101-"})) == {mr_uid}
    assert uids(client.get(base + "studies", {"StudyDate": "-20231231"})) == {ct_uid}
    assert uids(client.get(base + "studies", {"00080020": "20230101-20241231"})) == both
    assert uids(client.get(base + "studies", {"AccessionNumber": "ACC2"})) == {mr_uid}
    assert uids(client.get(base + "studies", {"AccessionNumber": "ACC*"})) == both
    assert uids(client.get(base + "studies", {"AccessionNumber": "ACC"})) == set()
    assert uids(client.get(base + "studies", {"StudyInstanceUID": f"{mr_uid},1.2.3"})) == {mr_uid}
    assert uids(client.get(base + "studies", {"StudyInstanceUID": "1.2.3"})) == set()
    assert uids(client.get(base + "studies", {"ModalitiesInStudy": "MR"})) == {mr_uid}
    assert uids(client.get(base + "studies", {"ModalitiesInStudy": "M"})) == set()  # never a substring
    assert uids(client.get(base + "studies", {"ModalitiesInStudy": "C"})) == set()
    assert uids(client.get(base + "studies", {"ModalitiesInStudy": "CT,US"})) == {ct_uid}
    assert uids(client.get(base + "studies", {"PatientID": draft_case.reference})) == both
    assert uids(client.get(base + "studies", {"00100020": "K-OTHER"})) == set()
    assert uids(client.get(base + "studies", {"PatientName": f"{family[:2].lower()}*"})) == both
    assert uids(client.get(base + "studies", {"PatientName": "Nobody*"})) == set()
    assert uids(client.get(base + "studies", {"PatientName": family})) == both
    assert uids(client.get(base + "studies", {"PatientName": f"{family}^?*"})) == both
    assert uids(client.get(base + "studies", {"limit": "1", "offset": "1"})) <= both
    assert len(client.get(base + "studies", {"limit": "1"}).json()) == 1


def test_qido_bad_input_and_warnings(two_studies, patient_user, as_user):
    client, base = as_user(patient_user), two_studies["base"]
    bad = client.get(base + "studies", {"StudyDate": "May 2023"})
    assert bad.status_code == 400 and bad["Content-Type"] == "application/dicom+json"
    assert "StudyDate" in bad.json()["errors"]
    assert client.get(base + "studies", {"limit": "many"}).status_code == 400
    warned = client.get(base + "studies", {"fuzzymatching": "true", "ReferringPhysicianName": "X*"})
    assert warned.status_code == 200 and len(warned.json()) == 2
    assert "fuzzymatching" in warned["Warning"] and "ReferringPhysicianName" in warned["Warning"]
    assert "Warning" not in client.get(base + "studies")


def test_qido_series_and_instances_at_every_path(two_studies, patient_user, as_user):
    client, base = as_user(patient_user), two_studies["base"]
    ct_study, mr_study = two_studies["ct"], two_studies["mr"]
    ct_series = ct_study.series.get()
    assert uids(client.get(base + "series"), "0020000E") == {ct_series.series_uid, mr_study.series.get().series_uid}
    assert uids(client.get(base + "series", {"Modality": "CT"}), "0020000E") == {ct_series.series_uid}
    assert uids(client.get(base + "series", {"StudyDate": "2024"[:4] + "0210"}), "0008103E") is not None
    all_instances = client.get(base + "instances")
    assert len(all_instances.json()) == 3
    assert len(client.get(base + f"studies/{ct_study.study_uid}/instances").json()) == 2
    sop = ct_series.instances.first().sop_uid
    assert uids(client.get(base + "instances", {"SOPInstanceUID": sop}), "00080018") == {sop}
    assert uids(client.get(base + f"studies/{ct_study.study_uid}/series/{ct_series.series_uid}/instances",
                           {"00080018": sop}), "00080018") == {sop}
    assert client.get(base + "instances", {"ModalitiesInStudy": "MR"}).json()[0]["00280008"]["Value"] == [3]
    missing = client.get(base + "studies/1.2.3/instances")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/dicom+json"
    nowhere = client.get(base + "no/such/path")
    assert nowhere.status_code == 404 and nowhere["Content-Type"] == "application/dicom+json"
    assert nowhere.json()["code"] == "not_found"


def test_accept_negotiation(two_studies, patient_user, as_user):
    client, base = as_user(patient_user), two_studies["base"]
    assert client.get(base + "studies", HTTP_ACCEPT="application/dicom+json").status_code == 200
    assert client.get(base + "studies", HTTP_ACCEPT="application/json, */*;q=0.1").status_code == 200
    refused = client.get(base + "studies", HTTP_ACCEPT='multipart/related; type="application/dicom+xml"')
    assert refused.status_code == 406 and refused.json()["code"] == "not_acceptable"
    study = two_studies["ct"].study_uid
    ok = client.get(base + f"studies/{study}", HTTP_ACCEPT='multipart/related; type="application/dicom"')
    assert ok.status_code == 200
    assert client.get(base + f"studies/{study}", HTTP_ACCEPT="application/zip").status_code == 406
    other_syntax = client.get(base + f"studies/{study}", HTTP_ACCEPT='multipart/related; type="application/dicom";'
                                                                    ' transfer-syntax=1.2.840.10008.1.2.4.50')
    assert other_syntax.status_code == 406
    assert client.get(base + f"studies/{study}", HTTP_ACCEPT='multipart/related; type="application/dicom"; '
                                                            'transfer-syntax=*').status_code == 200
    assert client.get(base + f"studies/{study}/metadata", HTTP_ACCEPT="image/png").status_code == 406


def multipart_parts(response) -> list[tuple[str, bytes]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    message = email.message_from_bytes(f"Content-Type: {response['Content-Type']}\r\n\r\n".encode() + body,
                                       policy=email.policy.HTTP)
    assert message.is_multipart()
    return [(part.get_content_type(), part.get_payload(decode=True)) for part in message.iter_parts()]


def test_raw_frames_and_bulkdata(two_studies, patient_user, as_user, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "pacs.example.org"]
    client, base = as_user(patient_user), two_studies["base"]
    mr = two_studies["mr"]
    series = mr.series.get()
    inst = series.instances.get()
    url = f"{base}studies/{mr.study_uid}/series/{series.series_uid}/instances/{inst.sop_uid}"
    ds = pydicom.dcmread(io.BytesIO(synthetic.mr_multiframe(3, size=16)))
    frame_len = len(ds.PixelData) // 3
    response = client.get(url + "/frames/1,3")
    assert response.status_code == 200, response.content
    assert 'type="application/octet-stream"' in response["Content-Type"]
    (t1, f1), (t3, f3) = multipart_parts(response)
    assert t1 == "application/octet-stream" and len(f1) == len(f3) == frame_len
    assert f1 == ds.PixelData[:frame_len] and f3 == ds.PixelData[2 * frame_len:]
    assert client.get(url + "/frames/4").status_code == 404
    assert client.get(url + "/frames/x").status_code == 400
    assert client.get(url + "/frames/1", HTTP_ACCEPT='multipart/related; type="image/jpeg"').status_code == 406

    meta = client.get(url + "/metadata", HTTP_HOST="pacs.example.org").json()[0]
    bulk = meta["7FE00010"]["BulkDataURI"]
    assert bulk.startswith("http://pacs.example.org/") and bulk.endswith("/bulkdata/7FE00010")
    resolved = client.get(urlsplit(bulk).path, HTTP_HOST="pacs.example.org")
    assert resolved.status_code == 200
    assert multipart_parts(resolved)[0][1] == ds.PixelData
    assert client.get(url + "/bulkdata/00100010").status_code == 404  # a name is no bulk data


def test_encapsulated_frames_keep_their_syntax(draft_case, patient_user, as_user):
    from pydicom.encaps import encapsulate
    from pydicom.uid import RLELossless

    ds = pydicom.dcmread(io.BytesIO(ct(1, seed=41, size=16)[0]))
    ds.compress(RLELossless)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    ingest(draft_case, patient_user, out.getvalue(), "rle.dcm")
    study = Study.objects.get(case=draft_case)
    series = study.series.get()
    inst = series.instances.get()
    url = (f"/dicomweb/cases/{draft_case.pk}/studies/{study.study_uid}/series/{series.series_uid}"
           f"/instances/{inst.sop_uid}/frames/1")
    client = as_user(patient_user)
    assert client.get(url, HTTP_ACCEPT='multipart/related; type="application/octet-stream"').status_code == 406
    response = client.get(url)
    assert response.status_code == 200 and 'type="image/dicom-rle"' in response["Content-Type"]
    ((media, frame),) = multipart_parts(response)
    assert media == "image/dicom-rle" and encapsulate([frame]) is not None and len(frame) > 0


def chunked(body: bytes, size: int = 1000) -> bytes:
    out = b""
    for start in range(0, len(body), size):
        piece = body[start:start + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def test_request_body_chunked_decoded_here_or_by_the_server():
    body = secrets.token_bytes(5000)
    factory = RequestFactory()
    raw = factory.post("/", HTTP_TRANSFER_ENCODING="chunked", content_type="x/y")
    raw.META["wsgi.input"] = io.BytesIO(chunked(body))
    assert dicomweb.request_body(raw, 10_000) == body
    assert dicomweb.request_body(raw.__class__(raw.META | {"wsgi.input": io.BytesIO(chunked(body))}), 100) is None
    decoded = factory.post("/", HTTP_TRANSFER_ENCODING="chunked", content_type="x/y")
    decoded.META.update({"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True})
    assert dicomweb.request_body(decoded, 10_000) == body
    broken = factory.post("/", HTTP_TRANSFER_ENCODING="chunked", content_type="x/y")
    broken.META["wsgi.input"] = io.BytesIO(b"zz\r\nabc")
    with pytest.raises(dicomweb.DomainError):
        dicomweb.request_body(broken, 10_000)


@pytest.mark.django_db(transaction=True)
def test_stow_chunked_through_a_live_server(live_server, draft_case, patient_user):
    """Orthanc's default STOW push: Transfer-Encoding chunked, no Content-Length, through a real HTTP server."""
    token = api_token(patient_user)
    first, second = ct(2, seed=51)
    url = urlsplit(live_server.url)
    for instance in (first, second):  # two pushes of one study: one record
        body, content_type = multipart([instance])
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        conn.putrequest("POST", f"/dicomweb/cases/{draft_case.pk}/studies")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Authorization", f"Token {token}")
        conn.endheaders()
        conn.send(chunked(body, 777))
        response = conn.getresponse()
        assert response.status == 200, response.read()
        conn.close()
    (record,) = Attachment.objects.filter(case=draft_case, parent=None)
    assert record.kind == "study" and record.entries.count() == 2
    assert Study.objects.get(case=draft_case).series.get().instance_count == 2
