"""The report a patient receives: letterhead, signer credentials, records reviewed, plain words first, the
patient's language whoever reads it, paper size by country, and a verification link instead of a raw hash."""

import datetime as dt
import io
import os

import pypdf
import pytest
from django.urls import reverse

from konsil.cases.models import Attachment, Patient
from konsil.opinions.models import Letterhead, Opinion
from konsil.records.models import Study

LETTER = (612, 792)
A4 = (595, 842)


@pytest.fixture
def rich_case(case_at, specialist, network, patient_user):
    """A delivered case with a letterhead, a board-certified signer, a document and a CT study."""
    Letterhead.objects.create(organization=network, display_name="Bayview Second Opinions",
                              address="1 Harbor Way\nSan Francisco, CA 94105", phone="+1 415 555 0100",
                              email="reports@bayview.test", website="https://bayview.test")
    specialist.board_certifications = [{"board": "American Board of Internal Medicine",
                                        "specialty": "Cardiovascular Disease", "expires_on": "2030-01-01"}]
    specialist.institution = "Bayview Heart Institute"
    specialist.save()
    case = case_at("delivered")
    Attachment.objects.create(case=case, uploaded_by=patient_user, filename="angiogram-report.pdf",
                              description="Cardiac catheterization report", content_type="application/pdf",
                              kind="pdf", status=Attachment.Processing.READY, size=10, sha256="0" * 64,
                              storage_name="x1", wrapped_key=b"k", key_id="k1")
    Study.objects.create(case=case, study_uid="1.2.3", study_date=dt.date(2026, 3, 14),
                         description="CT coronary angiography", modalities="CT")
    return case


def set_patient(case, **fields):
    """Change the patient and the identity version the case was submitted with (when cases keep one)."""
    Patient.objects.filter(pk=case.patient_id).update(**fields)
    if getattr(case, "identity_id", None):
        type(case.identity).objects.filter(pk=case.identity_id).update(**fields)
    case.refresh_from_db()
    if getattr(case, "identity_id", None):
        case.identity.refresh_from_db()


def _pdf(client, case):
    response = client.get(reverse("opinions:report_pdf", args=[case.pk]))
    assert response.status_code == 200
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    if os.environ.get("KONSIL_REPORT_PDF_OUT"):  # to look at it: pdftoppm -png
        language = getattr(getattr(case, "identity", None) or case.patient, "language", "")
        with open(os.environ["KONSIL_REPORT_PDF_OUT"] + f"-{language}.pdf", "wb") as out:
            out.write(response.content)
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_letterhead_credentials_and_records_in_html_and_pdf(client, login, rich_case, patient_user, specialist):
    login(client, patient_user)
    page = client.get(reverse("opinions:report", args=[rich_case.pk])).content.decode()
    licence = specialist.licenses.get()
    expected = ["Bayview Second Opinions", "1 Harbor Way", "+1 415 555 0100", "reports@bayview.test",
                "American Board of Internal Medicine", "Cardiovascular Disease", "Bayview Heart Institute",
                licence.number, "Cardiac catheterization report", "CT coronary angiography"]
    plain = ["In plain words", "The specialist agrees, and makes your diagnosis more precise",
             "The specialist suggests changes to the treatment"]
    for text in [*expected, "March 14, 2026", *plain]:
        assert text in page, text
    # each date says what it is: a CT's own date, the day a document was received
    rows = page.split('id="reviewed-h"')[1].split("</table>")[0].split("<tr>")
    assert "study date" in next(r for r in rows if "CT coronary angiography" in r)
    assert "received" in next(r for r in rows if "Cardiac catheterization report" in r)
    # plain words for the patient first, the clinical detail for the physician after
    assert page.index("In plain words") < page.index("For your physician: clinical detail") < page.index(
        'id="narrative-h"')

    _reader, text = _pdf(client, rich_case)
    flat = " ".join(text.split())
    for item in expected + ["In plain words", "For your physician: clinical detail"]:
        assert " ".join(item.split()) in flat, item


def test_brand_name_is_the_fallback_letterhead(client, login, case_at, patient_user, settings):
    settings.KONSIL_BRAND_NAME = "Harbor Health Opinions"
    case = case_at("delivered")
    login(client, patient_user)
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert '<p class="letterhead-name">Harbor Health Opinions</p>' in page


def test_spanish_patients_report_is_in_spanish_for_an_english_reader(client, login, rich_case, coordinator):
    set_patient(rich_case, language="es")
    coordinator.preferred_language = "en"
    coordinator.save()
    login(client, coordinator)
    page = client.get(reverse("opinions:report", args=[rich_case.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    body = page[page.index('<article class="report"'):page.index("</article>")]
    assert 'lang="es"' in page[page.index('<article class="report"'):][:60]
    for spanish in ("Informe de segunda opinión", "Fecha de nacimiento", "Referencia del caso", "Firmado por"):
        assert spanish in body, spanish
    for english in ("Date of birth", "Case reference", "Signed by"):
        assert english not in body, english
    assert "Share with the treating physician" in page  # the page around it stays in the reader's language

    rich_case.refresh_from_db()
    _reader, text = _pdf(client, rich_case)
    assert "Informe de segunda opinión" in text and "Fecha de nacimiento" in text
    assert "Date of birth" not in text


@pytest.mark.parametrize(("country", "language", "size"), [("US", "en", LETTER), ("US", "es", LETTER),
                                                           ("ES", "es", A4), ("JP", "ja", A4)])
def test_paper_size_follows_the_patients_country(client, login, case_at, patient_user, country, language, size):
    case = case_at("delivered")
    set_patient(case, country=country, language=language)
    login(client, patient_user)
    reader, text = _pdf(client, case)
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == size
    if language == "ja":
        assert "セカンドオピニオン報告書" in text  # the CJK font is embedded, the text extractable


def test_report_shows_a_verification_link_and_qr_not_the_hash(client, login, case_at, patient_user):
    case = case_at("delivered")
    opinion = Opinion.objects.get(case=case)
    login(client, patient_user)
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert f"http://testserver/verify/{opinion.verify_code}/" in page
    assert "<svg" in page[page.index('class="verify-qr"'):][:400]
    assert opinion.content_hash not in page
    _reader, text = _pdf(client, case)
    assert opinion.verify_code[:4] in text and opinion.content_hash not in text.replace("\n", "")


def test_review_screen_still_shows_the_hash_to_the_specialist(client, login, case_at, specialist):
    case = case_at("signed")
    login(client, specialist.user)
    page = client.get(reverse("opinions:review", args=[case.pk])).content.decode()
    assert Opinion.objects.get(case=case).content_hash in page


def test_the_logo_is_printed_and_nothing_is_fetched(client, login, rich_case, patient_user, network):
    import base64

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (120, 40), (29, 79, 145)).save(out, format="PNG")
    Letterhead.objects.filter(organization=network).update(logo_png=base64.b64encode(out.getvalue()).decode())
    login(client, patient_user)
    page = client.get(reverse("opinions:report", args=[rich_case.pk])).content.decode()
    assert reverse("opinions:letterhead_logo", args=[network.pk]) in page  # the page loads it from Konsil
    reader, _text = _pdf(client, rich_case)
    assert len(reader.pages[0].images) == 1  # the PDF embeds it (a data: URI, no fetch)

    from konsil.opinions import report

    with pytest.raises(ValueError):
        report._refuse_fetch("file:///etc/passwd")


def test_the_report_states_its_time_zone(client, login, rich_case, patient_user):
    """On the page the signature's time is in the reader's zone, in the PDF in the deployment's: each names it."""
    login(client, patient_user)
    client.cookies["konsil_tz"] = "Asia/Tokyo"
    page = client.get(reverse("opinions:report", args=[rich_case.pk])).content.decode()
    signed = page.split('id="signature-h"')[1].split("</dl>")[0]
    assert "(Asia/Tokyo)" in signed
    _reader, text = _pdf(client, rich_case)
    assert "(UTC)" in text and "Asia/Tokyo" not in text
