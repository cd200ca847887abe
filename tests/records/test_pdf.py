"""PDF records: pages, text, encryption, damage, thumbnails."""

import io

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf._page import PageObject

from konsil.records import pdf as pdf_module
from konsil.records.errors import RecordRejected
from konsil.records.pdf import PdfInfo, inspect, page_thumbnails

from .records_support import text_pdf


def blank_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted(data: bytes, user_password: str, owner_password: str = "owner", algorithm: str = "AES-256") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, owner_password, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def rejected_code(function, *args) -> str:
    with pytest.raises(RecordRejected) as caught:
        function(*args)
    return caught.value.code


def test_text_is_extracted_page_by_page():
    info = inspect(text_pdf(["Befund Seite eins", "Diagnose Seite zwei"]))
    assert info.pages == 2
    first, second = info.text.split("\f")
    assert "Befund Seite eins" in first
    assert "Diagnose Seite zwei" in second
    assert info.text_length == len(info.text)
    assert info.text_truncated is False


def test_weasyprint_pdf_text():
    weasyprint = pytest.importorskip("weasyprint")
    data = weasyprint.HTML(string="<h1>Arztbrief</h1><p>Verdacht auf Meniskusriss</p>").write_pdf()
    info = inspect(data)
    assert info.pages == 1
    assert "Meniskusriss" in info.text


def test_blank_pages_have_no_text():
    assert inspect(blank_pdf(3)) == PdfInfo(pages=3, text="\f\f", text_length=2)


def test_text_is_capped(monkeypatch):
    monkeypatch.setattr(pdf_module, "MAX_TEXT_CHARS", 30)
    info = inspect(text_pdf(["A" * 25, "B" * 25, "C" * 25]))
    assert info.pages == 3
    assert info.text_truncated is True
    assert info.text_length == len(info.text) == 30
    assert "C" not in info.text


def test_page_whose_text_cannot_be_extracted_counts_as_empty(monkeypatch):
    original = PageObject.extract_text

    def flaky(self, *args, **kwargs):
        if self.page_number == 0:
            raise ValueError("broken font")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", flaky)
    info = inspect(text_pdf(["first", "second"]))
    assert info.text.startswith("\f") and "second" in info.text


@pytest.mark.parametrize("algorithm", ["AES-256", "RC4-128"])
def test_password_protected_pdf_is_rejected(algorithm):
    data = encrypted(text_pdf(["secret"]), "patient-password", algorithm=algorithm)
    assert rejected_code(inspect, data) == "pdf_encrypted"


def test_pdf_with_empty_user_password_is_opened():
    info = inspect(encrypted(text_pdf(["readable anyway"]), ""))
    assert info.pages == 1 and "readable anyway" in info.text


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + bytes(range(256)) * 8,  # header, then junk
        b"%PDF-1.4\n%%EOF\n",  # no objects at all
        b"not a pdf at all",
        b"",
        text_pdf(["x"]).replace(b"/Type /Pages", b"/Type /Junk").replace(b"/Count 1", b"/Count x"),
    ],
)
def test_broken_or_fake_pdf_is_corrupt(data):
    assert rejected_code(inspect, data) == "pdf_corrupt"


def test_detail_has_no_document_text():
    with pytest.raises(RecordRejected) as caught:
        inspect(encrypted(text_pdf(["Jane Roe"]), "pw"))
    assert "Jane" not in str(caught.value)


def test_thumbnails_of_first_pages():
    data = text_pdf(["one", "two", "three"])
    thumbnails = page_thumbnails(data, max_pages=2, size=120)
    assert len(thumbnails) == 2
    for png in thumbnails:
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG"
        assert max(image.size) == 120
        assert image.size[0] < image.size[1]  # portrait letter page


def test_landscape_thumbnail_and_default_size():
    (png,) = page_thumbnails(text_pdf(["wide"], media_box="0 0 842 595"))
    image = Image.open(io.BytesIO(png))
    assert image.size[0] == 200 and image.size[1] < 200


def test_thumbnails_shows_ink():
    (png,) = page_thumbnails(text_pdf(["XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"]), size=400)
    low, _high = Image.open(io.BytesIO(png)).convert("L").getextrema()
    assert low < 128  # the text was rendered, not just a white page


def test_thumbnails_of_protected_and_broken_pdfs():
    assert rejected_code(page_thumbnails, encrypted(text_pdf(["x"]), "pw")) == "pdf_encrypted"
    assert rejected_code(page_thumbnails, b"%PDF-1.7\n" + bytes(range(256)) * 8) == "pdf_corrupt"
    assert len(page_thumbnails(encrypted(text_pdf(["x"]), ""))) == 1


def test_thumbnails_close_documents(monkeypatch):
    closed = []
    original = pdf_module.pdfium.PdfDocument.close

    def tracking_close(self, *args, **kwargs):
        closed.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pdf_module.pdfium.PdfDocument, "close", tracking_close)
    page_thumbnails(text_pdf(["a", "b"]))
    assert len(closed) == 1
