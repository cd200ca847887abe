"""Background processing of stored records: each kind read out and indexed, the bad-input corpus failing cleanly."""

from __future__ import annotations

import io
import json
import struct
import uuid
import zipfile

import pydicom
import pytest

from konsil.cases.models import Attachment
from konsil.cases.selectors import attachments_for
from konsil.core import files
from konsil.core.errors import Conflict, ValidationFailed
from konsil.records import intake, processing, selectors
from konsil.records.models import Derivative, Instance, Series, Study, Upload

from .records_support import (
    cd_export,
    ct,
    encrypted_pdf,
    photo,
    stored_names,
    synthea_bundle,
    text_pdf,
    zip_bytes,
    zip_folder,
)

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n"
MiB = 1024 * 1024


def ingest(case, user, data: bytes, name: str) -> Attachment:
    record = intake.store_record(actor=user, case=case, content=data, filename=name, process=False)
    processing.process(record.pk)
    return Attachment.objects.get(pk=record.pk)


def assert_no_orphans() -> None:
    """Every object in storage belongs to a record, a derivative or an upload part, and the reverse."""
    expected = set(Attachment.objects.values_list("storage_name", flat=True))
    expected |= set(Derivative.objects.values_list("storage_name", flat=True))
    expected |= {part["name"] for upload in Upload.objects.all() for part in upload.parts}
    assert stored_names() == expected


def assert_failed_cleanly(record: Attachment, *codes: str) -> None:
    assert record.status == Attachment.Processing.FAILED
    assert record.error_code in codes, record.error_code
    assert record.error_message
    assert not record.entries.exists()
    assert not Derivative.objects.filter(attachment=record).exists()
    assert not Instance.objects.filter(attachment__case=record.case).filter(
        attachment__in=[record, *record.entries.all()]).exists()
    assert record.storage_name in stored_names()
    assert_no_orphans()


def derivatives(record, kind) -> list[Derivative]:
    return list(Derivative.objects.filter(attachment=record, kind=kind).order_by("index"))


# --- each kind ---------------------------------------------------------------------------------------------


def test_pdf_text_and_page_thumbnails(draft_case, patient_user):
    record = ingest(draft_case, patient_user, text_pdf(["Echocardiogram: ejection fraction 35 percent",
                                                          "Plan: cardiology review"]), "echo.pdf")
    assert record.status == "ready" and record.kind == "pdf"
    assert record.detail["pages"] == 2 and record.detail["text_length"] > 20
    text = files.get_for(derivatives(record, "text")[0]).decode()
    assert "ejection fraction" in text
    thumbs = derivatives(record, "thumbnail")
    assert [t.index for t in thumbs] == [0, 1]
    assert all(files.get_for(t).startswith(PNG) for t in thumbs)
    from konsil.triage.ml import record_texts

    texts = record_texts(draft_case)
    assert any("ejection fraction" in t and ref == f"attachment:{record.pk}" for t, ref in texts)
    assert_no_orphans()


def test_photo_thumbnail(draft_case, patient_user):
    record = ingest(draft_case, patient_user, photo("JPEG", (300, 200)), "rash.jpg")
    assert record.status == "ready" and record.kind == "jpeg"
    assert record.detail == {"width": 300, "height": 200}
    (thumb,) = derivatives(record, "thumbnail")
    assert files.get_for(thumb).startswith(PNG)


def test_plain_text_record(draft_case, patient_user):
    record = ingest(draft_case, patient_user, b"Blutdruck 130/85, Puls 72\n", "werte.txt")
    assert record.kind == "text" and record.status == "ready"
    assert files.get_for(derivatives(record, "text")[0]).decode().startswith("Blutdruck")


def test_fhir_bundle_summary_feeds_triage(draft_case, patient_user):
    data = synthea_bundle()
    record = ingest(draft_case, patient_user, data, "export.json")
    assert record.status == "ready" and record.kind == "fhir", record.error_code
    summary = json.loads(files.get_for(derivatives(record, "summary")[0]))
    assert summary["counts"]["patients"] == 1
    assert record.detail["conditions"] == summary["counts"]["conditions"] > 0
    assert record.detail["encounters"] > 0
    (clinical,) = selectors.clinical_summaries(draft_case)
    assert clinical["attachment_id"] == str(record.pk)
    from konsil.triage.ml import record_texts

    texts = dict((ref, text) for text, ref in record_texts(draft_case))
    assert texts[f"attachment:{record.pk}"].strip()


def test_fhir_bundle_with_unknown_resources_imports_and_counts_them(draft_case, patient_user):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Condition", "id": "c1", "clinicalStatus": {"coding": [{"code": "active"}]},
                      "code": {"text": "Hypertension"}}},
        {"resource": {"resourceType": "SpaceshipLog", "id": "x1"}},
        {"resource": {"resourceType": "SpaceshipLog", "id": "x2"}},
        {"resource": {"resourceType": "Claim", "id": "x3"}},
    ]}
    record = ingest(draft_case, patient_user, json.dumps(bundle).encode(), "bundle.json")
    assert record.status == "ready" and record.kind == "fhir"
    assert record.detail["conditions"] == 1
    assert record.detail["other_resources"] == 3


def test_single_dicom_is_indexed_with_a_thumbnail(draft_case, patient_user):
    (data,) = ct(1)
    record = ingest(draft_case, patient_user, data, "IM0001")
    assert record.status == "ready" and record.kind == "dicom"
    assert {k: v for k, v in record.detail.items() if k != "identity"} == {
        "images": 1, "frames": 1, "series": 1, "studies": 1}
    assert record.detail["identity"]["status"] == "mismatch"  # the synthetic study names another person
    study = Study.objects.get(case=draft_case)
    series = study.series.get()
    assert study.modalities == "CT" and series.modality == "CT" and series.instance_count == 1
    instance = Instance.objects.get(attachment=record)
    assert (instance.rows, instance.columns, instance.frames) == (64, 64, 1)
    assert series.thumbnail is not None
    assert files.get_for(series.thumbnail).startswith(PNG)


def test_cd_export_zip_is_indexed_and_junk_ignored(draft_case, patient_user, tmp_path):
    from konsil.records import synthetic

    folder = cd_export(tmp_path, [*ct(3), synthetic.monochrome1_cr(size=32)])
    record = ingest(draft_case, patient_user, zip_folder(folder), "cd.zip")
    assert record.status == "ready" and record.kind == "zip", record.error_code
    detail = record.detail
    assert detail["images"] == 4 and detail["series"] == 2 and detail["studies"] == 2
    assert detail["ignored"] >= 5  # DICOMDIR, AUTORUN.INF, VIEWER.EXE, dicomview.dll, index.html
    assert detail["failed"] == 0 and detail["skipped"] == 0
    ct_series = Series.objects.get(study__case=draft_case, modality="CT")
    assert ct_series.instance_count == 3 and ct_series.frame_count == 3
    assert all(s.thumbnail_id for s in Series.objects.filter(study__case=draft_case))
    assert record.entries.filter(kind="dicom").count() == 4
    assert list(attachments_for(patient_user, draft_case)) == [record]  # entries are listed under the archive
    assert list(selectors.records_for(patient_user, draft_case)) == [record]
    assert_no_orphans()


def test_dicom_already_indexed_is_a_duplicate(draft_case, patient_user):
    first, second = ct(2)
    ingest(draft_case, patient_user, first, "a.dcm")
    archive = ingest(draft_case, patient_user, zip_bytes({"x/1.dcm": first, "x/2.dcm": second}), "again.zip")
    assert archive.status == "ready"
    assert archive.detail["images"] == 1 and archive.detail["duplicates"] == 1
    assert Series.objects.get(study__case=draft_case).instance_count == 2
    # the same instance re-encoded (other bytes, same SOP Instance UID) as a single file
    ds = pydicom.dcmread(io.BytesIO(first))
    ds.InstitutionName = "Elsewhere"
    out = io.BytesIO()
    ds.save_as(out)
    again = ingest(draft_case, patient_user, out.getvalue(), "copy.dcm")
    assert_failed_cleanly(again, "duplicate")


def test_processing_runs_on_commit(draft_case, patient_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record = intake.store_record(actor=patient_user, case=draft_case, content=photo("PNG"), filename="x.png")
        assert Attachment.objects.get(pk=record.pk).status == "queued"
    assert Attachment.objects.get(pk=record.pk).status == "ready"


def test_processing_is_idempotent(draft_case, patient_user):
    record = ingest(draft_case, patient_user, photo(), "p.jpg")
    assert processing.process(record.pk) is None
    assert Derivative.objects.filter(attachment=record).count() == 1


# --- the bad-input corpus ----------------------------------------------------------------------------------


def _garbage_syntax() -> bytes:
    data = ct(1)[0]
    explicit = b"1.2.840.10008.1.2.1\x00"
    assert explicit in data[:400]
    return data.replace(explicit, b"9.9.999.99999.9.9.9\x00", 1)


def _not_a_pdf() -> bytes:
    return b"%PDF-1.7\n" + b"this is not really a pdf\n" * 40


BAD = {
    "truncated_dicom": (lambda: ct(1)[0][: len(ct(1)[0]) // 2], "IM0001", ("dicom_corrupt",)),
    "dicom_cut_in_header": (lambda: ct(1)[0][:400], "IM0002", ("dicom_corrupt",)),
    "not_dicom_named_dcm": (lambda: b"\x00\x01binary junk\xff" * 64, "scan.dcm", ("dicom_not_dicom",)),
    "garbage_transfer_syntax": (_garbage_syntax, "IM0003", ("dicom_corrupt", "dicom_unsupported_syntax")),
    "zip_bomb": (lambda: zip_bytes({"bomb.bin": bytes(8 * MiB)}), "bomb.zip", ("zip_bomb",)),
    "corrupt_zip": (lambda: b"PK\x03\x04" + b"\x00garbage" * 50, "broken.zip", ("zip_corrupt",)),
    "junk_only_zip": (lambda: zip_bytes({"VIEWER.EXE": b"MZ" + bytes(64), "autorun.inf": b"[autorun]"}),
                      "cd.zip", ("zip_empty",)),
    "encrypted_pdf": (lambda: encrypted_pdf(text_pdf(["secret report"])), "locked.pdf", ("pdf_encrypted",)),
    "not_a_pdf": (_not_a_pdf, "report.pdf", ("pdf_corrupt",)),
    "invalid_fhir_json": (lambda: b'{"resourceType": "Bundle", "entry": [{"resource": ', "export.json",
                          ("fhir_invalid_json",)),
    "json_not_fhir": (lambda: b'{"patient": "nobody", "values": [1, 2, 3]}', "data.json", ("fhir_invalid",)),
    "corrupt_photo": (lambda: photo()[:200], "photo.jpg", ("image_corrupt",)),
    "unsupported_binary": (lambda: bytes(range(256)) * 8, "thing.bin", ("unsupported_type",)),
}


@pytest.mark.parametrize("case_name", sorted(BAD))
def test_bad_input_fails_cleanly(case_name, draft_case, patient_user):
    build, filename, codes = BAD[case_name]
    record = ingest(draft_case, patient_user, build(), filename)
    assert_failed_cleanly(record, *codes)
    assert not Study.objects.filter(case=draft_case).exists()


def test_empty_file_is_refused_before_storage(draft_case, patient_user):
    with pytest.raises(ValidationFailed) as caught:
        intake.store_record(actor=patient_user, case=draft_case, content=b"", filename="empty.pdf")
    assert caught.value.code == "empty"
    assert stored_names() == set() and not Attachment.objects.exists()


def test_duplicate_is_refused_before_storage(draft_case, patient_user):
    ingest(draft_case, patient_user, photo(), "a.jpg")
    before = stored_names()
    with pytest.raises(Conflict) as caught:
        intake.store_record(actor=patient_user, case=draft_case, content=photo(), filename="b.jpg")
    assert caught.value.code == "duplicate"
    assert stored_names() == before and Attachment.objects.count() == 1


def test_a_failed_duplicate_may_be_sent_again(draft_case, patient_user, monkeypatch):
    monkeypatch.setitem(processing.HANDLERS, "jpeg", _boom)
    failed = ingest(draft_case, patient_user, photo(), "a.jpg")
    assert failed.status == "failed" and failed.error_code == "processing"
    monkeypatch.undo()
    assert ingest(draft_case, patient_user, photo(), "a.jpg").status == "ready"


def _boom(*args):
    raise RuntimeError("a bug")


def test_zip_unsafe_entries_are_skipped_and_the_rest_imported(draft_case, patient_user):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/evil.txt", b"escape attempt\n")
        link = zipfile.ZipInfo("DICOM/link")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, b"/etc/passwd")
        for i, data in enumerate(ct(2)):
            archive.writestr(f"DICOM/IM{i}", data)
        archive.writestr("notes.txt", b"Follow-up in three months.\n")
    record = ingest(draft_case, patient_user, buffer.getvalue(), "export.zip")
    assert record.status == "ready"
    assert record.detail["images"] == 2 and record.detail["documents"] == 1
    assert record.detail["skipped"] == 2 and record.detail["reasons"] == {"zip_unsafe_path": 2}
    assert record.entries.count() == 3
    assert_no_orphans()


def _lying_zip(entries: dict[str, bytes], bomb: bytes) -> bytes:
    """A zip whose last entry declares a small size but expands to `bomb` (caught while reading)."""
    data = bytearray(zip_bytes({**entries, "z/bomb.bin": bomb}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("z/bomb.bin")
    declared = info.compress_size
    local = info.header_offset
    struct.pack_into("<I", data, local + 22, declared)
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


def test_zip_bomb_found_midway_leaves_nothing_behind(draft_case, patient_user):
    data = _lying_zip({"a/IM1": ct(1)[0], "a/report.pdf": text_pdf(["kept?"])}, bytes(4 * MiB))
    record = ingest(draft_case, patient_user, data, "sneaky.zip")
    assert_failed_cleanly(record, "zip_bomb")
    assert not Series.objects.exists() and not Study.objects.exists()


def test_a_crash_inside_an_archive_undoes_its_entries(draft_case, patient_user, monkeypatch):
    """A crash outside any one entry (here: while indexing the batch) fails the archive, undone entirely."""
    monkeypatch.setattr(processing.IndexBatch, "finish", _boom)
    data = zip_bytes({"a/IM1": ct(1)[0], "b/report.pdf": text_pdf(["report"])})
    record = ingest(draft_case, patient_user, data, "cd.zip")
    assert_failed_cleanly(record, "processing")
    assert not Series.objects.exists()


def test_a_crash_on_one_archive_entry_fails_that_entry_only(draft_case, patient_user, monkeypatch):
    monkeypatch.setitem(processing.HANDLERS, "pdf", _boom)
    data = zip_bytes({"a/IM1": ct(1)[0], "b/report.pdf": text_pdf(["report"])})
    record = ingest(draft_case, patient_user, data, "cd.zip")
    assert record.status == "ready" and record.detail["images"] == 1 and record.detail["failed"] == 1
    failed_child = record.entries.get(kind="pdf")
    assert failed_child.status == "failed" and failed_child.error_code == "processing"
    assert not Derivative.objects.filter(attachment=failed_child).exists()
    assert Series.objects.get().instance_count == 1
    assert_no_orphans()


def test_bad_entry_inside_an_archive_does_not_fail_it(draft_case, patient_user):
    data = zip_bytes({"a/IM1": ct(1)[0], "a/IM2": ct(1)[0][:300], "b/locked.pdf": encrypted_pdf(text_pdf(["x"]))})
    record = ingest(draft_case, patient_user, data, "cd.zip")
    assert record.status == "ready"
    assert record.detail["images"] == 1 and record.detail["failed"] == 2
    failed_child = record.entries.get(kind="pdf")
    assert failed_child.status == "failed" and failed_child.error_code == "pdf_encrypted"
    assert_no_orphans()


def test_tampered_storage_fails_the_integrity_check(draft_case, patient_user):
    from .records_support import storage_root

    record = intake.store_record(actor=patient_user, case=draft_case, content=photo(), filename="p.jpg",
                                 process=False)
    path = storage_root() / record.storage_name
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    processing.process(record.pk)
    record.refresh_from_db()
    assert record.status == "failed" and record.error_code == "integrity"


def test_one_bad_file_does_not_block_the_batch(draft_case, patient_user, django_capture_on_commit_callbacks):
    batch = uuid.uuid4()
    files = {"good.pdf": text_pdf(["fine"]), "bad.pdf": _not_a_pdf(), "photo.png": photo("PNG"),
             "IM1": ct(1)[0][:500], "IM2": ct(1, seed=3)[0]}
    with django_capture_on_commit_callbacks(execute=True):
        records = {name: intake.store_record(actor=patient_user, case=draft_case, content=data, filename=name,
                                             batch=batch) for name, data in files.items()}
    status = {name: Attachment.objects.get(pk=r.pk).status for name, r in records.items()}
    assert status == {"good.pdf": "ready", "bad.pdf": "failed", "photo.png": "ready", "IM1": "failed",
                      "IM2": "ready"}
    assert_no_orphans()


def test_failure_of_a_record_keeps_other_records_series(draft_case, patient_user):
    first, second = ct(2)
    ingest(draft_case, patient_user, first, "IM1")
    archive = ingest(draft_case, patient_user, zip_bytes({"IM2": second}), "two.zip")
    series = Series.objects.get()
    assert series.instance_count == 2
    processing.undo(archive)
    series.refresh_from_db()
    assert series.instance_count == 1 and series.thumbnail_id
    assert files.get_for(series.thumbnail).startswith(PNG)
    assert_no_orphans()


def test_a_record_left_half_processed_is_processed_again_from_nothing(draft_case, patient_user):
    record = ingest(draft_case, patient_user, zip_bytes({f"IM{i}": d for i, d in enumerate(ct(3))}), "cd.zip")
    assert record.detail["images"] == 3
    Attachment.objects.filter(pk=record.pk).update(status=Attachment.Processing.PROCESSING)  # the worker died
    processing.process(record.pk)
    record.refresh_from_db()
    assert record.status == "ready" and record.detail["images"] == 3 and record.detail["duplicates"] == 0
    assert record.entries.count() == 3 and Series.objects.get().instance_count == 3
    assert_no_orphans()
