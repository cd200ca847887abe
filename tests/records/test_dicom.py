"""DICOM parsing, indexing, header, DICOM JSON and the synthetic CD export."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import random
import re

import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.fileset import FileSet

from konsil.records import dicom, synthetic
from konsil.records.errors import RecordRejected

NAME = "Doe^Jane"


@pytest.fixture(scope="module")
def ct_files():
    return synthetic.ct_series(8, size=32, patient_name=NAME)


@pytest.fixture(scope="module")
def mr_file():
    return synthetic.mr_multiframe(frames=6, size=16)


def _rewrite(data: bytes, change) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    change(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def _raw_dump(data: bytes, *, implicit: bool) -> bytes:
    """The dataset alone, as some CDs hold it: no preamble, no DICM, no file meta."""
    ds = pydicom.dcmread(io.BytesIO(data))
    del ds.file_meta
    ds.preamble = None
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, implicit_vr=implicit, little_endian=True, enforce_file_format=False)
    return buffer.getvalue()


def _rejected(data: bytes, **kwargs) -> RecordRejected:
    with pytest.raises(RecordRejected) as caught:
        dicom.read(data, **kwargs)
    return caught.value


# --- read: what is accepted ------------------------------------------------------------------------------------------

def test_read_parses_a_part10_file(ct_files):
    ds = dicom.read(ct_files[0])
    assert ds.Modality == "CT"
    assert len(ds.PixelData) == 32 * 32 * 2
    assert str(ds.file_meta.TransferSyntaxUID) == pydicom.uid.ExplicitVRLittleEndian


def test_read_without_pixels_stops_before_pixel_data(ct_files):
    ds = dicom.read(ct_files[0], pixels=False)
    assert "PixelData" not in ds
    assert ds.SOPInstanceUID == dicom.read(ct_files[0]).SOPInstanceUID
    assert dicom.index(ds).has_pixels is False


@pytest.mark.parametrize(("implicit", "syntax"), [(True, "1.2.840.10008.1.2"), (False, "1.2.840.10008.1.2.1")])
def test_read_accepts_a_raw_dump_without_preamble(ct_files, implicit, syntax):
    data = _raw_dump(ct_files[0], implicit=implicit)
    assert data[128:132] != b"DICM"
    ds = dicom.read(data)
    info = dicom.index(ds)
    assert info.transfer_syntax_uid == syntax
    assert info.sop_uid == dicom.read(ct_files[0]).SOPInstanceUID
    assert dicom.can_decode(ds)


# --- read: what is rejected ------------------------------------------------------------------------------------------

def test_text_file_named_dcm_is_not_dicom(tmp_path):
    path = tmp_path / "IMAGE0001.dcm"
    path.write_text("Discharge letter for Jane Doe\nDiagnosis: none\n" * 20)
    error = _rejected(path.read_bytes())
    assert error.code == "dicom_not_dicom"
    assert "Jane" not in str(error) and "Discharge" not in error.detail


@pytest.mark.parametrize("data", [
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(600),
    b"\x89PNG\r\n\x1a\n" + bytes(300),
    bytes(1000),
    b"x",
])
def test_other_files_are_not_dicom(data):
    assert _rejected(data).code == "dicom_not_dicom"


def test_empty_file_is_rejected_as_empty():
    assert _rejected(b"").code == "empty"


@pytest.mark.parametrize("keep", [-100, 0.5, 200, 140])
def test_truncated_file_is_corrupt(ct_files, keep):
    data = ct_files[0]
    cut = int(len(data) * keep) if isinstance(keep, float) else (keep if keep > 0 else len(data) + keep)
    error = _rejected(data[:cut])
    assert error.code == "dicom_corrupt"
    assert "Doe" not in str(error)


def test_pixel_data_shorter_than_rows_columns_declare_is_corrupt(ct_files):
    data = _rewrite(ct_files[0], lambda ds: setattr(ds, "Rows", 64))
    error = _rejected(data)
    assert error.code == "dicom_corrupt"
    assert "expected 4096" in error.detail


def test_pixel_data_shorter_than_frames_declare_is_corrupt(mr_file):
    data = _rewrite(mr_file, lambda ds: setattr(ds, "NumberOfFrames", 7))
    assert _rejected(data).code == "dicom_corrupt"
    assert "PixelData" not in dicom.read(data, pixels=False)  # a header read does not look at pixels


@pytest.mark.parametrize("syntax", [b"9.9.9.bogus.syntax\x00\x00", b"1.2.3.4.5.6.7.8.9.1\x00"])
def test_garbage_transfer_syntax_is_corrupt(ct_files, syntax):
    data = ct_files[0].replace(b"1.2.840.10008.1.2.1\x00", syntax, 1)
    assert data != ct_files[0]
    error = _rejected(data)
    assert error.code == "dicom_corrupt"
    assert "(0002,0010)" in error.detail


@pytest.mark.parametrize("change", [
    lambda ds: delattr(ds, "SOPInstanceUID"),
    lambda ds: delattr(ds, "StudyInstanceUID"),
    lambda ds: setattr(ds, "StudyInstanceUID", "not-a-uid"),
    lambda ds: setattr(ds, "SOPInstanceUID", "1." + "2" * 70),
], ids=["no-sop-uid", "no-study-uid", "bad-study-uid", "too-long-sop-uid"])
def test_missing_or_invalid_uids_are_corrupt(ct_files, change):
    assert _rejected(_rewrite(ct_files[0], change)).code == "dicom_corrupt"


def test_raw_dump_without_uids_is_not_dicom(ct_files):
    data = _raw_dump(_rewrite(ct_files[0], lambda ds: delattr(ds, "StudyInstanceUID")), implicit=True)
    assert _rejected(data).code == "dicom_not_dicom"


# --- index -----------------------------------------------------------------------------------------------------------

def test_index_describes_a_ct_series(ct_files):
    infos = [dicom.index(dicom.read(data)) for data in ct_files]
    assert len({info.study_uid for info in infos}) == 1
    assert len({info.series_uid for info in infos}) == 1
    assert len({info.sop_uid for info in infos}) == len(ct_files)
    first = infos[0]
    assert first.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"
    assert (first.modality, first.body_part, first.photometric) == ("CT", "HEAD", "MONOCHROME2")
    assert (first.rows, first.columns, first.frames) == (32, 32, 1)
    assert first.study_date == dt.date(2024, 3, 14)
    assert first.series_number == 2
    assert [info.instance_number for info in infos] == list(range(1, 9))
    assert [info.position for info in infos] == [float(i) for i in range(8)]
    assert first.has_pixels is True
    assert first.burned_in_annotation is False
    assert first.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert first.study_description == "Synthetic CT study"


def test_index_holds_no_patient_identity(ct_files):
    info = dicom.index(dicom.read(ct_files[0]))
    fields = {field.name for field in dataclasses.fields(info)}
    assert not {name for name in fields if "patient" in name or "birth" in name or "name" in name}
    assert not any("Doe" in str(value) or "1970" in str(value) for value in dataclasses.astuple(info))
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.modality = "MR"


def test_index_multiframe_and_colour():
    mr = dicom.index(dicom.read(synthetic.mr_multiframe(frames=4, size=8)))
    assert (mr.frames, mr.modality, mr.rows) == (4, "MR", 8)
    assert mr.position == 0.0  # from the enhanced functional groups
    us = dicom.index(dicom.read(synthetic.color_us(size=12)))
    assert (us.photometric, us.burned_in_annotation, us.position) == ("RGB", True, None)


def test_burned_in_annotation_absent_is_unknown(ct_files):
    ds = dicom.read(_rewrite(ct_files[0], lambda ds: delattr(ds, "BurnedInAnnotation")))
    assert dicom.index(ds).burned_in_annotation is None


def test_position_runs_along_the_slice_normal(ct_files):
    def sagittal(ds):
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]  # normal = row x column = (-1, 0, 0)
        ds.ImagePositionPatient = [12.5, -100, 50]
    assert dicom.index(dicom.read(_rewrite(ct_files[0], sagittal))).position == pytest.approx(-12.5)


def test_position_falls_back_to_slice_location_then_none(ct_files):
    def location_only(ds):
        del ds.ImagePositionPatient
        ds.SliceLocation = -33.5
    assert dicom.index(dicom.read(_rewrite(ct_files[0], location_only))).position == -33.5

    def nothing(ds):
        location_only(ds)
        del ds.SliceLocation
    assert dicom.index(dicom.read(_rewrite(ct_files[0], nothing))).position is None


def test_malformed_values_index_as_none(ct_files):
    def marked(ds):
        ds.InstanceNumber = 987654321
        ds.StudyDate = "20249999"
    data = _rewrite(ct_files[0], marked)
    assert data.count(b"987654321") == 1
    ds = dicom.read(data.replace(b"987654321", b"98x654321"))
    info = dicom.index(ds)
    assert (info.instance_number, info.study_date) == (None, None)
    assert "00200013" not in dicom.to_dicom_json(ds)
    assert dicom.header(ds)["study_date"] is None


def test_sort_key_orders_by_position_then_instance_number_then_uid(ct_files):
    infos = [dicom.index(dicom.read(data)) for data in ct_files]
    shuffled = infos[:]
    random.Random(4).shuffle(shuffled)
    assert sorted(shuffled, key=dicom.sort_key) == infos

    reversed_numbers = [dataclasses.replace(info, instance_number=100 - i) for i, info in enumerate(infos)]
    assert sorted(reversed_numbers, key=dicom.sort_key) == reversed_numbers  # position wins

    no_position = [dataclasses.replace(info, position=None, instance_number=10 - i) for i, info in enumerate(infos)]
    assert [info.instance_number for info in sorted(no_position, key=dicom.sort_key)] == list(range(3, 11))

    ties = [dataclasses.replace(info, position=None, instance_number=1) for info in infos]
    assert [info.sop_uid for info in sorted(ties, key=dicom.sort_key)] == sorted(info.sop_uid for info in infos)
    assert dicom.sort_key(dataclasses.replace(infos[0], position=None)) > dicom.sort_key(infos[-1])


# --- header ----------------------------------------------------------------------------------------------------------

def test_header_shows_patient_and_study(ct_files):
    header = dicom.header(dicom.read(ct_files[0]))
    assert header == {
        "patient_name": "Doe, Jane", "patient_id": "KONSIL-TEST-0001", "birth_date": dt.date(1970, 1, 1),
        "sex": "O", "study_date": dt.date(2024, 3, 14), "study_description": "Synthetic CT study",
        "modality": "CT", "institution": "Konsil Test Hospital",
    }


@pytest.mark.parametrize(("raw", "shown"), [
    ("Müller^Hans^Peter^Dr.^Jr", "Müller Jr, Dr. Hans Peter"),
    ("Cher", "Cher"),
    ("", ""),
])
def test_header_patient_name_display(ct_files, raw, shown):
    ds = dicom.read(_rewrite(ct_files[0], lambda ds: setattr(ds, "PatientName", raw)))
    assert dicom.header(ds)["patient_name"] == shown


def test_header_tolerates_missing_fields(ct_files):
    def strip(ds):
        for keyword in ("PatientName", "PatientBirthDate", "InstitutionName", "PatientSex"):
            delattr(ds, keyword)
    header = dicom.header(dicom.read(_rewrite(ct_files[0], strip)))
    assert (header["patient_name"], header["birth_date"], header["institution"], header["sex"]) == ("", None, "", "")


# --- DICOM JSON ------------------------------------------------------------------------------------------------------

def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_dicom_json_has_no_pixel_data(ct_files):
    ds = dicom.read(ct_files[0])
    model = dicom.to_dicom_json(ds)
    assert "7FE00010" not in model
    assert all(re.fullmatch(r"[0-9A-F]{8}", key) for key in model)
    assert model["0020000D"] == {"vr": "UI", "Value": [ds.StudyInstanceUID]}
    assert model["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": NAME}]}
    assert model["00280010"] == {"vr": "US", "Value": [32]}
    json.dumps(model)
    assert "PixelData" in ds  # the dataset itself is untouched


def test_dicom_json_references_pixel_data_as_bulk_data(ct_files):
    ds = dicom.read(ct_files[0])
    seen = []

    def uri(element):
        seen.append(element.tag)
        return f"bulk/{element.tag:08X}"

    model = dicom.to_dicom_json(ds, uri)
    assert model["7FE00010"] == {"vr": "OW", "BulkDataURI": "bulk/7FE00010"}
    assert not any("InlineBinary" in node for node in _walk(model))
    assert 0x7FE00010 in seen


def test_dicom_json_of_enhanced_mr_keeps_sequences(mr_file):
    model = dicom.to_dicom_json(dicom.read(mr_file))
    frames = model["52009230"]["Value"]
    assert len(frames) == 6
    assert frames[2]["00209113"]["Value"][0]["00200032"]["Value"] == [-32.0, -32.0, 4.0]


def test_dicom_json_resolves_ambiguous_vrs_of_implicit_files(ct_files):
    data = _raw_dump(_rewrite(ct_files[0], lambda ds: ds.add_new(0x00280106, "US", 0)), implicit=True)
    model = dicom.to_dicom_json(dicom.read(data))
    assert model["00280106"]["vr"] in ("US", "SS")


# --- can_decode ------------------------------------------------------------------------------------------------------

def test_can_decode(ct_files):
    assert dicom.can_decode(dicom.read(ct_files[0]))
    def as_mpeg2(ds):
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"
        ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])
    mpeg2 = dicom.read(_rewrite(ct_files[0], as_mpeg2))
    assert not dicom.can_decode(mpeg2)
    assert not dicom.can_decode(pydicom.Dataset())


# --- synthetic data and the CD export -------------------------------------------------------------------------------

def test_ct_series_is_deterministic_and_valid():
    first = synthetic.ct_series(3, size=16, seed=7)
    assert first == synthetic.ct_series(3, size=16, seed=7)
    other = synthetic.ct_series(3, size=16, seed=8, study_uid="1.2.3.4", patient_name="Roe^Richard")
    ds = dicom.read(other[0])
    assert ds.StudyInstanceUID == "1.2.3.4"
    assert str(ds.PatientName) == "Roe^Richard"
    assert ds.SeriesInstanceUID != dicom.read(first[0]).SeriesInstanceUID
    assert (ds.BitsAllocated, ds.PixelRepresentation, ds.RescaleIntercept) == (16, 1, -1024)
    for keyword in ("WindowCenter", "WindowWidth", "PixelSpacing", "SliceThickness", "ReferringPhysicianName",
                    "AccessionNumber", "InstitutionName", "PatientBirthDate", "PatientID"):
        assert keyword in ds, keyword


def test_dicomdir_export_looks_like_a_hospital_cd(tmp_path, ct_files, mr_file):
    inputs = [*ct_files, mr_file, synthetic.color_us(size=12)]
    dicomdir = synthetic.dicomdir_export(inputs, tmp_path / "cd")
    root = tmp_path / "cd"
    assert dicomdir == root / "DICOMDIR"
    for junk in ("AUTORUN.INF", "VIEWER.EXE", "README.TXT", "Viewer/dicomview.dll", "Viewer/index.html"):
        assert (root / junk).is_file(), junk

    images = sorted(path for path in (root / "DICOM").rglob("*") if path.is_file())
    assert len(images) == len(inputs)
    for path in images:
        relative = path.relative_to(root)
        assert relative.parts[0] == "DICOM"
        assert all(re.fullmatch(r"[A-Z0-9_]{1,8}", part) for part in relative.parts), relative
    stored = {dicom.read(path.read_bytes()).SOPInstanceUID for path in images}
    assert stored == {dicom.read(data).SOPInstanceUID for data in inputs}

    file_set = FileSet(pydicom.dcmread(dicomdir))
    assert len(file_set) == len(inputs)
    assert {instance.SOPInstanceUID for instance in file_set} == stored
    assert {instance.load().SOPInstanceUID for instance in file_set} == stored
    assert all(instance.FileID or instance.path for instance in file_set)
    assert all(instance.ReferencedFileID[0] == "DICOM" for instance in file_set)
    assert file_set.find(Modality="MR", load=False)


def _rle_file(frames: int = 6) -> bytes:
    from pydicom.uid import RLELossless

    ds = pydicom.dcmread(io.BytesIO(synthetic.mr_multiframe(frames, size=32)))
    ds.compress(RLELossless)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.mark.parametrize("encapsulated", [False, True])
def test_binary_element_reads_a_deferred_element_piece_by_piece(monkeypatch, encapsulated):
    """A BulkDataURI's value from the stream in pieces no larger than asked; the same bytes as read whole."""
    data = _rle_file() if encapsulated else synthetic.mr_multiframe(6, size=32)
    monkeypatch.setattr(dicom, "DEFER_BYTES", 256)
    whole = dicom.read(data).PixelData
    ds = dicom.read(io.BytesIO(data))
    assert dicom.deferred_pixels(ds, 0x7FE00010) is not None
    pieces = list(dicom.binary_element(ds, 0x7FE00010, piece=100))
    assert b"".join(pieces) == whole and max(map(len, pieces)) <= 100
    assert dicom.binary_element(ds, 0x00100010) is None  # a name is no bulk data
    assert dicom.binary_element(ds, 0x00091001) is None  # absent


@pytest.mark.parametrize("encapsulated", [False, True])
def test_binary_element_of_a_file_cut_after_parsing_fails_as_corrupt(monkeypatch, encapsulated):
    """The stored object shorter than its header says (read from a stream that ends early): a clean refusal."""
    data = _rle_file() if encapsulated else synthetic.mr_multiframe(6, size=32)
    monkeypatch.setattr(dicom, "DEFER_BYTES", 256)
    ds = dicom.read(io.BytesIO(data))
    ds.konsil_stream = io.BytesIO(data[: len(data) - 300])
    with pytest.raises(RecordRejected):
        list(dicom.binary_element(ds, 0x7FE00010, piece=100))
