"""DICOM parsing and indexing: accept or reject a Part 10 file, describe an instance, export DICOM JSON.

Everything here is pure: bytes in, pydicom datasets and plain values out. `InstanceInfo` (what the database
keeps) holds no patient identity; `header` (what the viewer shows) does and must never be stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import math
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pydicom
import pydicom.config
from pydicom.datadict import DicomDictionary
from pydicom.datadict import dictionary_VR as dictionary_vr
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import correct_ambiguous_vr
from pydicom.pixels import get_decoder
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import DA

from .errors import RecordRejected

PREAMBLE_LENGTH = 128
MAGIC = b"DICM"
PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel Data, Float and Double Float Pixel Data
_UID_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)+")  # lenient: real archives carry leading zeros
_UID_MAX_LENGTH = 64
# pydicom's value validation warns (and logs) with the offending value quoted, which may be a name or a birth
# date (PHI); values are checked here instead, where needed, without quoting them.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
logging.getLogger("pydicom").setLevel(logging.CRITICAL)  # its warnings quote element values too


@dataclass(frozen=True)
class InstanceInfo:
    """What Konsil indexes about one DICOM instance: identifiers and geometry, never patient identity."""

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    modality: str
    body_part: str
    study_description: str
    series_description: str
    study_date: dt.date | None
    series_number: int | None
    instance_number: int | None
    frames: int
    rows: int | None
    columns: int | None
    transfer_syntax_uid: str
    position: float | None
    has_pixels: bool
    burned_in_annotation: bool | None
    photometric: str
    accession_number: str = ""


def read(data: bytes | BinaryIO, *, pixels: bool = True) -> Dataset:
    """Parse a DICOM Part 10 file (or a raw dataset dump from a CD) from bytes or a seekable stream; reject what
    is not sound.

    With ``pixels=False`` parsing stops before the pixel data: a fast header read. From a stream, elements over
    1 MiB (the pixel data) stay in the stream until read: memory is bounded by the header, not the file; the
    stream must stay open while the dataset is used (render.decode_frame reads one frame from it).
    """
    stream = None if isinstance(data, bytes | bytearray | memoryview) else _Source(data)
    head = _head(stream) if stream is not None else bytes(data[:PREAMBLE_LENGTH + len(MAGIC)])
    if not head:
        raise RecordRejected("empty", "zero-byte file")
    has_magic = head[PREAMBLE_LENGTH:PREAMBLE_LENGTH + len(MAGIC)] == MAGIC
    failure = "dicom_corrupt" if has_magic else "dicom_not_dicom"
    try:
        if stream is None:
            ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=not pixels)
        else:
            ds = pydicom.dcmread(stream, force=True, stop_before_pixels=not pixels, defer_size=DEFER_BYTES)
        uids_valid = _is_uid(ds.get("SOPInstanceUID")) and _is_uid(ds.get("StudyInstanceUID"))
    except Exception as exc:  # pydicom raises many types on malformed input
        raise RecordRejected(failure, f"parse error: {type(exc).__name__}") from exc
    if not uids_valid:
        raise RecordRejected(failure, "missing or invalid SOP Instance UID or Study Instance UID")
    if len(_text(ds, "SeriesInstanceUID")) > _UID_MAX_LENGTH or len(_text(ds, "SOPClassUID")) > _UID_MAX_LENGTH:
        raise RecordRejected(failure, "Series Instance UID or SOP Class UID longer than 64 characters")
    _settle_transfer_syntax(ds)
    if stream is not None:
        ds.konsil_stream = stream  # where a deferred element (the pixel data) is read from
    if pixels:
        _check_pixel_length(ds)
        _check_frame_count(ds)
    return ds


DEFER_BYTES = 1 << 20  # from a stream, elements larger than this are read when used


class _Source:
    """A decrypting reader as pydicom reads a buffer: pydicom takes an io.BufferedReader for a file on disk and
    would open it again by name to read a deferred element."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()


def _head(stream: BinaryIO) -> bytes:
    stream.seek(0)
    head = stream.read(PREAMBLE_LENGTH + len(MAGIC))
    stream.seek(0)
    return head


def deferred_pixels(ds: Dataset, tag: int):
    """The pixel data element still in the stream (a raw element with its length and position), or None when
    its value is in memory."""
    if getattr(ds, "konsil_stream", None) is None or tag not in ds:
        return None
    element = ds.get_item(tag, keep_deferred=True)
    return element if isinstance(element, RawDataElement) and element.value is None else None


def stored_length(ds: Dataset, tag: int) -> int:
    """Bytes of a pixel data element, without reading a deferred one: its declared length, or what the file holds
    when less (an undefined length: up to the end of the file, an upper bound)."""
    raw = deferred_pixels(ds, tag)
    if raw is None:
        return len(ds[tag].value or b"")
    available = max(ds.konsil_stream.seek(0, io.SEEK_END) - raw.value_tell, 0)  # a cut file holds less
    return available if raw.length == 0xFFFFFFFF else min(raw.length, available)


BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN", "OB or OW"})
_ITEM, _SEQUENCE_END = (0xFFFE, 0xE000), (0xFFFE, 0xE0DD)


def binary_element(ds: Dataset, tag: int, piece: int = 1 << 20) -> Iterator[bytes] | None:
    """A binary element's value in pieces (a DICOMweb BulkDataURI), or None when the dataset holds no binary
    element at that tag. A deferred element is read from the stream a piece at a time, never whole; an
    encapsulated one (undefined length) item by item, its item headers kept, as pydicom gives the value."""
    raw = deferred_pixels(ds, tag)
    if raw is None:
        value = ds[tag].value if tag in ds else None
        return iter([bytes(value)]) if isinstance(value, bytes | bytearray) else None
    vr = raw.VR or (dictionary_vr(tag) if tag in DicomDictionary else "UN")
    if vr not in BINARY_VRS:
        return None
    stream, little = ds.konsil_stream, ds.original_encoding[1] is not False
    if raw.length != 0xFFFFFFFF:
        return _read_span(stream, raw.value_tell, raw.length, piece)
    return _read_items(stream, raw.value_tell, "<HHL" if little else ">HHL", piece)


def _read_span(stream: BinaryIO, start: int, length: int, piece: int) -> Iterator[bytes]:
    position, end = start, start + length
    while position < end:
        stream.seek(position)
        data = stream.read(min(piece, end - position))
        if not data:
            raise RecordRejected("dicom_corrupt", "element cut short")
        position += len(data)
        yield data


def _read_items(stream: BinaryIO, start: int, layout: str, piece: int) -> Iterator[bytes]:
    position = start
    while True:
        stream.seek(position)
        head = stream.read(8)
        if len(head) < 8:
            raise RecordRejected("dicom_corrupt", "encapsulated element cut short")
        group, element, length = struct.unpack(layout, head)
        if (group, element) == _SEQUENCE_END:
            return
        if (group, element) != _ITEM or length == 0xFFFFFFFF:
            raise RecordRejected("dicom_corrupt", "encapsulated element without an item")
        yield head
        yield from _read_span(stream, position + 8, length, piece)
        position += 8 + length


def _check_frame_count(ds: Dataset) -> None:
    """Every frame takes at least a byte: a NumberOfFrames beyond the pixel data's size is a lie (or a bomb)."""
    tag = next((t for t in PIXEL_TAGS if t in ds), None)
    if tag is None:
        return
    try:
        stored = stored_length(ds, tag)
    except Exception as exc:  # a malformed pixel data element
        raise RecordRejected("dicom_corrupt", f"pixel data unreadable: {type(exc).__name__}") from exc
    if frame_count(ds) > max(stored, 1):
        raise RecordRejected("dicom_corrupt", "more frames declared than the pixel data can hold")


def _is_uid(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= _UID_MAX_LENGTH and bool(_UID_PATTERN.fullmatch(value))


def _settle_transfer_syntax(ds: Dataset) -> None:
    """Check the declared transfer syntax; give files without one (raw dumps) the one they were read with."""
    declared = transfer_syntax(ds)
    if declared is None:
        ds.file_meta = _meta(ds) or FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = _syntax_read_with(ds)
        return
    uid = UID(str(declared).strip("\x00 "))
    if not _is_uid(uid) or uid.type != "Transfer Syntax":
        raise RecordRejected("dicom_corrupt", "unknown or invalid Transfer Syntax UID in (0002,0010)")
    ds.file_meta.TransferSyntaxUID = uid


def _syntax_read_with(ds: Dataset) -> UID:
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little in (True, None) else ExplicitVRBigEndian


_PIXEL_MODULE = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel")


def _check_pixel_length(ds: Dataset) -> None:
    """Native (uncompressed) pixel data must hold at least Rows*Columns*Samples*Bits/8*Frames bytes.

    The Image Pixel module is checked first: pydicom computes the length from the raw values, and a
    non-numeric NumberOfFrames would be repeated as a string (a TypeError, or a memory bomb) instead.
    """
    if "PixelData" not in ds or transfer_syntax(ds).is_encapsulated:
        return
    values = [_int(ds, keyword) for keyword in _PIXEL_MODULE]
    frames = _value(ds, "NumberOfFrames")
    if any(v is None or v < 1 for v in values) or (frames not in (None, "") and (_int(ds, "NumberOfFrames") or 0) < 1):
        raise RecordRejected("dicom_corrupt", "image pixel module missing or not numeric")
    try:
        expected = int(get_expected_length(ds, unit="bytes"))
        actual = stored_length(ds, 0x7FE00010)
    except Exception as exc:  # missing or malformed Image Pixel module
        raise RecordRejected("dicom_corrupt", f"image pixel module unreadable: {type(exc).__name__}") from exc
    if actual < expected:
        raise RecordRejected("dicom_corrupt", f"pixel data holds {actual} bytes, expected {expected}")


def index(ds: Dataset) -> InstanceInfo:
    """Describe one instance for the database: UIDs, series order, geometry and pixel facts; no patient identity."""
    burned_in = _text(ds, "BurnedInAnnotation").upper()
    return InstanceInfo(
        study_uid=_text(ds, "StudyInstanceUID"),
        series_uid=_text(ds, "SeriesInstanceUID"),
        sop_uid=_text(ds, "SOPInstanceUID"),
        sop_class_uid=_text(ds, "SOPClassUID") or _text(_meta(ds), "MediaStorageSOPClassUID"),
        modality=_text(ds, "Modality"),
        body_part=_text(ds, "BodyPartExamined"),
        study_description=_text(ds, "StudyDescription"),
        series_description=_text(ds, "SeriesDescription"),
        study_date=_date(ds, "StudyDate"),
        series_number=_int(ds, "SeriesNumber"),
        instance_number=_int(ds, "InstanceNumber"),
        frames=frame_count(ds),
        rows=_int(ds, "Rows"),
        columns=_int(ds, "Columns"),
        transfer_syntax_uid=str(transfer_syntax(ds) or ""),
        position=slice_position(ds),
        has_pixels=any(tag in ds for tag in PIXEL_TAGS),
        burned_in_annotation={"YES": True, "NO": False}.get(burned_in),
        photometric=_text(ds, "PhotometricInterpretation"),
        accession_number=_text(ds, "AccessionNumber")[:16],
    )


def frame_count(ds: Dataset) -> int:
    """Number of frames (1 when NumberOfFrames is absent or unreadable)."""
    return max(_int(ds, "NumberOfFrames") or 1, 1)


def slice_position(ds: Dataset) -> float | None:
    """Distance along the slice normal (ImagePositionPatient . (row x column cosines)), else SliceLocation."""
    position = _floats(ds, "ImagePositionPatient") or _frame_geometry(ds, "PlanePositionSequence",
                                                                      "ImagePositionPatient")
    orientation = _floats(ds, "ImageOrientationPatient") or _frame_geometry(ds, "PlaneOrientationSequence",
                                                                            "ImageOrientationPatient")
    if position and orientation and len(position) == 3 and len(orientation) == 6:
        row, col = orientation[:3], orientation[3:]
        normal = (row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2],
                  row[0] * col[1] - row[1] * col[0])
        return sum(p * n for p, n in zip(position, normal, strict=True))
    location = _floats(ds, "SliceLocation")
    return location[0] if location else None


def _frame_geometry(ds: Dataset, sequence: str, keyword: str) -> list[float] | None:
    """Enhanced multi-frame objects keep geometry in the shared or the first per-frame functional group."""
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        try:
            value = _floats(ds[groups][0][sequence][0], keyword)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            continue
        if value:
            return value
    return None


def header(ds: Dataset) -> dict[str, Any]:
    """The viewer's on-screen header (patient identity included): display only, never store it."""
    return {
        "patient_name": display_name(_value(ds, "PatientName")),
        "patient_id": _text(ds, "PatientID"),
        "birth_date": _date(ds, "PatientBirthDate"),
        "sex": _text(ds, "PatientSex"),
        "study_date": _date(ds, "StudyDate"),
        "study_description": _text(ds, "StudyDescription"),
        "modality": _text(ds, "Modality"),
        "institution": _text(ds, "InstitutionName"),
    }


def display_name(value: Any) -> str:
    """'Family, Given Middle' (with prefix and suffix) from a DICOM person name."""
    if not value:
        return ""
    name = value if isinstance(value, pydicom.valuerep.PersonName) else pydicom.valuerep.PersonName(str(value))
    given = " ".join(part for part in (name.name_prefix, name.given_name, name.middle_name) if part)
    family = " ".join(part for part in (name.family_name, name.name_suffix) if part)
    return ", ".join(part for part in (family, given) if part).strip()


def sort_key(info: InstanceInfo) -> tuple:
    """Order instances in a series: slice position, then instance number, then SOP Instance UID."""
    return (info.position is None, info.position or 0.0,
            info.instance_number is None, info.instance_number or 0, info.sop_uid)


def to_dicom_json(ds: Dataset, bulk_data_uri: Callable[[DataElement], str] | None = None,
                  *, bulk_data_threshold: int = 1024) -> dict[str, Any]:
    """DICOM JSON Model (PS3.18 F.2) without inline pixel data.

    Pixel data is left out, or referenced as a BulkDataURI when ``bulk_data_uri(element)`` is given; other
    binary values above the threshold become BulkDataURIs through the same callable.
    """
    without_pixels = Dataset()
    for tag in ds.keys():  # noqa: SIM118 -- iterating a Dataset yields elements, and would convert them all
        if tag not in PIXEL_TAGS and (elem := _element(ds, tag)) is not None:
            without_pixels.add(elem)
    with contextlib.suppress(Exception):  # an ambiguous VR that cannot be resolved stays as read
        correct_ambiguous_vr(without_pixels, is_little_endian=True)
    model = without_pixels.to_json_dict(bulk_data_threshold=bulk_data_threshold,
                                        bulk_data_element_handler=bulk_data_uri, suppress_invalid_tags=True)
    if bulk_data_uri is not None:
        for tag in PIXEL_TAGS:
            if tag in ds:
                elem = ds.get_item(tag, keep_deferred=True)  # never read here: a URI names it
                model[f"{tag:08X}"] = {"vr": _pixel_vr(ds, elem), "BulkDataURI": bulk_data_uri(elem)}
    return model


def _element(ds: Dataset, tag: int) -> DataElement | None:
    try:
        return ds[tag]
    except Exception:  # a malformed value in a force-read file: leave the element out
        return None


def _pixel_vr(ds: Dataset, elem: DataElement) -> str:
    if elem.VR in ("OB", "OW", "OF", "OD"):
        return elem.VR
    return "OW" if (_int(ds, "BitsAllocated") or 8) > 8 else "OB"


def can_decode(ds: Dataset) -> bool:
    """Whether this install of pydicom can decode the pixel data of this transfer syntax."""
    syntax = transfer_syntax(ds)
    if syntax is None:
        return False
    try:
        return get_decoder(syntax).is_available
    except NotImplementedError:
        return False


def transfer_syntax(ds: Dataset) -> UID | None:
    """The dataset's Transfer Syntax UID from its file meta, or None."""
    value = _meta(ds).get("TransferSyntaxUID") if _meta(ds) is not None else None
    return UID(value) if value else None


def _meta(ds: Dataset) -> FileMetaDataset | None:
    return getattr(ds, "file_meta", None)


def _value(ds: Dataset | None, keyword: str) -> Any:
    """An element's value, or None when absent or malformed (force-read files carry anything)."""
    if ds is None:
        return None
    try:
        return ds.get(keyword)
    except Exception:  # pydicom converts lazily and raises on malformed values
        return None


def _text(ds: Dataset | None, keyword: str) -> str:
    value = _value(ds, keyword)
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        value = "\\".join(str(item) for item in value)
    return str(value).strip()


def _int(ds: Dataset, keyword: str) -> int | None:
    value = _value(ds, keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        return None


def _floats(ds: Dataset, keyword: str) -> list[float] | None:
    value = _value(ds, keyword)
    if value is None or value == "":
        return None
    items = value if isinstance(value, pydicom.multival.MultiValue | list | tuple) else [value]
    try:
        floats = [float(item) for item in items]
    except (TypeError, ValueError):
        return None
    return floats if floats and all(math.isfinite(item) for item in floats) else None


def _date(ds: Dataset, keyword: str) -> dt.date | None:
    value = _text(ds, keyword)
    if not value:
        return None
    try:
        parsed = DA(value)
    except ValueError:
        return None
    return dt.date(parsed.year, parsed.month, parsed.day) if parsed is not None else None
