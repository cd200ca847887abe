"""DICOM de-identification under the PS3.15 Basic Application Level Confidentiality Profile."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import pydicom
import pytest
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
)

from konsil.records import deid
from konsil.records.deid import UIDMap, action_for, deidentify, deidentify_path, leftover_identifiers

NAME = "Mustermann^Erika"
PATIENT_ID = "PID4711XYZ"
ACCESSION = "ACC98765"
INSTITUTION = "Klinikum Sonnenberg"
PHYSICIANS = ("Referrer^Rita", "Performer^Paul", "Reader^Rolf", "Operator^Otto", "Requester^Rhea")
NESTED_NAME = "Sequenced^Sam"
IDENTIFYING = (NAME, PATIENT_ID, ACCESSION, INSTITUTION, *PHYSICIANS, NESTED_NAME, "Sonnenweg 7", "0301-555",
               "Kardiologie", "CTSTATION9", "SN-778899", "Herzprotokoll", "Angina Pectoris", "19580214",
               "ALT-ID-1", "Erika Geb", "Private Secret")

STUDY, SERIES, FRAME = "1.2.3.4.100", "1.2.3.4.100.1", "1.2.3.4.100.9"


def _item(**attributes) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def make_ct(sop: str, *, referenced_sop: str | None = None, burned_in: str | None = None) -> Dataset:
    """A CT instance carrying the identifying attributes a real scanner writes, nested ones included."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, sop, "CT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = STUDY, SERIES, FRAME
    ds.SynchronizationFrameOfReferenceUID = "1.2.3.4.100.8"
    ds.IrradiationEventUID = sop + ".7"
    ds.StorageMediaFileSetUID = "1.2.3.4.555"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientBirthTime = NAME, PATIENT_ID, "19580214", "0815"
    ds.PatientSex, ds.PatientAge, ds.PatientWeight = "F", "066Y", "71"
    ds.OtherPatientIDs, ds.OtherPatientNames = "ALT-ID-1", "Erika Geb"
    ds.PatientAddress, ds.PatientTelephoneNumbers = "Sonnenweg 7", "0301-555"
    ds.PatientComments = "Angina Pectoris"
    ds.OtherPatientIDsSequence = [_item(PatientID="ALT-ID-1", TypeOfPatientID="TEXT")]
    ds.AccessionNumber, ds.StudyID = ACCESSION, "S77"
    ds.InstitutionName, ds.InstitutionAddress, ds.InstitutionalDepartmentName = INSTITUTION, "Am Berg", "Kardiologie"
    ds.ReferringPhysicianName, ds.PerformingPhysicianName, ds.NameOfPhysiciansReadingStudy = PHYSICIANS[:3]
    ds.OperatorsName, ds.RequestingPhysician = PHYSICIANS[3:]
    ds.StationName, ds.DeviceSerialNumber, ds.ProtocolName = "CTSTATION9", "SN-778899", "Herzprotokoll"
    ds.StudyDescription, ds.SeriesDescription, ds.ImageComments = "Herz CT", "Angina Pectoris", "Sonnenweg 7"
    for level in ("Study", "Series", "Content", "Acquisition"):
        setattr(ds, f"{level}Date", "20240105")
        setattr(ds, f"{level}Time", "101500")
    ds.AcquisitionDateTime, ds.TimezoneOffsetFromUTC = "20240105101500", "+0100"
    ds.RequestAttributesSequence = [_item(RequestedProcedureID="RP1", ScheduledProcedureStepID="SPS1")]
    ds.ReferencedSeriesSequence = [_item(SeriesInstanceUID=SERIES, PerformingPhysicianName=NESTED_NAME,
                                         ReferencedInstanceSequence=[_item(ReferencedSOPClassUID=CTImageStorage,
                                                                           ReferencedSOPInstanceUID=sop)])]
    ds.VerifyingObserverSequence = [_item(VerifyingObserverName=NESTED_NAME)]
    if referenced_sop:
        ds.ReferencedImageSequence = [_item(ReferencedSOPClassUID=CTImageStorage,
                                            ReferencedSOPInstanceUID=referenced_sop)]
    block = ds.private_block(0x0009, "ACME 1.1", create=True)
    block.add_new(0x01, "LO", "Private Secret")
    ds.ReferencedSeriesSequence[0].private_block(0x0011, "ACME 1.1", create=True).add_new(0x02, "LO", PATIENT_ID)
    ds.add_new(0x60000010, "US", 2)  # Overlay Rows
    ds.add_new(0x60003000, "OW", b"\x01\x00" * 2)  # Overlay Data
    ds.add_new(0x60004000, "LT", NAME)  # Overlay Comments
    ds.add_new(0x50003000, "OB", b"curve")  # Curve Data (retired)
    if burned_in:
        ds.BurnedInAnnotation = burned_in
    _pixels(ds)
    _meta(ds)
    return ds


def _pixels(ds: Dataset) -> None:
    ds.Rows = ds.Columns = 2
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = b"\x01\x00" * 4


def _meta(ds: Dataset) -> None:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.SourceApplicationEntityTitle = "KLINIKPACS"


def make_capture(sop: str, modality: str = "OT", sop_class: str = SecondaryCaptureImageStorage) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = sop_class, sop, modality
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3.4.200", "1.2.3.4.200.1"
    ds.PatientName, ds.PatientID = NAME, PATIENT_ID
    _pixels(ds)
    _meta(ds)
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def assert_no_identifiers(data: bytes, extra: tuple[str, ...] = ()) -> None:
    for text in (*IDENTIFYING, *extra):
        assert text.encode("latin-1") not in data, text


# -- the table ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("keyword", "action"), [
    ("PatientName", "Z"), ("PatientID", "D"), ("PatientBirthDate", "Z"), ("PatientBirthTime", "X"),
    ("PatientSex", "Z"), ("PatientAge", "X"), ("OtherPatientIDs", "X"), ("OtherPatientNames", "X"),
    ("PatientAddress", "X"), ("PatientTelephoneNumbers", "X"), ("AccessionNumber", "Z"),
    ("InstitutionName", "X"), ("InstitutionAddress", "X"), ("InstitutionalDepartmentName", "X"),
    ("ReferringPhysicianName", "Z"), ("PerformingPhysicianName", "X"), ("NameOfPhysiciansReadingStudy", "X"),
    ("RequestingPhysician", "X"), ("OperatorsName", "X"), ("StationName", "X"), ("StudyID", "Z"),
    ("StudyDate", "Z"), ("StudyTime", "Z"), ("SeriesDate", "X"), ("ContentDate", "Z"), ("AcquisitionDate", "X"),
    ("DeviceSerialNumber", "X"), ("ProtocolName", "X"), ("StudyDescription", "X"), ("SeriesDescription", "X"),
    ("ImageComments", "X"), ("RequestAttributesSequence", "X"), ("StudyInstanceUID", "U"),
    ("SeriesInstanceUID", "U"), ("SOPInstanceUID", "U"), ("FrameOfReferenceUID", "U"),
    ("ReferencedSOPInstanceUID", "U"), ("StorageMediaFileSetUID", "U"), ("IrradiationEventUID", "U"),
    ("SynchronizationFrameOfReferenceUID", "U"), ("MediaStorageSOPInstanceUID", "U"),
    ("ReferencedImageSequence", "U"), ("ContentSequence", "X"), ("IconImageSequence", "X"),
    ("Modality", None), ("SOPClassUID", None), ("Rows", None),
])
def test_table_actions_for_common_attributes(keyword, action):
    assert action_for(pydicom.datadict.tag_for_keyword(keyword)) == action


def test_private_curve_and_overlay_groups_are_removed():
    assert action_for(0x00091001) == "X"
    assert action_for(0x50003000) == "X"
    assert action_for(0x60024000) == "X"
    assert action_for(0x601E0010) == "X"
    assert action_for(0x00100000) == "X"  # group length


def test_table_rows_are_well_formed():
    text = (Path(deid.__file__).parent / "data" / deid.TABLE_FILE).read_text(encoding="utf-8")
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert len(rows) > 600
    assert len({row["tag"] for row in rows}) == len(rows)
    compound = {"", "D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}
    for row in rows:
        assert row["basic"] in compound and row["action"] in {"D", "Z", "X", "U"}, row
        if "x" not in row["tag"]:
            assert keyword_for_tag(int(row["tag"].replace(",", ""), 16)) == row["keyword"], row
    assert "2024b Table E.1-1" in text.splitlines()[0]


# -- deidentify ---------------------------------------------------------------------------------------------------

def test_deidentify_leaves_no_basic_profile_identifier():
    original = make_ct("1.2.3.4.100.1.1", burned_in="YES")
    before = copy.deepcopy(original)
    uid_map = UIDMap(b"case-1")
    result = deidentify(original, uid_map=uid_map)
    out = result.dataset
    assert leftover_identifiers(out, uid_map=uid_map) == []
    assert out.PatientName == "ANONYMOUS" and out.PatientID == "ANONYMOUS"
    assert out.PatientBirthDate == "" and out.PatientSex == "" and out.AccessionNumber == ""
    for keyword in ("InstitutionName", "PatientAge", "StudyDescription", "ProtocolName", "OperatorsName",
                    "RequestAttributesSequence", "VerifyingObserverSequence", "TimezoneOffsetFromUTC"):
        assert keyword not in out, keyword
    assert "PerformingPhysicianName" not in out.ReferencedSeriesSequence[0]
    assert not [elem for elem in out.iterall() if elem.tag.is_private or elem.tag.group in (0x5000, 0x6000)]
    assert {"InstitutionName", "PatientAge"} <= set(result.removed)
    assert {"PatientName", "PatientID"} <= set(result.replaced)
    assert original == before  # the input is untouched


def test_leftover_identifiers_reports_what_remains():
    ds = make_ct("1.2.3.4.100.1.1")
    found = leftover_identifiers(ds)
    for path in ("PatientName", "PatientID", "AccessionNumber", "InstitutionName", "StudyInstanceUID",
                 "ReferencedSeriesSequence[0].PerformingPhysicianName", "(0009,1001)",
                 "ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID",
                 "file_meta.MediaStorageSOPInstanceUID", "file_meta.SourceApplicationEntityTitle"):
        assert path in found, path
    assert all(NAME not in entry and PATIENT_ID not in entry for entry in found)  # paths, never values


def test_leftover_identifiers_checks_dummies_and_uids_against_the_map():
    uid_map = UIDMap(b"case-1")
    out = deidentify(make_ct("1.2.3.4.100.1.1"), uid_map=uid_map).dataset
    out.PatientID = "REAL-ID"
    out.StudyInstanceUID = "2.25.12345"  # 2.25 form but not issued by this map
    assert leftover_identifiers(out, uid_map=uid_map) == ["PatientID", "StudyInstanceUID"]
    assert leftover_identifiers(out) == ["PatientID"]


def test_written_bytes_hold_no_identifiers():
    result = deidentify(make_ct("1.2.3.4.100.1.1", referenced_sop="1.2.3.4.100.1.2"), uid_map=UIDMap())
    assert_no_identifiers(to_bytes(result.dataset), extra=(STUDY, SERIES, FRAME, "KLINIKPACS", "ACME"))


def test_uids_are_remapped_consistently_across_files():
    uid_map = UIDMap(b"case-1")
    first = deidentify(make_ct("1.2.3.4.100.1.1"), uid_map=uid_map).dataset
    second_result = deidentify(make_ct("1.2.3.4.100.1.2", referenced_sop="1.2.3.4.100.1.1"), uid_map=uid_map)
    second = second_result.dataset
    assert first.StudyInstanceUID == second.StudyInstanceUID != STUDY
    assert first.SeriesInstanceUID == second.SeriesInstanceUID != SERIES
    assert first.FrameOfReferenceUID == second.FrameOfReferenceUID != FRAME
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert second.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID
    assert second.ReferencedImageSequence[0].ReferencedSOPClassUID == CTImageStorage
    nested = first.ReferencedSeriesSequence[0]
    assert nested.SeriesInstanceUID == first.SeriesInstanceUID
    assert nested.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID
    for uid in (first.StudyInstanceUID, first.SOPInstanceUID, first.IrradiationEventUID,
                first.StorageMediaFileSetUID, first.SynchronizationFrameOfReferenceUID):
        assert UID(uid).is_valid and len(uid) <= 64 and uid.startswith("2.25.")
    assert first.SOPClassUID == CTImageStorage
    assert second_result.uid_changes >= 8


def test_uid_map_is_stable_per_secret_and_differs_between_scopes():
    assert UIDMap(b"case-1").map(STUDY) == UIDMap(b"case-1").map(STUDY)
    assert UIDMap(b"case-1").map(STUDY) != UIDMap(b"case-2").map(STUDY)
    assert UIDMap().map(STUDY) != UIDMap().map(STUDY)
    uid_map = UIDMap()
    assert uid_map(STUDY) == uid_map.map(STUDY + "\x00") and len(uid_map) == 1
    assert uid_map.issued(uid_map(STUDY)) and not uid_map.issued(STUDY)
    assert uid_map.map("") == ""
    with pytest.raises(ValueError, match="empty"):
        UIDMap(b"")


def test_marks_the_dataset_and_file_meta_follows():
    result = deidentify(make_ct("1.2.3.4.100.1.1"), uid_map=UIDMap())
    out = result.dataset
    assert out.PatientIdentityRemoved == "YES"
    assert "Basic Application Confidentiality Profile" in out.DeidentificationMethod
    assert len(out.DeidentificationMethod) <= 64
    code = out.DeidentificationMethodCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == deid.BASIC_PROFILE_CODE
    assert code.CodeValue == "113100" and code.CodingSchemeDesignator == "DCM"
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID != "1.2.3.4.100.1.1"
    assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert "SourceApplicationEntityTitle" not in out.file_meta
    reread = pydicom.dcmread(io.BytesIO(to_bytes(out)))
    assert reread.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID


def test_dates_untouched_are_reported_unmodified():
    ds = make_capture("1.2.3.4.200.1.1")
    assert deidentify(ds, uid_map=UIDMap()).dataset.LongitudinalTemporalInformationModified == "UNMODIFIED"


def test_pseudonym_and_dummy_name():
    out = deidentify(make_ct("1.2.3.4.100.1.1"), uid_map=UIDMap(), dummy_name="CASE^K-17",
                     patient_pseudo_id="K-17").dataset
    assert (str(out.PatientName), out.PatientID) == ("CASE^K-17", "K-17")
    assert leftover_identifiers(out, dummy_name="CASE^K-17", patient_pseudo_id="K-17") == []
    assert leftover_identifiers(out) == ["PatientName", "PatientID"]


@pytest.mark.parametrize(("factory", "flag", "burned_in", "suspected"), [
    (lambda: make_ct("1.2.3.4.1"), "YES", True, False),
    (lambda: make_ct("1.2.3.4.1"), "NO", False, False),
    (lambda: make_ct("1.2.3.4.1"), None, False, False),
    (lambda: make_capture("1.2.3.4.2"), None, False, True),  # secondary capture without the flag
    (lambda: make_capture("1.2.3.4.2", modality="CT"), "NO", False, False),
    (lambda: make_capture("1.2.3.4.3", modality="US", sop_class=UltrasoundImageStorage), "NO", False, True),
])
def test_burned_in_annotation_is_flagged(factory, flag, burned_in, suspected):
    ds = factory()
    if flag:
        ds.BurnedInAnnotation = flag
    result = deidentify(ds, uid_map=UIDMap())
    assert (result.burned_in, result.burned_in_suspected) == (burned_in, suspected)
    assert ("burned_in_annotation" in result.warnings) == burned_in
    assert ("burned_in_suspected" in result.warnings) == suspected


def test_unlisted_names_dates_and_uids_are_caught():
    ds = make_capture("1.2.3.4.200.1.1")
    ds.EvaluatorName = NAME  # a person name Table E.1-1 does not list
    ds.StudyUpdateDateTime = "20240105101500"
    ds.ReferencedSeriesSequence = [_item(SeriesInstanceUID="1.2.3.4.200.1")]
    ds.ReferencedSeriesSequence[0].add_new(0x0008114B, "UI", "1.2.3.4.200.1.99")  # unlisted UI outside DICOM root
    uid_map = UIDMap()
    result = deidentify(ds, uid_map=uid_map)
    out = result.dataset
    assert "EvaluatorName" not in out and "StudyUpdateDateTime" not in out
    assert uid_map.issued(out.ReferencedSeriesSequence[0][0x0008114B].value)
    assert {"unlisted_pn_removed", "unlisted_dt_removed"} <= set(result.warnings)
    assert leftover_identifiers(out, uid_map=uid_map) == []


def test_deidentify_rejects_what_is_not_a_dataset():
    with pytest.raises(TypeError):
        deidentify(b"DICM", uid_map=UIDMap())


# -- deidentify_path ----------------------------------------------------------------------------------------------

def _tree(root: Path) -> Path:
    """A CD-like export: folder names carry the patient's name, with a stray text file and broken files."""
    study = root / "Mustermann_Erika" / "CT Herz 20240105"
    study.mkdir(parents=True)
    first = make_ct("1.2.3.4.100.1.1")
    first.preamble = NAME.encode().ljust(128, b"\0")  # dual-personality files keep data in the preamble
    (study / "IMG0001.dcm").write_bytes(to_bytes(first))
    assert NAME.encode() in (study / "IMG0001.dcm").read_bytes()[:128]
    (study / "IMG0002.dcm").write_bytes(to_bytes(make_ct("1.2.3.4.100.1.2", referenced_sop="1.2.3.4.100.1.1")))
    (root / "Mustermann_Erika" / "screen.dcm").write_bytes(to_bytes(make_capture("1.2.3.4.200.1.1")))
    (root / "README Mustermann.txt").write_text("Patient Mustermann, Erika", encoding="utf-8")
    (study / "IMG0003.dcm").write_bytes(to_bytes(make_ct("1.2.3.4.100.1.3"))[:-6])  # truncated pixel data
    (study / "IMG0004.dcm").write_bytes(b"")
    (root / "DICOMDIR").write_bytes(to_bytes(make_capture("1.2.3.4.300")))
    return root


def _written(dst: Path) -> list[Path]:
    return sorted(path for path in dst.rglob("*.dcm"))


def test_deidentify_path_on_a_tree(tmp_path):
    src, dst = _tree(tmp_path / "in"), tmp_path / "out"
    report = deidentify_path(src, dst, secret=b"case-9")
    assert report["profile"] == deid.PROFILE
    assert (report["files_in"], report["dicom"], report["written"]) == (7, 3, 3)
    assert sorted(entry["reason"] for entry in report["skipped"]) == ["dicom_not_dicom", "empty",
                                                                      "unsupported_type"]
    assert [entry["reason"] for entry in report["failed"]] == ["dicom_corrupt"]
    assert all(set(entry) == {"index", "reason", "detail"} for entry in report["skipped"] + report["failed"])
    assert (report["burned_in"], report["burned_in_suspected"], report["leftover"]) == (0, 1, [])
    assert report["uid_changes"] > 0
    assert json.loads((dst / "deid-report.json").read_text()) == report
    report_text = (dst / "deid-report.json").read_text()
    assert "Mustermann" not in report_text and "IMG" not in report_text and str(src) not in report_text

    written = _written(dst)
    assert len(written) == 3
    studies = {path.relative_to(dst).parts[0] for path in written}
    assert len(studies) == 2  # the two CT instances share one new study folder
    for path in written:
        relative = path.relative_to(dst)
        assert len(relative.parts) == 3 and relative.name in ("1.dcm", "2.dcm")
        assert not any(word in str(relative) for word in ("Mustermann", "Erika", "IMG", "Herz", "screen", "1.2.3"))
        data = path.read_bytes()
        assert_no_identifiers(data, extra=(STUDY, SERIES, "KLINIKPACS"))
        ds = pydicom.dcmread(path)
        assert leftover_identifiers(ds) == []
        assert relative.parts[:2] == (ds.StudyInstanceUID, ds.SeriesInstanceUID)
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_deidentify_path_is_stable_for_a_secret_and_never_overwrites(tmp_path):
    src = tmp_path / "Mustermann.dcm"
    src.write_bytes(to_bytes(make_ct("1.2.3.4.100.1.1")))
    first = deidentify_path(src, tmp_path / "a", secret=b"case-9")
    deidentify_path(src, tmp_path / "b", secret=b"case-9")
    assert [p.relative_to(tmp_path / "a") for p in _written(tmp_path / "a")] == \
           [p.relative_to(tmp_path / "b") for p in _written(tmp_path / "b")]
    assert first["files_in"] == first["written"] == 1
    deidentify_path(src, tmp_path / "a", secret=b"case-9")
    assert [p.name for p in _written(tmp_path / "a")] == ["1.dcm", "2.dcm"]


def test_deidentify_path_skips_its_own_output_inside_the_source(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.dcm").write_bytes(to_bytes(make_ct("1.2.3.4.100.1.1")))
    deidentify_path(src, src / "out")
    report = deidentify_path(src, src / "out")
    assert report["files_in"] == 1


def test_deidentify_path_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError):
        deidentify_path(tmp_path / "nowhere", tmp_path / "out")


def test_deidentify_path_reads_raw_dumps_and_skips_links(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    raw = make_ct("1.2.3.4.100.1.1")
    del raw.file_meta
    buffer = io.BytesIO()
    raw.save_as(buffer, implicit_vr=True, little_endian=True)  # no preamble, no file meta: an old CD's dump
    (src / "IM1").write_bytes(buffer.getvalue())
    (src / "link.dcm").symlink_to(src / "IM1")
    report = deidentify_path(src, tmp_path / "out")
    assert (report["files_in"], report["written"]) == (2, 1)
    assert report["skipped"] == [{"index": 2, "reason": "unsupported_type", "detail": "not a regular file"}]
    written = pydicom.dcmread(_written(tmp_path / "out")[0])
    assert written.file_meta.MediaStorageSOPInstanceUID == written.SOPInstanceUID
    assert written.preamble == b"\x00" * 128
