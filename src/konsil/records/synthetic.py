"""Synthetic but valid DICOM for tests and benchmarks: a CT phantom series, an MR multi-frame, colour US,
a MONOCHROME1 CR, and a CD-style export with a DICOMDIR. Deterministic for a given seed; no patient is real."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.pixels import convert_color_space, set_pixel_data
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    generate_uid,
)

CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
ENHANCED_MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4.1")
US_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.6.1")
CR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.1")

STUDY_DATE = dt.date(2024, 3, 14)
RESCALE_INTERCEPT = -1024
FIELD_OF_VIEW_MM = 400.0
SLICE_SPACING_MM = 1.0
PHANTOM_LEVELS = 48  # distinct z-levels of the phantom; slices in between reuse the nearest one

# Shepp-Logan ellipses (x0, y0, semi-axis a, semi-axis b, angle in degrees) painted in order with
# CT numbers (HU): skull, brain, two low-density lobes, and a few small structures.
_ELLIPSES = (
    (0.0, 0.0, 0.69, 0.92, 0.0, 1000),
    (0.0, -0.0184, 0.6624, 0.874, 0.0, 40),
    (0.22, 0.0, 0.11, 0.31, -18.0, -700),
    (-0.22, 0.0, 0.16, 0.41, 18.0, -700),
    (0.0, 0.35, 0.21, 0.25, 0.0, 80),
    (0.0, 0.1, 0.046, 0.046, 0.0, 60),
    (0.0, -0.1, 0.046, 0.046, 0.0, 60),
    (-0.08, -0.605, 0.046, 0.023, 0.0, 300),
    (0.0, -0.605, 0.023, 0.023, 0.0, 300),
    (0.06, -0.605, 0.023, 0.046, 0.0, 300),
)
AIR_HU = -1000


def ct_series(n: int = 500, *, size: int = 512, patient_name: str = "Test^Patient",
              study_uid: str | None = None, seed: int = 0, birth_date: str = "19700101") -> list[bytes]:
    """A CT series of `n` axial slices (size x size, int16, HU = stored - 1024) as Part 10 files."""
    study_uid = study_uid or _uid(seed, "study")
    series_uid = _uid(seed, "ct-series", study_uid)
    noise = np.random.default_rng(seed).integers(-6, 7, size=(size, size), dtype=np.int16)
    files = []
    for i in range(n):
        ds = _base(CT_IMAGE_STORAGE, "CT", _uid(seed, "ct", study_uid, i), study_uid, series_uid, patient_name)
        ds.PatientBirthDate = birth_date  # the demo's CT carries its own patient's birth date
        z = i * SLICE_SPACING_MM
        pixel_spacing = FIELD_OF_VIEW_MM / size
        origin = -FIELD_OF_VIEW_MM / 2 + pixel_spacing / 2
        ds.update({"InstanceNumber": i + 1, "SeriesNumber": 2, "SeriesDescription": "Head 1.0 axial",
                   "BodyPartExamined": "HEAD", "ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"],
                   "ImagePositionPatient": [origin, origin, z], "ImageOrientationPatient": [1, 0, 0, 0, 1, 0],
                   "SliceLocation": z, "PixelSpacing": [pixel_spacing, pixel_spacing],
                   "SliceThickness": SLICE_SPACING_MM, "KVP": 120, "RescaleIntercept": RESCALE_INTERCEPT,
                   "RescaleSlope": 1, "RescaleType": "HU", "WindowCenter": 40, "WindowWidth": 400,
                   "FrameOfReferenceUID": _uid(seed, "frame", study_uid)})
        level = round(i / max(n - 1, 1) * (PHANTOM_LEVELS - 1))
        hu = phantom_slice(size, level) + np.roll(noise, i * 7, axis=1)
        set_pixel_data(ds, (hu - RESCALE_INTERCEPT).astype(np.int16), "MONOCHROME2", 16,
                       generate_instance_uid=False)
        files.append(_encode(ds))
    return files


@lru_cache(maxsize=PHANTOM_LEVELS)
def phantom_slice(size: int, level: int) -> np.ndarray:
    """HU image of the head phantom at z-level `level` (0..PHANTOM_LEVELS-1); ellipses shrink towards the ends."""
    t = level / (PHANTOM_LEVELS - 1) * 2 - 1  # -1 .. 1 along z
    scale = float(np.sqrt(max(1 - (0.85 * t) ** 2, 0.05)))
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    image = np.full((size, size), AIR_HU, dtype=np.int16)
    for index, (x0, y0, a, b, angle, hu) in enumerate(_ELLIPSES):
        shrink = scale if index > 1 else 0.75 + 0.25 * scale  # the skull changes least
        _paint_ellipse(image, grid, (x0 * shrink, y0 * shrink, a * shrink, b * shrink, angle), hu)
    image.setflags(write=False)
    return image


def _paint_ellipse(image: np.ndarray, grid: np.ndarray, ellipse: tuple, value: int) -> None:
    """Set the pixels inside an ellipse (centre, semi-axes, angle; image axes -1..1, y up), within its bounding box."""
    x0, y0, a, b, angle = ellipse
    reach = max(a, b)
    cols = np.flatnonzero(np.abs(grid - x0) <= reach)
    rows = np.flatnonzero(np.abs(-grid - y0) <= reach)
    if not cols.size or not rows.size:
        return
    dx = grid[cols[0]:cols[-1] + 1][None, :] - x0
    dy = -grid[rows[0]:rows[-1] + 1][:, None] - y0
    cos, sin = float(np.cos(np.radians(angle))), float(np.sin(np.radians(angle)))
    inside = ((dx * cos + dy * sin) / a) ** 2 + ((dy * cos - dx * sin) / b) ** 2 <= 1
    image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1][inside] = value


def mr_multiframe(frames: int = 10, *, size: int = 64, seed: int = 0) -> bytes:
    """An Enhanced MR instance: frame k shows a disc of value 100 * (k + 1) on 0, 16-bit unsigned."""
    study_uid = _uid(seed, "mr-study")
    ds = _base(ENHANCED_MR_IMAGE_STORAGE, "MR", _uid(seed, "mr", study_uid), study_uid,
               _uid(seed, "mr-series", study_uid), "Test^Patient")
    grid = np.arange(size) - size / 2 + 0.5
    disc = (grid[None, :] ** 2 + grid[:, None] ** 2) <= (size / 3) ** 2
    stack = np.stack([disc * 100 * (k + 1) for k in range(frames)]).astype(np.uint16)
    ds.update({"InstanceNumber": 1, "SeriesNumber": 3, "SeriesDescription": "T1 multi-frame",
               "ImageType": ["ORIGINAL", "PRIMARY", "M", "NONE"], "ContentQualification": "PRODUCT",
               "BurnedInAnnotation": "NO"})
    shared = Dataset()
    shared.PixelMeasuresSequence = [Dataset()]
    shared.PixelMeasuresSequence[0].update({"PixelSpacing": [1.0, 1.0], "SliceThickness": 2.0})
    shared.PlaneOrientationSequence = [Dataset()]
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.PerFrameFunctionalGroupsSequence = [_mr_frame(k) for k in range(frames)]
    set_pixel_data(ds, stack if frames > 1 else stack[0], "MONOCHROME2", 12, generate_instance_uid=False)
    ds.NumberOfFrames = frames
    return _encode(ds)


def _mr_frame(k: int) -> Dataset:
    frame = Dataset()
    frame.PlanePositionSequence = [Dataset()]
    frame.PlanePositionSequence[0].ImagePositionPatient = [-32.0, -32.0, 2.0 * k]
    frame.FrameContentSequence = [Dataset()]
    frame.FrameContentSequence[0].InStackPositionNumber = k + 1
    return frame


def color_us(*, photometric: str = "RGB", size: int = 48, seed: int = 0) -> bytes:
    """An ultrasound instance in colour: left third red, middle green, right blue (8-bit)."""
    study_uid = _uid(seed, "us-study")
    ds = _base(US_IMAGE_STORAGE, "US", _uid(seed, "us", study_uid, photometric), study_uid,
               _uid(seed, "us-series", study_uid), "Test^Patient")
    ds.update({"InstanceNumber": 1, "SeriesNumber": 4, "BurnedInAnnotation": "YES",
               "ImageType": ["ORIGINAL", "PRIMARY", "ABDOMINAL"]})
    rgb = np.zeros((size, size, 3), dtype=np.uint8)
    third = size // 3
    rgb[:, :third, 0] = rgb[:, third:2 * third, 1] = rgb[:, 2 * third:, 2] = 255
    if photometric == "YBR_FULL_422":
        _set_ybr_422(ds, convert_color_space(rgb, "RGB", "YBR_FULL"))
    elif photometric == "YBR_FULL":
        set_pixel_data(ds, convert_color_space(rgb, "RGB", "YBR_FULL"), "YBR_FULL", 8, generate_instance_uid=False)
    else:
        set_pixel_data(ds, rgb, "RGB", 8, generate_instance_uid=False)
    return _encode(ds)


def _set_ybr_422(ds: Dataset, ybr: np.ndarray) -> None:
    """Native YBR_FULL_422: per pair of pixels Y1 Y2 Cb Cr (chroma of the first pixel of the pair)."""
    rows, columns, _ = ybr.shape
    packed = np.empty((rows, columns // 2, 4), dtype=np.uint8)
    packed[..., 0], packed[..., 1] = ybr[:, 0::2, 0], ybr[:, 1::2, 0]
    packed[..., 2], packed[..., 3] = ybr[:, 0::2, 1], ybr[:, 0::2, 2]
    ds.update({"SamplesPerPixel": 3, "PhotometricInterpretation": "YBR_FULL_422", "PlanarConfiguration": 0,
               "Rows": rows, "Columns": columns, "BitsAllocated": 8, "BitsStored": 8, "HighBit": 7,
               "PixelRepresentation": 0})
    ds.PixelData = packed.tobytes()


def monochrome1_cr(*, size: int = 64, seed: int = 0) -> bytes:
    """A computed radiography instance in MONOCHROME1: 12-bit values rising from 0 (left) to 4095 (right)."""
    study_uid = _uid(seed, "cr-study")
    ds = _base(CR_IMAGE_STORAGE, "CR", _uid(seed, "cr", study_uid), study_uid,
               _uid(seed, "cr-series", study_uid), "Test^Patient")
    ramp = np.linspace(0, 4095, size).round().astype(np.uint16)
    ds.update({"InstanceNumber": 1, "SeriesNumber": 1, "BodyPartExamined": "CHEST", "ViewPosition": "PA",
               "WindowCenter": 2048, "WindowWidth": 4096, "PixelSpacing": [0.2, 0.2]})
    set_pixel_data(ds, np.tile(ramp, (size, 1)), "MONOCHROME1", 12, generate_instance_uid=False)
    return _encode(ds)


def dicomdir_export(datasets_bytes: Iterable[bytes], folder: Path) -> Path:
    """Write a CD-style export into `folder`: DICOMDIR, DICOM/<8-char folders>/<8-char files>, viewer junk.

    The DICOMDIR is built with pydicom's FileSet, then re-pointed at the DICOM/ folder. Returns its path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    file_set = FileSet()
    for data in datasets_bytes:
        file_set.add(pydicom.dcmread(io.BytesIO(data)))
    file_set.write(folder)
    _move_under_dicom_folder(folder)
    _write_cd_junk(folder)
    return folder / "DICOMDIR"


def _move_under_dicom_folder(folder: Path) -> None:
    """Move the file-set's PTxxxxxx trees into DICOM/ and rewrite the DICOMDIR's Referenced File IDs."""
    records = pydicom.dcmread(folder / "DICOMDIR")
    tops = set()
    for record in records.DirectoryRecordSequence:
        if "ReferencedFileID" in record:
            file_id = record.ReferencedFileID
            parts = [file_id] if isinstance(file_id, str) else list(file_id)
            tops.add(parts[0])
            record.ReferencedFileID = ["DICOM", *parts]
    (folder / "DICOM").mkdir(exist_ok=True)
    for top in sorted(tops):
        shutil.move(folder / top, folder / "DICOM" / top)
    relocated = FileSet(records)  # staged as "moved": the new IDs differ from pydicom's own layout
    relocated.write(use_existing=True)  # rewrites only the DICOMDIR, with recomputed record offsets


def _write_cd_junk(folder: Path) -> None:
    """What a hospital CD carries besides the images: autorun, a viewer, a readme."""
    (folder / "AUTORUN.INF").write_text("[autorun]\r\nopen=VIEWER.EXE\r\nicon=VIEWER.EXE,0\r\n")
    (folder / "VIEWER.EXE").write_bytes(b"MZ" + bytes(126) + b"PE\x00\x00" + bytes(1024))
    (folder / "README.TXT").write_text("Patient images on CD. Insert the disc and run VIEWER.EXE.\r\n")
    viewer = folder / "Viewer"
    viewer.mkdir(exist_ok=True)
    (viewer / "dicomview.dll").write_bytes(b"MZ" + bytes(510))
    (viewer / "index.html").write_text("<!doctype html><title>Viewer</title><p>Open VIEWER.EXE</p>\n")


def _base(sop_class: UID, modality: str, sop_uid: str, study_uid: str, series_uid: str,
          patient_name: str) -> Dataset:
    """A dataset with file meta, patient, study, series and equipment modules filled in."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.update({"MediaStorageSOPClassUID": sop_class, "MediaStorageSOPInstanceUID": sop_uid,
                         "TransferSyntaxUID": ExplicitVRLittleEndian,
                         "ImplementationClassUID": PYDICOM_IMPLEMENTATION_UID})
    ds.update({
        "SpecificCharacterSet": "ISO_IR 192", "SOPClassUID": sop_class, "SOPInstanceUID": sop_uid,
        "StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid, "Modality": modality,
        "PatientName": patient_name, "PatientID": "KONSIL-TEST-0001", "PatientBirthDate": "19700101",
        "PatientSex": "O", "StudyDate": STUDY_DATE.strftime("%Y%m%d"), "StudyTime": "101500",
        "SeriesDate": STUDY_DATE.strftime("%Y%m%d"), "StudyID": "1", "AccessionNumber": "ACC0001",
        "StudyDescription": f"Synthetic {modality} study", "ReferringPhysicianName": "Referrer^Rita",
        "InstitutionName": "Konsil Test Hospital", "Manufacturer": "Konsil synthetic",
        "PatientPosition": "HFS", "BurnedInAnnotation": "NO",
    })
    return ds


def _encode(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _uid(seed: int, *parts: object) -> str:
    """A deterministic UID under pydicom's root, derived from the seed and a label."""
    return generate_uid(entropy_srcs=[str(seed), *(str(part) for part in parts)])
