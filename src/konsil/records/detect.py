"""Decide what kind of record an upload is from its content (magic bytes, then a parse), never from its name."""

from __future__ import annotations

import json
import re

from konsil.records.errors import RecordRejected

MIME = {
    "pdf": "application/pdf",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "dicom": "application/dicom",
    "zip": "application/zip",
    "fhir": "application/fhir+json",
    "text": "text/plain",
}

PDF_MAGIC = b"%PDF-"
PDF_SEARCH_BYTES = 1024  # readers accept a PDF header anywhere in the first kilobyte
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the end record of an empty archive
DICOM_PREAMBLE = 128
DICOM_MAGIC = b"DICM"
FHIR_MAX_BYTES = 200 * 1024 * 1024  # JSON above this is not parsed to look for a FHIR resource
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
MAX_CONTROL_FRACTION = 0.01
MIN_ASCII_FRACTION = 0.7  # legacy 8-bit text (Latin-1, cp1252) is still mostly ASCII

_CONTROL_CHARS = {code: None for code in [*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F]}
_TEXTLIKE_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


def detect(data: bytes, name: str = "") -> str:
    """Return the kind of record in `data` (a key of MIME) or raise RecordRejected.

    `name` only sharpens one message: a file named ``*.dcm`` that is not DICOM is rejected as
    "dicom_not_dicom". DICOM without the 128-byte preamble and "DICM" magic is not claimed here; a caller
    that wants to accept such files can try pydicom (force=True) on the rejected bytes.
    """
    if not data:
        raise RecordRejected("empty")
    if is_dicom(data):
        return "dicom"
    if name.lower().endswith(".dcm"):
        raise RecordRejected("dicom_not_dicom", "no DICM magic after the 128-byte preamble")
    kind = _kind_from_magic(data) or _kind_from_parse(data)
    if kind is None:
        code = "text_encoding" if _looks_like_unknown_text(data) else "unsupported_type"
        raise RecordRejected(code, "content matches no accepted kind")
    return kind


def is_dicom(data: bytes) -> bool:
    """True when `data` is a DICOM Part 10 file: a 128-byte preamble followed by "DICM"."""
    return data[DICOM_PREAMBLE : DICOM_PREAMBLE + len(DICOM_MAGIC)] == DICOM_MAGIC


def _kind_from_magic(data: bytes) -> str | None:
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(ZIP_MAGICS):
        return "zip"
    if PDF_MAGIC in data[:PDF_SEARCH_BYTES]:
        return "pdf"
    return None


def _kind_from_parse(data: bytes) -> str | None:
    if is_fhir_json(data):
        return "fhir"
    if decode_text(data) is not None:
        return "text"
    return None


def is_fhir_json(data: bytes) -> bool:
    """True when `data` is a JSON object whose "resourceType" is a string (cheap checks before parsing)."""
    if len(data) > FHIR_MAX_BYTES or not data.removeprefix(UTF8_BOM).lstrip().startswith(b"{"):
        return False
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return False
    return isinstance(parsed, dict) and isinstance(parsed.get("resourceType"), str)


def decode_text(data: bytes) -> str | None:
    """Decode UTF-8 (with or without BOM) or UTF-16 with BOM; None when it is not plain text."""
    try:
        text = data.decode("utf-16" if data.startswith(UTF16_BOMS) else "utf-8-sig")
    except UnicodeDecodeError:
        return None
    return text if _is_plain_text(text) else None


def _is_plain_text(text: str) -> bool:
    if "\x00" in text:
        return False
    controls = len(text) - len(text.translate(_CONTROL_CHARS))
    return controls <= len(text) * MAX_CONTROL_FRACTION


def _looks_like_unknown_text(data: bytes) -> bool:
    """Bytes free of binary control codes that still failed to decode: text in a legacy 8-bit encoding."""
    sample = data[:65536]
    if _TEXTLIKE_BINARY.search(sample):
        return False
    ascii_bytes = len(sample.translate(None, bytes(range(0x80, 0x100))))
    return ascii_bytes >= len(sample) * MIN_ASCII_FRACTION
