"""Content detection: the kind comes from the bytes, never from the file name."""

import io
import json
import zipfile

import pytest

from konsil.records import detect as detect_module
from konsil.records.detect import MIME, decode_text, detect, is_fhir_json
from konsil.records.errors import RecordRejected

DICOM = b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00\x00\x00\x00\x00"
PDF = b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 20
BINARY = bytes(range(256)) * 4


def rejected_code(data: bytes, name: str = "") -> str:
    with pytest.raises(RecordRejected) as caught:
        detect(data, name)
    return caught.value.code


def small_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


def empty_zip() -> bytes:
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (DICOM, "dicom"),
        (PDF, "pdf"),
        (JPEG, "jpeg"),
        (PNG, "png"),
        (small_zip(), "zip"),
        (empty_zip(), "zip"),
        (b'{"resourceType": "Bundle", "type": "collection"}', "fhir"),
        (b"Discharge letter\nDiagnosis: ...\n", "text"),
    ],
)
def test_detects_each_kind_from_content(data, kind):
    assert detect(data) == kind
    assert kind in MIME


def test_mime_types_cover_every_kind():
    assert MIME["pdf"] == "application/pdf"
    assert MIME["dicom"] == "application/dicom"
    assert MIME["fhir"] == "application/fhir+json"
    assert set(MIME) == {"pdf", "jpeg", "png", "dicom", "zip", "fhir", "text"}


def test_empty_data_is_rejected():
    assert rejected_code(b"") == "empty"
    assert rejected_code(b"", "scan.dcm") == "empty"


def test_name_does_not_decide_the_kind():
    assert detect(PDF, "photo.jpg") == "pdf"
    assert detect(JPEG, "report.pdf") == "jpeg"
    assert detect(DICOM, "IM000001") == "dicom"
    assert rejected_code(BINARY, "report.pdf") == "unsupported_type"


def test_pdf_header_found_within_first_kilobyte_only():
    assert detect(b"\x00garbage-before-header\x01" * 20 + PDF) == "pdf"
    assert rejected_code(b"\x00\x01\x02" * 700 + PDF) == "unsupported_type"


def test_dicom_needs_preamble_and_magic():
    assert detect(DICOM, "SCAN.DCM") == "dicom"
    assert rejected_code(b"DICM" + b"\x00" * 200) == "unsupported_type"  # magic at the wrong offset
    # preamble-less DICOM (starts with a group 0008 element) is not claimed
    assert rejected_code(b"\x08\x00\x05\x00CS\n\x00ISO_IR 100" + b"\x00" * 50) == "unsupported_type"


@pytest.mark.parametrize("content", [PDF, JPEG, BINARY, b"plain text", b"\x08\x00\x05\x00CS\n\x00" + b"\x00" * 200])
def test_dcm_name_without_dicom_content(content):
    assert rejected_code(content, "series/IMG0001.dcm") == "dicom_not_dicom"
    assert rejected_code(content, "IMG0001.DCM") == "dicom_not_dicom"


def test_zip_magic_variants():
    assert detect(b"PK\x03\x04" + b"\x00" * 30) == "zip"
    assert detect(b"PK\x05\x06" + b"\x00" * 18) == "zip"
    assert rejected_code(b"PK\x07\x08" + b"\x00\xff" * 30) == "unsupported_type"


def test_fhir_json_with_bom_and_whitespace():
    resource = json.dumps({"resourceType": "Patient", "id": "x"}).encode()
    assert detect(b"\xef\xbb\xbf" + resource) == "fhir"
    assert detect(b"\n\t  " + resource) == "fhir"


@pytest.mark.parametrize(
    "data",
    [
        b'{"name": "not fhir"}',  # an object without resourceType
        b'{"resourceType": 42}',  # resourceType not a string
        b'[{"resourceType": "Patient"}]',  # not an object
        b'{"resourceType": "Patient",',  # broken JSON
        b"[" * 100_000 + b"]" * 100_000,  # deep nesting: no crash
    ],
)
def test_json_that_is_not_fhir_is_text(data):
    assert not is_fhir_json(data)
    assert detect(data) == "text"


def test_deeply_nested_object_is_not_fhir():
    data = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    assert not is_fhir_json(data)


def test_fhir_parse_skipped_above_size_cap(monkeypatch):
    resource = b'{"resourceType": "Patient"}'
    monkeypatch.setattr(detect_module, "FHIR_MAX_BYTES", len(resource) - 1)
    assert detect(resource) == "text"


def test_fhir_parse_skipped_unless_first_byte_is_brace(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("json.loads must not run")

    monkeypatch.setattr(detect_module.json, "loads", fail)
    assert detect(b"Patient resourceType notes") == "text"


@pytest.mark.parametrize(
    "data",
    [
        "Befund: Zustand nach Fraktur, Größe 1,80 m".encode(),
        "\ufeffBefund mit BOM".encode(),
        "Arztbrief UTF-16 LE".encode("utf-16"),  # Python writes a BOM
        b"\xfe\xff" + "Arztbrief UTF-16 BE".encode("utf-16-be"),
        b"line\twith tab\r\nand form feed\f\n",
    ],
)
def test_text_encodings(data):
    assert detect(data) == "text"
    assert decode_text(data) is not None


def test_decoded_text_drops_the_bom():
    assert decode_text("\ufeffBefund".encode()) == "Befund"
    assert decode_text("Befund".encode("utf-16")) == "Befund"


@pytest.mark.parametrize(
    "data",
    [
        BINARY,
        "UTF-16 without BOM".encode("utf-16-le"),
        b"text with a NUL\x00 byte",
        b"\x01\x02\x03 mostly control characters \x04\x05\x06",
        b"\x80\x81\x82\x83\xfe",
    ],
)
def test_binary_is_unsupported(data):
    assert rejected_code(data) == "unsupported_type"


def test_legacy_8bit_text_gets_encoding_message():
    assert rejected_code("Befund: Größe und Gewicht, Schädel-CT unauffällig".encode("latin-1")) == "text_encoding"


def test_rejection_detail_carries_no_content():
    secret = b"Patient Jane Roe, born 1970 \x00\x01\x02"
    with pytest.raises(RecordRejected) as caught:
        detect(secret, "jane-roe.dcm")
    assert "Jane" not in str(caught.value) and "jane" not in caught.value.detail
