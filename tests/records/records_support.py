"""Builders shared by the records tests: synthetic DICOM, CD exports, PDFs, photos, Synthea bundles, tus uploads."""

from __future__ import annotations

import base64
import gzip
import io
import json
import uuid
import zipfile
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from PIL import Image

from konsil.records import synthetic

SYNTHEA = Path("/work/shared/data/synthea")
DICOM_NAME = "Zelinska^Marguerite"  # the patient name embedded in the synthetic DICOM
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def ct(n: int = 3, *, size: int = 64, seed: int = 0, name: str = DICOM_NAME) -> list[bytes]:
    return synthetic.ct_series(n, size=size, patient_name=name, seed=seed)


def zip_bytes(entries: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_folder(folder: Path) -> bytes:
    return zip_bytes({p.relative_to(folder).as_posix(): p.read_bytes()
                      for p in sorted(folder.rglob("*")) if p.is_file()})


def cd_export(tmp_path: Path, datasets: list[bytes]) -> Path:
    """A CD-style folder (DICOMDIR, DICOM/..., autorun and viewer junk)."""
    folder = tmp_path / f"cd-{uuid.uuid4().hex[:6]}"
    synthetic.dicomdir_export(datasets, folder)
    return folder


def text_pdf(pages: list[str], media_box: str = "0 0 612 792") -> bytes:
    """A minimal hand-written PDF: one Helvetica line per page."""
    count = len(pages)
    page_ids = [4 + 2 * i for i in range(count)]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{n} 0 R' for n in page_ids)}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page_id, text in zip(page_ids, pages, strict=True):
        content = f"BT /F1 12 Tf 72 700 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [{media_box}] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {page_id + 1} 0 R >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def encrypted_pdf(data: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt("secret", "owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def photo(fmt: str = "JPEG", size=(120, 80), color=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


@lru_cache(maxsize=1)
def _smallest_bundle_path() -> Path:
    return min(SYNTHEA.glob("*.json.gz"), key=lambda p: p.stat().st_size)


def synthea_bundle() -> bytes:
    """The smallest Synthea bundle of the shared set, gunzipped."""
    return gzip.decompress(_smallest_bundle_path().read_bytes())


def bundle_family_name(data: bytes) -> str:
    bundle = json.loads(data)
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    return patient["name"][0]["family"]


# --- storage -------------------------------------------------------------------------------------------------


def storage_root() -> Path:
    return Path(settings.STORAGES["default"]["OPTIONS"]["location"])


def stored_names() -> set[str]:
    root = storage_root()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def storage_contains(needle: bytes) -> bool:
    root = storage_root()
    return any(needle in p.read_bytes() for p in root.rglob("*") if p.is_file())


# --- tus ------------------------------------------------------------------------------------------------------


def metadata(**values: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


def uploads_url(case) -> str:
    return reverse("api:records-uploads", kwargs={"pk": case.pk})


def tus_create(client, case, length: int, filename: str = "file.bin", **meta):
    return client.post(uploads_url(case), HTTP_UPLOAD_LENGTH=str(length),
                       HTTP_UPLOAD_METADATA=metadata(filename=filename, **meta), **TUS)


def tus_patch(client, location: str, offset: int, chunk: bytes, content_type="application/offset+octet-stream"):
    # CONTENT_TYPE given explicitly: the test client leaves it out of bodiless requests (a 0-byte chunk)
    return client.generic("PATCH", location, chunk, content_type=content_type, CONTENT_TYPE=content_type,
                          HTTP_UPLOAD_OFFSET=str(offset), **TUS)


def tus_upload(client, case, data: bytes, filename: str, *, chunk: int = 0, **meta):
    """Create and send a whole file; returns the last response (the creation's when it is refused)."""
    created = tus_create(client, case, len(data), filename, **meta)
    if created.status_code != 201:
        return created
    location = created["Location"]
    step = chunk or len(data)
    response = None
    for offset in range(0, len(data), step):
        response = tus_patch(client, location, offset, data[offset: offset + step])
        if response.status_code != 204:
            return response
    return response


def ingest(case, user, data: bytes, name: str):
    """Store and process a record at once (no worker), and return it fresh from the database."""
    from konsil.cases.models import Attachment
    from konsil.records import intake, processing

    record = intake.store_record(actor=user, case=case, content=data, filename=name, process=False)
    processing.process(record.pk)
    return Attachment.objects.get(pk=record.pk)
