"""`konsil records inspect | deidentify` and `konsil keys rotate | status` through cli.main."""

from __future__ import annotations

import json

import pydicom
import pytest

from konsil import cli
from konsil.records import synthetic

from .records_support import DICOM_NAME, bundle_family_name, cd_export, ct, synthea_bundle, text_pdf, zip_folder


def run(capsys, *argv) -> tuple[int, dict | None, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_inspect_synthea_bundle(tmp_path, capsys):
    data = synthea_bundle()
    path = tmp_path / "bundle.json"
    path.write_bytes(data)
    code, report, _ = run(capsys, "records", "inspect", str(path))
    assert code == 0
    assert report["kind"] == "fhir" and report["size"] == len(data)
    assert bundle_family_name(data) in json.dumps(report["patient"])
    counts = report["counts"]
    assert counts["patients"] == 1 and counts["conditions"] == len(report["conditions"]) > 0
    assert counts["encounters"] == len(report["encounters"]) > 0
    for section in ("medications", "procedures", "allergies", "observations", "immunizations", "imaging_studies"):
        assert isinstance(report[section], list)


def test_inspect_dicom_file(tmp_path, capsys):
    path = tmp_path / "IM0001"
    path.write_bytes(ct(1)[0])
    code, report, _ = run(capsys, "records", "inspect", str(path))
    assert code == 0 and report["kind"] == "dicom"
    (study,) = report["studies"]
    (series,) = study["series"]
    assert series["modality"] == "CT" and series["instances"] == 1 and series["frames"] == 1
    assert study["date"] == "2024-03-14"


def test_inspect_zipped_cd_and_folder(tmp_path, capsys):
    folder = cd_export(tmp_path, [*ct(3), synthetic.monochrome1_cr(size=32)])
    path = tmp_path / "cd.zip"
    path.write_bytes(zip_folder(folder))
    for target, kind in ((path, "zip"), (folder, "folder")):
        code, report, _ = run(capsys, "records", "inspect", str(target))
        assert code == 0 and report["kind"] == kind
        series = {s["modality"]: s for study in report["studies"] for s in study["series"]}
        assert series["CT"]["instances"] == 3 and series["CR"]["instances"] == 1
        assert len(report["studies"]) == 2


def test_inspect_zip_counts_damaged_entries(tmp_path, capsys):
    from .records_support import zip_bytes

    first, second = ct(2)
    path = tmp_path / "cd.zip"
    path.write_bytes(zip_bytes({"IM1": first, "IM2": second[:-1000], "VIEWER.EXE": b"MZ" + bytes(40)}))
    code, report, _ = run(capsys, "records", "inspect", str(path))
    assert code == 0
    assert report["studies"][0]["series"][0]["instances"] == 1
    assert report["skipped"] == {"dicom_corrupt": 1}


def test_inspect_pdf(tmp_path, capsys):
    path = tmp_path / "letter.pdf"
    path.write_bytes(text_pdf(["first page", "second page", "third"]))
    code, report, _ = run(capsys, "records", "inspect", str(path))
    assert code == 0 and report["kind"] == "pdf"
    assert report["pages"] == 3 and report["text_length"] > 20


@pytest.mark.parametrize(("name", "data"), [
    ("broken.dcm", b"this is not dicom at all" * 20),
    ("cut.dcm", None),
    ("cut_in_pixels.dcm", "pixels"),
    ("binary.bin", bytes(range(256)) * 4),
    ("bad.pdf", b"%PDF-1.4\nnot a pdf" * 30),
    ("empty.txt", b""),
])
def test_inspect_bad_file(tmp_path, capsys, name, data):
    path = tmp_path / name
    whole = ct(1)[0]
    path.write_bytes({None: whole[:300], "pixels": whole[: len(whole) - 1000]}.get(data, data))
    code, report, err = run(capsys, "records", "inspect", str(path))
    assert code == 1 and report is None
    assert err.startswith("konsil records inspect: ") and len(err.strip()) > len("konsil records inspect: ")


def test_inspect_missing_file(tmp_path, capsys):
    code, _report, err = run(capsys, "records", "inspect", str(tmp_path / "nope.pdf"))
    assert code == 1 and "konsil records inspect" in err


def test_deidentify_cd_folder(tmp_path, capsys):
    folder = cd_export(tmp_path, ct(3))
    out = tmp_path / "out"
    code, report, _ = run(capsys, "records", "deidentify", str(folder), str(out))
    assert code == 0 and report["written"] == 3
    written = [p for p in out.rglob("*") if p.is_file() and p.suffix != ".json"]
    assert len(written) >= 3
    family = DICOM_NAME.split("^")[0].encode()
    for path in out.rglob("*"):
        if path.is_file():
            assert family not in path.read_bytes(), path
    dicoms = [pydicom.dcmread(p) for p in written if p.read_bytes()[128:132] == b"DICM"]
    assert len(dicoms) == 3
    assert all(ds.PatientIdentityRemoved == "YES" for ds in dicoms)


def test_deidentify_missing_source(tmp_path, capsys):
    code, _report, err = run(capsys, "records", "deidentify", str(tmp_path / "nope"), str(tmp_path / "out"))
    assert code == 1 and "does not exist" in err


@pytest.mark.django_db
def test_keys_status_and_rotate(settings, capsys, draft_case, patient_user):
    from konsil.cases.models import Attachment
    from konsil.records import intake

    settings.KONSIL_MASTER_KEYS = {**settings.KONSIL_MASTER_KEYS, "t9": b"\x09" * 32}
    record = intake.store_record(actor=patient_user, case=draft_case, content=b"note", filename="n.txt",
                                 process=False)
    code, status, _ = run(capsys, "keys", "status")
    assert code == 0 and status["data_keys"]["cases.Attachment"] == {record.key_id: 1}
    settings.KONSIL_MASTER_KEY_ID = "t9"
    code, result, _ = run(capsys, "keys", "rotate")
    assert code == 0 and result["master_key"] == "t9" and result["rewrapped"]["cases.Attachment"] == 1
    assert Attachment.objects.get(pk=record.pk).key_id == "t9"
    code, status, _ = run(capsys, "keys", "status")
    assert status["current"] == "t9" and status["data_keys"]["cases.Attachment"] == {"t9": 1}


@pytest.mark.django_db
def test_keys_rotate_new_generates_an_embedded_key(settings, capsys, tmp_path, monkeypatch, draft_case):
    monkeypatch.delenv("KONSIL_MASTER_KEYS", raising=False)
    settings.HOME = tmp_path
    settings.KONSIL_MASTER_KEYS = dict(settings.KONSIL_MASTER_KEYS)
    settings.KONSIL_MASTER_KEY_ID = settings.KONSIL_MASTER_KEY_ID
    code, result, _ = run(capsys, "keys", "rotate", "--new")
    assert code == 0
    new_id = result["master_key"]
    assert (tmp_path / "master_keys").read_text().startswith(f"{new_id}:")
    assert (tmp_path / "master_keys").stat().st_mode & 0o777 == 0o600


def test_keys_rotate_new_refused_with_environment_keys(capsys, monkeypatch):
    monkeypatch.setenv("KONSIL_MASTER_KEYS", "k1:AAAA")
    code, _result, err = run(capsys, "keys", "rotate", "--new")
    assert code == 1 and "KONSIL_MASTER_KEYS" in err


@pytest.mark.django_db
def test_keys_rotate_to_an_unconfigured_key_is_refused(settings, capsys):
    settings.KONSIL_MASTER_KEY_ID = "missing"
    code, _result, err = run(capsys, "keys", "rotate")
    assert code == 1 and "missing" in err and "KONSIL_MASTER_KEYS" in err


@pytest.mark.django_db
def test_keys_rotate_is_audited(settings, capsys):
    from konsil.audit.models import AuditEvent

    code, result, _ = run(capsys, "keys", "rotate")
    assert code == 0
    event = AuditEvent.objects.get(action="keys.rotate")
    assert event.object_id == result["master_key"]


def test_inspect_utf16_text_counts_characters(tmp_path, capsys):
    note = tmp_path / "note.txt"
    note.write_bytes("Befund: unauffällig".encode("utf-16"))
    code, result, _ = run(capsys, "records", "inspect", str(note))
    assert code == 0 and result["kind"] == "text" and result["text_length"] == len("Befund: unauffällig")


@pytest.mark.django_db
def test_schedule_once_enqueues_only_what_is_due(settings, capsys, tmp_path):
    settings.HOME = tmp_path
    assert cli.main(["schedule", "--once"]) == 0
    first = capsys.readouterr().out
    assert "konsil.cases.tasks.expire_offers" in first and (tmp_path / "schedule.json").exists()
    assert cli.main(["schedule", "--once"]) == 0  # a minute has not passed: nothing is due again
    assert capsys.readouterr().out == ""
