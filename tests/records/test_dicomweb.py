"""DICOMweb over a case: QIDO-RS, WADO-RS (instances, metadata, rendered), STOW-RS; scoped and audited."""

from __future__ import annotations

import email
import email.policy
import io
import secrets

import pydicom
import pytest
from PIL import Image

from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment, Case
from konsil.core import files
from konsil.records import synthetic
from konsil.records.models import Instance, Series, Study

from .records_support import ct, ingest, zip_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def imaging(draft_case, patient_user, specialist):
    Case.objects.filter(pk=draft_case.pk).update(assigned_specialist=specialist)
    ingest(draft_case, patient_user, zip_bytes({f"IM{i}": d for i, d in enumerate(ct(3))}), "ct.zip")
    ingest(draft_case, patient_user, synthetic.mr_multiframe(3, size=32), "mr.dcm")
    ct_series = Series.objects.get(modality="CT")
    return {"study": ct_series.study.study_uid, "series": ct_series.series_uid,
            "sop": ct_series.instances.first().sop_uid, "base": f"/dicomweb/cases/{draft_case.pk}/"}


@pytest.fixture
def as_user(client, login):
    def sign_in(user):
        client.logout()
        return login(client, user)
    return sign_in


def parts_of(response) -> list[bytes]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    message = email.message_from_bytes(f"Content-Type: {response['Content-Type']}\r\n\r\n".encode() + body,
                                       policy=email.policy.HTTP)
    assert message.is_multipart()
    assert message.get_param("type") == "application/dicom"
    return [part.get_payload(decode=True) for part in message.iter_parts()]


def value(item: dict, tag: str):
    return item[tag].get("Value", [None])[0]


def test_qido_studies_series_instances(imaging, patient_user, as_user):
    client = as_user(patient_user)
    response = client.get(imaging["base"] + "studies")
    assert response.status_code == 200 and response["Content-Type"] == "application/dicom+json"
    studies = response.json()
    assert len(studies) == 2
    study = next(s for s in studies if value(s, "0020000D") == imaging["study"])
    assert study["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "García^Ana"}]}
    assert value(study, "00080061") == "CT" and value(study, "00201208") == 3
    assert value(study, "00080020") == "20240314"
    assert value(study, "00081190").endswith(f"studies/{imaging['study']}")
    filtered = client.get(imaging["base"] + "studies", {"ModalitiesInStudy": "MR"}).json()
    assert len(filtered) == 1 and value(filtered[0], "00080061") == "MR"
    assert len(client.get(imaging["base"] + "studies", {"limit": "1"}).json()) == 1
    assert client.get(imaging["base"] + "studies", {"limit": "many"}).status_code == 400

    series = client.get(f"{imaging['base']}studies/{imaging['study']}/series").json()
    assert len(series) == 1
    assert value(series[0], "0020000E") == imaging["series"] and value(series[0], "00080060") == "CT"
    assert value(series[0], "00201209") == 3

    instances = client.get(f"{imaging['base']}studies/{imaging['study']}/series/{imaging['series']}/instances")
    items = instances.json()
    assert len(items) == 3
    assert {value(i, "00080016") for i in items} == {str(synthetic.CT_IMAGE_STORAGE)}
    assert value(items[0], "00280010") == 64
    assert client.get(f"{imaging['base']}studies/1.2.3/series").status_code == 404
    assert AuditEvent.objects.filter(action="dicomweb.qido", actor=patient_user).exists()


def test_wado_retrieve_instance_series_study(imaging, specialist, as_user):
    client = as_user(specialist.user)
    study_url = f"{imaging['base']}studies/{imaging['study']}"
    instance = client.get(f"{study_url}/series/{imaging['series']}/instances/{imaging['sop']}")
    assert instance.status_code == 200
    (data,) = parts_of(instance)
    ds = pydicom.dcmread(io.BytesIO(data))
    assert ds.SOPInstanceUID == imaging["sop"] and ds.pixel_array.shape == (64, 64)
    series_parts = parts_of(client.get(f"{study_url}/series/{imaging['series']}"))
    assert sorted(pydicom.dcmread(io.BytesIO(p)).InstanceNumber for p in series_parts) == [1, 2, 3]
    assert len(parts_of(client.get(study_url))) == 3
    assert client.get(f"{study_url}/series/{imaging['series']}/instances/1.2.3").status_code == 404
    assert AuditEvent.objects.filter(action="dicomweb.wado", actor=specialist.user).count() >= 7


def test_wado_metadata(imaging, patient_user, as_user):
    client = as_user(patient_user)
    url = f"{imaging['base']}studies/{imaging['study']}/series/{imaging['series']}/metadata"
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/dicom+json"
    items = response.json()
    assert len(items) == 3
    for item in items:
        assert value(item, "0020000E") == imaging["series"]
        pixels = item["7FE00010"]
        assert "InlineBinary" not in pixels and pixels["BulkDataURI"].startswith("http://testserver/")
        assert pixels["vr"] in ("OW", "OB")
    instance_ids = [str(pk) for pk in Instance.objects.filter(series__modality="CT").values_list("pk", flat=True)]
    assert AuditEvent.objects.filter(action="dicomweb.metadata", actor=patient_user,
                                     object_id__in=instance_ids).count() == 3


def test_wado_rendered(imaging, patient_user, as_user):
    client = as_user(patient_user)
    base = f"{imaging['base']}studies/{imaging['study']}/series/{imaging['series']}/instances/{imaging['sop']}"
    response = client.get(f"{base}/rendered")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (64, 64)
    jpeg = client.get(f"{base}/frames/1/rendered", {"window": "40,400,LINEAR"}, HTTP_ACCEPT="image/jpeg")
    assert jpeg["Content-Type"] == "image/jpeg" and jpeg.content[:3] == b"\xff\xd8\xff"
    assert client.get(f"{base}/frames/2/rendered").status_code == 404
    assert client.get(f"{base}/frames/0/rendered").status_code == 404
    assert client.get(f"{base}/rendered", {"window": "wide"}).status_code == 400
    mr = Instance.objects.get(series__modality="MR")
    mr_url = (f"{imaging['base']}studies/{mr.series.study.study_uid}/series/{mr.series.series_uid}/instances/"
              f"{mr.sop_uid}/frames/3/rendered")
    assert client.get(mr_url).status_code == 200
    assert AuditEvent.objects.filter(action="dicomweb.rendered", actor=patient_user,
                                     object_id=str(mr.pk)).exists()


def multipart(parts: list[bytes]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(8)
    body = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + p + b"\r\n"
                    for p in parts) + f"--{boundary}--\r\n".encode()
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def test_stow(draft_case, patient_user, as_user, django_capture_on_commit_callbacks):
    client = as_user(patient_user)
    good = ct(2, seed=11)
    body, content_type = multipart([*good, b"\x00" * 128 + b"DICM" + b"\x02\x00garbage"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/dicomweb/cases/{draft_case.pk}/studies", body, content_type=content_type)
    assert response.status_code == 202, response.content
    result = response.json()
    stored = result["00081199"]["Value"]
    assert len(stored) == 2
    assert {value(item, "00081155") for item in stored} == {pydicom.dcmread(io.BytesIO(d)).SOPInstanceUID
                                                             for d in good}
    (failed,) = result["00081198"]["Value"]
    assert value(failed, "00081197") == 0xC000
    assert Series.objects.get(study__case=draft_case).instance_count == 2
    (record,) = Attachment.objects.filter(case=draft_case, parent=None)  # one study, one record
    assert record.kind == "study" and record.status == "ready" and record.detail["images"] == 2
    assert record.entries.filter(kind="dicom", status="ready").count() == 2
    assert AuditEvent.objects.filter(action="dicomweb.stow", actor=patient_user,
                                     detail__stored=2).exists()
    assert AuditEvent.objects.filter(action="dicom.receive", patient_id=draft_case.patient_id).count() == 2

    body, content_type = multipart([good[0]])
    again = client.post(f"/dicomweb/cases/{draft_case.pk}/studies", body, content_type=content_type)
    assert again.status_code == 409, again.content
    assert value(again.json()["00081198"]["Value"][0], "00081197") == 0xA900


def test_stow_refuses_cut_images_and_known_instances(imaging, draft_case, patient_user, as_user):
    client = as_user(patient_user)
    known = Instance.objects.filter(series__modality="CT").first()
    ds = pydicom.dcmread(io.BytesIO(files.get_for(known.attachment)))
    ds.InstitutionName = "Re-sent"
    resent = io.BytesIO()
    ds.save_as(resent)
    cut = ct(1, seed=21)[0][:-500]
    before = Attachment.objects.count()
    body, content_type = multipart([resent.getvalue(), cut])
    response = client.post(f"{imaging['base']}studies", body, content_type=content_type)
    assert response.status_code == 409
    codes = sorted(value(item, "00081197") for item in response.json()["00081198"]["Value"])
    assert codes == [0xA900, 0xC000]
    assert Attachment.objects.count() == before


def test_stow_into_a_study_url(draft_case, patient_user, as_user, django_capture_on_commit_callbacks):
    client = as_user(patient_user)
    instances = ct(2, seed=12)
    study_uid = pydicom.dcmread(io.BytesIO(instances[0])).StudyInstanceUID
    body, content_type = multipart(instances[:1])
    response = client.post(f"/dicomweb/cases/{draft_case.pk}/studies/1.2.3.4", body, content_type=content_type)
    assert response.status_code == 409, response.status_code
    assert not Attachment.objects.exists()
    body, content_type = multipart(instances)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/dicomweb/cases/{draft_case.pk}/studies/{study_uid}", body,
                               content_type=content_type)
    assert response.status_code == 200
    assert Study.objects.get(case=draft_case).study_uid == study_uid
    assert AuditEvent.objects.filter(action="dicomweb.stow", actor=patient_user).exists()


def test_stow_needs_multipart(draft_case, patient_user, as_user):
    client = as_user(patient_user)
    response = client.post(f"/dicomweb/cases/{draft_case.pk}/studies", ct(1)[0], content_type="application/dicom")
    assert response.status_code in (400, 415)
    assert not Attachment.objects.exists()


def test_scoping(imaging, other_patient, network, as_user, draft_case):
    from ..factories import make_specialist

    outsider = make_specialist(network)
    body, content_type = multipart(ct(1, seed=13))
    base = imaging["base"]
    urls = [f"{base}studies", f"{base}studies/{imaging['study']}/series",
            f"{base}studies/{imaging['study']}/series/{imaging['series']}/instances",
            f"{base}studies/{imaging['study']}", f"{base}studies/{imaging['study']}/metadata",
            f"{base}studies/{imaging['study']}/series/{imaging['series']}/instances/{imaging['sop']}/rendered"]
    for user in (other_patient, outsider.user):
        client = as_user(user)
        for url in urls:
            assert client.get(url).status_code == 404, url
        assert client.post(f"{base}studies", body, content_type=content_type).status_code == 404
    assert AuditEvent.objects.filter(actor=outsider.user, outcome="denied").exists()
    assert Study.objects.filter(case=draft_case).count() == 2


def test_token_auth(imaging, patient_user):
    from rest_framework.test import APIClient

    from ..factories import api_token

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(patient_user)}")
    assert api.get(imaging["base"] + "studies").status_code == 200
    assert APIClient().get(imaging["base"] + "studies").status_code in (401, 403)


def test_stow_counts_in_the_database_with_queries_constant_per_instance(draft_case, patient_user, as_user,
                                                                         django_capture_on_commit_callbacks):
    """Each pushed instance costs the same few queries whatever the study's size, and the counts are taken by
    the database (an instance's frames are never read back row by row: quadratic in a 500-image study)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = as_user(patient_user)
    spent = {}
    for n in (2, 6):
        body, content_type = multipart(ct(n, seed=n))
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/dicomweb/cases/{draft_case.pk}/studies", body, content_type=content_type)
        assert response.status_code == 200, response.content
        spent[n] = [q["sql"] for q in queries.captured_queries]
    per_instance = (len(spent[6]) - len(spent[2])) / 4
    assert per_instance <= 20, per_instance  # 29 before the counts moved into the database
    assert not [sql for sql in spent[6] if sql.startswith('SELECT "records_instance"."frames"')]
    records = Attachment.objects.filter(case=draft_case, parent=None, kind="study")
    assert sorted(r.detail["images"] for r in records) == [2, 6]
    assert sorted(Series.objects.filter(study__case=draft_case).values_list("instance_count", flat=True)) == [2, 6]
    assert set(Study.objects.filter(case=draft_case).values_list("modalities", flat=True)) == {"CT"}
