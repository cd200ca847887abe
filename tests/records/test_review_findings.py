"""Defects found in review of the records feature: each test failed before its fix."""

from __future__ import annotations

import io
import logging
import warnings

import pydicom
import pytest
from django.test import Client
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

from konsil.cases.models import Attachment, Case
from konsil.core import files
from konsil.records import dicom, intake, processing
from konsil.records.errors import RecordRejected
from konsil.records.models import Instance, Series, Upload, UploadStatus

from ..factories import make_specialist
from .records_support import ct, ingest, stored_names, text_pdf, tus_create, tus_patch, uploads_url, zip_bytes
from .test_dicomweb import multipart
from .test_processing import _boom, assert_no_orphans

pytestmark = pytest.mark.django_db
MARKER = b"Marguerite19620503"  # stands for a patient's name or birth date in a malformed element


def _edited(data: bytes, **raw: tuple[str, bytes]) -> bytes:
    """A copy of a DICOM file with elements set to raw (possibly invalid) values, as a damaged file has them."""
    ds = pydicom.dcmread(io.BytesIO(data))
    for keyword, (vr, value) in raw.items():
        tag = Tag(pydicom.datadict.tag_for_keyword(keyword))
        ds._dict[tag] = RawDataElement(tag, vr, len(value), value, 0, False, True)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


@pytest.fixture
def as_user(login):
    def sign_in(user):
        return login(Client(raise_request_exception=False), user)
    return sign_in


@pytest.fixture
def ct_instance(draft_case, patient_user):
    ingest(draft_case, patient_user, zip_bytes({f"IM{i}": d for i, d in enumerate(ct(2))}), "ct.zip")
    instance = Instance.objects.select_related("series__study").first()
    series = instance.series
    return {"instance": instance, "rendered": f"/dicomweb/cases/{draft_case.pk}/studies/{series.study.study_uid}/"
                                              f"series/{series.series_uid}/instances/{instance.sop_uid}/rendered"}


# --- windows the renderer refuses were passed on to it: 500 --------------------------------------------------


@pytest.mark.parametrize("window", ["40,0", "40,0.5", "nan,400", "40,inf", "1e400,400"])
def test_wado_rendered_refuses_unusable_windows(ct_instance, patient_user, as_user, window):
    response = as_user(patient_user).get(ct_instance["rendered"], {"window": window})
    assert response.status_code == 400, response.status_code
    assert response.json()["errors"]["window"]


@pytest.mark.parametrize("query", [{"wc": "40", "ww": "0.5"}, {"wc": "1e400", "ww": "400"}])
def test_frame_refuses_windows_narrower_than_one(ct_instance, patient_user, as_user, query):
    url = f"/records/instances/{ct_instance['instance'].pk}/frames/0.png"
    assert as_user(patient_user).get(url, query).status_code == 400


# --- a damaged pixel module or LUT raised past the handlers ---------------------------------------------------


def test_non_numeric_rescale_fails_the_picture_not_the_record(draft_case, patient_user, as_user):
    data = _edited(ct(1, seed=3)[0], RescaleSlope=("DS", b"abc"))
    record = ingest(draft_case, patient_user, data, "x.dcm")
    assert record.status == "ready", record.error_code  # was failed ("processing"): the thumbnail raised
    instance = Instance.objects.get(attachment=record)
    response = as_user(patient_user).get(f"/records/instances/{instance.pk}/frames/0.png")
    assert response.status_code == 422


def test_non_numeric_number_of_frames_is_a_corrupt_dicom(draft_case, patient_user, as_user):
    data = _edited(ct(1, seed=4)[0], NumberOfFrames=("IS", b"abc"))
    with pytest.raises(RecordRejected) as caught:
        dicom.read(data)
    assert caught.value.code == "dicom_corrupt"
    body, content_type = multipart([data])  # STOW answered 500 (a TypeError comparing int and str)
    response = as_user(patient_user).post(f"/dicomweb/cases/{draft_case.pk}/studies", body,
                                          content_type=content_type)
    assert response.status_code == 409
    assert not Attachment.objects.exists() and not stored_names()


def test_frame_count_beyond_the_pixel_data_is_refused():
    """Rows=0 made the expected length 0, so any NumberOfFrames passed (and imaging.json listed them all)."""
    data = _edited(ct(1, seed=5)[0], Rows=("US", b"\x00\x00"), NumberOfFrames=("IS", b"90000000"))
    with pytest.raises(RecordRejected) as caught:
        dicom.read(data)
    assert caught.value.code == "dicom_corrupt"


def test_values_the_index_columns_cannot_hold(draft_case, patient_user):
    too_long_uid = b"1.2." + b"3" * 70
    with pytest.raises(RecordRejected):
        dicom.read(_edited(ct(1, seed=6)[0], SeriesInstanceUID=("UI", too_long_uid)))
    record = ingest(draft_case, patient_user, _edited(ct(1, seed=7)[0], SeriesNumber=("IS", b"99999999999"),
                                                      Modality=("CS", b"ABCDEFGHIJKLMNOPQRST")), "x.dcm")
    assert record.status == "ready"
    series = Series.objects.get()
    assert series.number is None and len(series.modality) <= 16  # a 32-bit column, a 16-character column


# --- PHI in logs ----------------------------------------------------------------------------------------------


def test_pydicom_does_not_warn_or_log_element_values(draft_case, patient_user, as_user, ct_instance, caplog):
    """pydicom's validation quoted the value in a UserWarning (the worker's stderr), whatever the log levels."""
    data = _edited(ct(1, seed=8)[0], InstanceNumber=("IS", MARKER), PatientBirthDate=("DA", MARKER))
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = ingest(draft_case, patient_user, data, "x.dcm")
        instance = Instance.objects.get(attachment=record)
        series = instance.series
        url = (f"/dicomweb/cases/{draft_case.pk}/studies/{series.study.study_uid}/series/{series.series_uid}/"
               f"instances/{instance.sop_uid}/metadata")
        assert as_user(patient_user).get(url).status_code == 200
    assert not [w for w in caught if MARKER.decode() in str(w.message)]
    assert MARKER.decode() not in caplog.text


def test_unexpected_failures_are_logged_without_their_message(draft_case, patient_user, monkeypatch, caplog):
    def leaks(*args):
        raise ValueError(f"could not read {MARKER.decode()}")
    monkeypatch.setitem(processing.HANDLERS, "pdf", leaks)
    caplog.set_level(logging.DEBUG)
    record = ingest(draft_case, patient_user, text_pdf(["x"]), "a.pdf")
    assert record.status == "failed" and record.error_code == "processing"
    assert "ValueError" in caplog.text and MARKER.decode() not in caplog.text


# --- one bad entry of an archive failed the whole archive -----------------------------------------------------


def test_a_crash_on_one_archive_entry_fails_that_entry_only(draft_case, patient_user, monkeypatch):
    monkeypatch.setitem(processing.HANDLERS, "pdf", _boom)
    data = zip_bytes({"a/IM1": ct(1)[0], "b/report.pdf": text_pdf(["report"])})
    record = ingest(draft_case, patient_user, data, "cd.zip")
    assert record.status == "ready" and record.detail["images"] == 1 and record.detail["failed"] == 1
    assert record.entries.get(kind="pdf").status == "failed"
    assert Series.objects.get().instance_count == 1
    assert_no_orphans()


# --- STOW -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type, body", [
    ('multipart/related; type="application/dicom"; boundary=""', b"--\r\n"),
    ("multipart/related; boundary=abc", b"--abc\r\nContent-Type: text/plain\r\n\r\nhello\r\n--abc--\r\n"),
])
def test_stow_without_dicom_parts_is_400(draft_case, patient_user, as_user, content_type, body):
    response = as_user(patient_user).generic("POST", f"/dicomweb/cases/{draft_case.pk}/studies", body,
                                             content_type=content_type, CONTENT_TYPE=content_type)
    assert response.status_code == 400  # was 200, "stored" nothing


# --- tus: nothing half-stored --------------------------------------------------------------------------------


def test_a_lost_part_cancels_the_upload_cleanly(draft_case, patient_user, as_user):
    client = as_user(patient_user)
    location = tus_create(client, draft_case, 10, "a.txt")["Location"]
    assert tus_patch(client, location, 0, b"hello").status_code == 204
    upload = Upload.objects.get()
    files.delete(upload.parts[0]["name"])
    response = tus_patch(client, location, 5, b"world")
    assert response.status_code == 409 and response.json()["code"] == "upload_failed"  # was 500
    upload.refresh_from_db()
    assert upload.status == UploadStatus.CANCELLED and upload.parts == []
    assert not stored_names() and not Attachment.objects.exists()


def test_a_crash_while_finishing_leaves_no_parts(draft_case, patient_user, as_user, monkeypatch):
    client = as_user(patient_user)
    location = tus_create(client, draft_case, 10, "a.txt")["Location"]
    tus_patch(client, location, 0, b"hello")
    monkeypatch.setattr(intake, "store_stream", _boom)
    tus_patch(client, location, 5, b"world")
    upload = Upload.objects.get()
    assert upload.status == UploadStatus.CANCELLED and upload.parts == []  # was stuck receiving at its length
    assert not stored_names()


def test_a_part_not_recorded_is_not_kept(draft_case, patient_user, monkeypatch):
    upload = intake.create_upload(actor=patient_user, case=draft_case, length=10, filename="a.txt")
    def fails(*args, **kwargs):
        raise RuntimeError("database gone")
    monkeypatch.setattr(Upload, "save", fails)
    with pytest.raises(RuntimeError):
        intake.append_chunk(actor=patient_user, upload=upload, offset=0, chunk=b"hello")
    assert not stored_names()


# --- access: read-only and status-only relations --------------------------------------------------------------


def test_panel_members_read_but_do_not_upload_and_sponsors_see_nothing(
        draft_case, patient_user, network, payer, payer_admin, specialist, as_user, ct_instance):
    from konsil.opinions.models import Panel, PanelMember

    Case.objects.filter(pk=draft_case.pk).update(sponsor=payer)
    member = make_specialist(network, specialty="radiology")
    panel = Panel.objects.create(case=draft_case, template="t", label="Panel", chair=specialist,
                                 assembled_by=patient_user)
    PanelMember.objects.create(panel=panel, specialist=member, role=member.specialties.first()
                               or specialist.specialties.first())
    frame = f"/records/instances/{ct_instance['instance'].pk}/frames/0.png"
    base = f"/dicomweb/cases/{draft_case.pk}/"
    body, content_type = multipart(ct(1, seed=9))

    reader = as_user(member.user)
    assert reader.get(frame).status_code == 200
    assert reader.get(base + "studies").status_code == 200
    assert tus_create(reader, draft_case, 10, "a.txt").status_code == 403
    assert reader.post(base + "studies", body, content_type=content_type).status_code == 403

    sponsor = as_user(payer_admin)
    for url in (frame, base + "studies", ct_instance["rendered"], f"/records/cases/{draft_case.pk}/files.json",
                f"/records/cases/{draft_case.pk}/imaging.json"):
        assert sponsor.get(url).status_code in (403, 404), url
    assert sponsor.post(uploads_url(draft_case), HTTP_UPLOAD_LENGTH="10", HTTP_TUS_RESUMABLE="1.0.0"
                        ).status_code in (403, 404)
    assert Upload.objects.count() == 0

