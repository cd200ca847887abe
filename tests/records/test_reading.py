"""What the browser reads: files.json, imaging.json, rendered frames, thumbnails, previews. Scoped and audited."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.urls import reverse
from PIL import Image

from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment, Case
from konsil.records import intake, processing, synthetic
from konsil.records.models import Derivative, Instance, Series

from .records_support import ct, ingest, photo, text_pdf, zip_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(draft_case, patient_user, specialist):
    Case.objects.filter(pk=draft_case.pk).update(assigned_specialist=specialist)
    return {
        "zip": ingest(draft_case, patient_user, zip_bytes({f"IM{i}": d for i, d in enumerate(ct(3))}), "ct.zip"),
        "mr": ingest(draft_case, patient_user, synthetic.mr_multiframe(4, size=32), "mr.dcm"),
        "pdf": ingest(draft_case, patient_user, text_pdf(["one", "two"]), "letter.pdf"),
        "bad": ingest(draft_case, patient_user, b"%PDF-1.4\nnot really" * 10, "broken.pdf"),
        "queued": intake.store_record(actor=patient_user, case=draft_case, content=photo(), filename="later.jpg",
                                      process=False),
    }


@pytest.fixture
def as_user(client, login):
    def sign_in(user):
        client.logout()
        return login(client, user)
    return sign_in


def audited(action, user, **filters) -> bool:
    return AuditEvent.objects.filter(action=action, actor=user, outcome="success", **filters).exists()


def test_files_json(records, draft_case, patient_user, as_user):
    client = as_user(patient_user)
    response = client.get(reverse("records:files", kwargs={"pk": draft_case.pk}))
    assert response.status_code == 200
    assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}
    files = {f["name"]: f for f in response.json()["files"]}
    assert set(files) == {"ct.zip", "mr.dcm", "letter.pdf", "broken.pdf", "later.jpg"}  # no archive entries
    assert files["ct.zip"]["status"] == "ready" and files["ct.zip"]["kind"] == "zip"
    assert "3 images" in files["ct.zip"]["detail"] and "1 series" in files["ct.zip"]["detail"]
    assert files["letter.pdf"]["detail"] == "2 pages"
    assert files["letter.pdf"]["thumbnail_url"]
    assert files["broken.pdf"]["status"] == "failed"
    assert files["broken.pdf"]["error"] == str(Attachment(error_code="pdf_corrupt").error_message)
    assert files["later.jpg"]["status"] == "queued" and files["later.jpg"]["error"] == ""
    assert files["later.jpg"]["status_label"] == "Queued"
    assert all(f["download_url"] for f in files.values())
    assert audited("records.list", patient_user, object_id=str(draft_case.pk))


def test_files_json_writes_its_dates_as_the_page_does(records, draft_case, patient_user, as_user):
    """The widget redraws the list from files.json: its dates in the page's format, language and reader's zone."""
    Attachment.objects.filter(case=draft_case).update(created_at=dt.datetime(2026, 10, 23, 3, 30, tzinfo=dt.UTC))
    client = as_user(patient_user)
    client.cookies["konsil_tz"] = "America/Los_Angeles"
    url = reverse("records:files", kwargs={"pk": draft_case.pk})
    labels = {f["created_label"] for f in client.get(url).json()["files"]}
    assert labels == {"Oct. 22, 2026, 8:30 p.m."}  # Django's DATETIME_FORMAT for English, in Los Angeles
    labels = {f["created_label"] for f in client.get(url, HTTP_ACCEPT_LANGUAGE="es").json()["files"]}
    assert labels == {"22 de octubre de 2026 a las 20:30"}


def test_imaging_json(records, draft_case, specialist, as_user):
    client = as_user(specialist.user)
    data = client.get(reverse("records:imaging", kwargs={"pk": draft_case.pk})).json()
    assert data["header"]["patient"] == "Ana García" and data["header"]["birth_date"] == "1970-05-17"
    assert {p["id"] for p in data["presets"]} == {"ct_soft_tissue", "ct_lung", "ct_bone", "ct_brain"}
    series = {s["modality"]: s for study in data["studies"] for s in study["series"]}
    assert set(series) == {"CT", "MR"}
    assert series["CT"]["instance_count"] == 3 and series["CT"]["frame_count"] == 3
    assert len(series["CT"]["frames"]) == 3 and series["CT"]["thumbnail_url"]
    assert series["MR"]["frame_count"] == 4 and series["MR"]["frames"][3].endswith("/frames/3.png")
    assert series["CT"]["description"] == "Head 1.0 axial"
    assert audited("imaging.index", specialist.user, object_id=str(draft_case.pk))


def _png(response) -> Image.Image:
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"] == "image/png"
    return Image.open(io.BytesIO(response.content))


def test_frames(records, draft_case, patient_user, as_user):
    client = as_user(patient_user)
    instance = Instance.objects.filter(series__modality="CT").first()
    url = reverse("records:frame", kwargs={"instance_id": instance.pk, "frame": 0})
    plain = _png(client.get(url))
    assert plain.size == (64, 64)
    lung = client.get(url, {"preset": "ct_lung"}).content
    bone = client.get(url, {"preset": "ct_bone"}).content
    assert lung != bone
    assert _png(client.get(url, {"wc": "40", "ww": "400", "size": "32"})).size == (32, 32)
    assert audited("imaging.frame", patient_user, object_id=str(instance.pk))

    for bad in ({"preset": "nope"}, {"wc": "40"}, {"wc": "40", "ww": "0"}, {"wc": "x", "ww": "1"},
                {"size": "8"}, {"size": "big"}, {"wc": "nan", "ww": "10"}, {"ww": "inf", "wc": "1"}):
        assert client.get(url, bad).status_code == 400, bad
    assert client.get(reverse("records:frame", kwargs={"instance_id": instance.pk, "frame": 1})).status_code == 404

    mr = Instance.objects.get(series__modality="MR")
    mr_url = reverse("records:frame", kwargs={"instance_id": mr.pk, "frame": 3})
    assert _png(client.get(mr_url)).size == (32, 32)
    assert client.get(reverse("records:frame", kwargs={"instance_id": mr.pk, "frame": 4})).status_code == 404
    assert AuditEvent.objects.filter(action="imaging.frame", outcome="denied", object_id=str(mr.pk)).exists()


def test_thumbnails_and_previews(records, draft_case, specialist, as_user):
    client = as_user(specialist.user)
    series = Series.objects.get(modality="CT")
    thumb = _png(client.get(reverse("records:series-thumbnail", kwargs={"pk": series.pk})))
    assert max(thumb.size) <= 128
    assert audited("imaging.thumbnail", specialist.user, object_id=str(series.pk))
    page = Derivative.objects.get(attachment=records["pdf"], kind="thumbnail", index=1)
    _png(client.get(reverse("records:derivative", kwargs={"pk": page.pk})))
    assert audited("record.preview", specialist.user, object_id=str(records["pdf"].pk))
    text = Derivative.objects.get(attachment=records["pdf"], kind="text")
    assert client.get(reverse("records:derivative", kwargs={"pk": text.pk})).status_code == 404


def _urls(records, draft_case) -> list[str]:
    instance = Instance.objects.filter(series__modality="CT").first()
    page = Derivative.objects.get(attachment=records["pdf"], kind="thumbnail", index=0)
    return [
        reverse("records:files", kwargs={"pk": draft_case.pk}),
        reverse("records:imaging", kwargs={"pk": draft_case.pk}),
        reverse("records:frame", kwargs={"instance_id": instance.pk, "frame": 0}),
        reverse("records:series-thumbnail", kwargs={"pk": instance.series_id}),
        reverse("records:derivative", kwargs={"pk": page.pk}),
    ]


def test_scoping(records, draft_case, patient_user, specialist, other_patient, network, as_user):
    from ..factories import make_specialist

    outsider = make_specialist(network, specialty="cardiology")
    urls = _urls(records, draft_case)
    for user in (other_patient, outsider.user):
        client = as_user(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
    assert AuditEvent.objects.filter(actor=outsider.user, outcome="denied").exists()
    for user in (patient_user, specialist.user):
        client = as_user(user)
        for url in urls:
            assert client.get(url).status_code == 200, (user, url)


def test_anonymous_is_sent_to_login(records, draft_case, client):
    for url in _urls(records, draft_case):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_unrenderable_frame_is_422(records, draft_case, patient_user, as_user, monkeypatch):
    from konsil.records import reading
    from konsil.records.errors import RecordRejected

    def refuse(*args, **kwargs):
        raise RecordRejected("dicom_unsupported_syntax")

    monkeypatch.setattr(reading.render, "render", refuse)
    client = as_user(patient_user)
    instance = Instance.objects.filter(series__modality="CT").first()
    response = client.get(reverse("records:frame", kwargs={"instance_id": instance.pk, "frame": 0}))
    assert response.status_code == 422


def test_a_folder_upload_is_one_line_in_files_json(draft_case, patient_user, as_user):
    import uuid

    batch = uuid.uuid4()
    for i, data in enumerate(ct(6, size=32)):
        record = intake.store_record(actor=patient_user, case=draft_case, content=data, filename=f"IM{i}",
                                     batch=batch, process=False)
        processing.process(record.pk)
    single = ingest(draft_case, patient_user, text_pdf(["letter"]), "letter.pdf")
    client = as_user(patient_user)
    files = client.get(reverse("records:files", kwargs={"pk": draft_case.pk})).json()["files"]
    assert [f["name"] for f in files] == ["Folder of 6 files", "letter.pdf"]
    folder = files[0]
    assert folder["status"] == "ready" and folder["detail"] == "6 images" and folder["download_url"] is None
    assert single.status == "ready"
    assert Series.objects.get(study__case=draft_case).instance_count == 6


def test_the_summary_shows_the_latest_value_of_each_test():
    from konsil.records.reading import latest_results

    rows = [{"code": "8480-6", "value": "120", "date": "2024"}, {"code": "8480-6", "value": "135", "date": "2020"},
            {"code": "2093-3", "value": "180", "date": "2023"}, {"display": "Mood", "value": "ok"}]
    assert [r["value"] for r in latest_results(rows)] == ["120", "180", "ok"]
    assert len(latest_results(rows, limit=1)) == 1


def test_pages_list_a_folder_upload_as_one_line(draft_case, patient_user):
    import uuid

    from konsil.records.reading import FolderRow, record_rows

    batch = uuid.uuid4()
    for i, data in enumerate(ct(5, size=32)):
        record = intake.store_record(actor=patient_user, case=draft_case, content=data, filename=f"IM{i}",
                                     batch=batch, process=False)
        processing.process(record.pk)
    letter = ingest(draft_case, patient_user, text_pdf(["letter"]), "letter.pdf")
    rows = record_rows(Attachment.objects.filter(case=draft_case, parent__isnull=True))
    assert len(rows) == 2 and isinstance(rows[0], FolderRow) and rows[1].pk == letter.pk
    assert rows[0].filename == "Folder of 5 files" and rows[0].get_status_display() == "Ready" and rows[0].pk is None


def test_parsed_instances_are_kept_within_their_byte_budget(records, draft_case, patient_user, as_user, settings,
                                                            monkeypatch):
    """Scrolling reuses parsed instances, but no more of them than KONSIL_RECORD_CACHE_BYTES of file sizes."""
    from konsil.records import dicom, reading

    parsed = []
    read = dicom.read
    monkeypatch.setattr(reading.dicom, "read", lambda data: parsed.append(1) or read(data))
    instances = list(Instance.objects.filter(series__modality="CT").select_related("attachment")
                     .order_by("attachment__created_at"))
    assert len(instances) == 3
    size = max(i.attachment.size for i in instances)
    settings.KONSIL_RECORD_CACHE_BYTES = 2 * size + size // 2  # room for two of the three
    client = as_user(patient_user)

    def frame(instance, **window):
        url = reverse("records:frame", kwargs={"instance_id": instance.pk, "frame": 0})
        assert client.get(url, window).status_code == 200

    for instance in instances:
        frame(instance)
    assert len(parsed) == 3
    kept = reading._kept()
    assert kept.currsize <= settings.KONSIL_RECORD_CACHE_BYTES and len(kept) == 2
    frame(instances[2], preset="ct_bone")  # kept: not parsed again
    assert len(parsed) == 3
    frame(instances[0])  # the least recently used one went out: parsed again
    assert len(parsed) == 4

    settings.KONSIL_RECORD_CACHE_BYTES = size // 2  # an instance larger than the whole budget is not kept
    frame(instances[1])
    frame(instances[1])
    assert len(parsed) == 6 and len(reading._kept()) == 0
