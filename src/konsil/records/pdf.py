"""PDF records: page count and text with pypdf, page thumbnails with pypdfium2."""

from __future__ import annotations

import io
import logging
import struct
import threading
import zlib
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
from pypdf import PasswordType, PdfReader
from pypdf.errors import PyPdfError

from konsil.records.detect import PDF_MAGIC, PDF_SEARCH_BYTES
from konsil.records.errors import RecordRejected

MAX_TEXT_CHARS = 2 * 1024 * 1024
PAGE_SEPARATOR = "\f"
# What a damaged PDF makes pypdf raise besides its own errors; BaseException (KeyboardInterrupt, ...) passes.
PARSE_ERRORS = (
    PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError, OSError,
    RecursionError, ZeroDivisionError, NotImplementedError, struct.error, zlib.error,
)
_PDFIUM_LOCK = threading.Lock()  # PDFium is not thread-safe
# pypdf's warnings quote raw bytes of the document (PHI); damage is reported through RecordRejected instead.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class PdfInfo:
    """What Konsil keeps from a PDF; `text` is PHI and must stay out of logs."""

    pages: int
    text: str
    text_length: int
    text_truncated: bool = False


def inspect(data: bytes) -> PdfInfo:
    """Count the pages and extract the text (pages joined by form feeds, capped at MAX_TEXT_CHARS)."""
    reader = _open_reader(data)
    try:
        pages = len(reader.pages)
    except PARSE_ERRORS as exc:
        raise RecordRejected("pdf_corrupt", type(exc).__name__) from exc
    if pages == 0:
        raise RecordRejected("pdf_corrupt", "no pages")
    text, truncated = _extract_text(reader)
    return PdfInfo(pages=pages, text=text, text_length=len(text), text_truncated=truncated)


def _open_reader(data: bytes) -> PdfReader:
    if PDF_MAGIC not in data[:PDF_SEARCH_BYTES]:
        raise RecordRejected("pdf_corrupt", "no PDF header")
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except PARSE_ERRORS as exc:
        raise RecordRejected("pdf_corrupt", type(exc).__name__) from exc
    if encrypted and not _opens_without_password(reader):
        raise RecordRejected("pdf_encrypted", "needs a password")
    return reader


def _opens_without_password(reader: PdfReader) -> bool:
    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except PARSE_ERRORS:  # includes DependencyError for an unsupported cipher
        return False


def _extract_text(reader: PdfReader) -> tuple[str, bool]:
    """Page by page until the cap; a page whose text cannot be extracted contributes an empty string."""
    texts: list[str] = []
    length = 0
    for page in reader.pages:
        try:
            text = page.extract_text() or ""
        except PARSE_ERRORS:
            text = ""
        texts.append(text)
        length += len(text) + len(PAGE_SEPARATOR)
        if length > MAX_TEXT_CHARS:
            return PAGE_SEPARATOR.join(texts)[:MAX_TEXT_CHARS], True
    return PAGE_SEPARATOR.join(texts), False


def page_thumbnails(data: bytes, *, max_pages: int = 10, size: int = 200) -> list[bytes]:
    """PNG thumbnails (longest side `size` pixels) of the first `max_pages` pages."""
    with _PDFIUM_LOCK:
        document = _open_document(data)
        try:
            return [_render_page(document, index, size) for index in range(min(len(document), max_pages))]
        except pdfium.PdfiumError as exc:
            raise RecordRejected("pdf_corrupt", "page could not be rendered") from exc
        finally:
            document.close()


def _open_document(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_raw.FPDF_ERR_PASSWORD:
            raise RecordRejected("pdf_encrypted", "needs a password") from exc
        raise RecordRejected("pdf_corrupt", "PDFium could not open it") from exc


def _render_page(document: pdfium.PdfDocument, index: int, size: int) -> bytes:
    page = document[index]
    try:
        width, height = page.get_size()
        bitmap = page.render(scale=size / max(width, height, 1.0))
        try:
            image = bitmap.to_pil()
            image.thumbnail((size, size))
            out = io.BytesIO()
            image.save(out, format="PNG")
            return out.getvalue()
        finally:
            bitmap.close()
    finally:
        page.close()
