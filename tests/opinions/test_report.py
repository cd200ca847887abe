"""The report page and PDF: who reads it when, what it shows, amendments, the interface language."""

import io

import pypdf
from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.opinions.models import Opinion

from ..conftest import complete_opinion


def test_patient_reads_the_report_only_after_delivery(client, login, case_at, patient_user):
    case = case_at("signed")
    url = reverse("opinions:report", args=[case.pk])
    login(client, patient_user)
    assert client.get(url).status_code == 403
    assert client.get(reverse("opinions:report_pdf", args=[case.pk])).status_code == 403
    assert AuditEvent.objects.filter(actor=patient_user, action="report.read", outcome="denied").exists()

    case = case_at("delivered")
    page = client.get(url).content.decode()
    opinion = Opinion.objects.get(case=case)
    for text in ("Ana García", case.reference, "Do I need a stent?", "Not now; medication first.",
                 "I25.10", "I25.110", "Stress echocardiogram", "Optimize medical therapy first",
                 opinion.verify_code[:4], "Yes: the content matches what was signed.", "does not replace",
                 "The specialist recommends changing the proposed treatment."):  # a sentence, not the option
        assert text in page, text
    assert "Modify the proposed treatment" not in page
    assert opinion.content_hash not in page  # no raw hash for the patient: a verification link instead
    assert AuditEvent.objects.filter(actor=patient_user, action="report.read", outcome="success",
                                     object_id=str(case.pk)).exists()


def test_no_report_before_signature(client, login, case_at, coordinator):
    case = case_at("in_review")
    login(client, coordinator)
    assert client.get(reverse("opinions:report", args=[case.pk])).status_code == 403


def test_coordinator_and_signer_read_the_signed_report(client, login, case_at, coordinator, specialist):
    case = case_at("signed")
    for user in (coordinator, specialist.user):
        login(client, user)
        assert client.get(reverse("opinions:report", args=[case.pk])).status_code == 200
        client.logout()


def test_strangers_get_404(client, login, case_at, other_specialist):
    case = case_at("delivered")
    login(client, other_specialist.user)
    assert client.get(reverse("opinions:report", args=[case.pk])).status_code == 404
    assert client.get(reverse("opinions:report_pdf", args=[case.pk])).status_code == 404


def test_pdf_report(client, login, case_at, patient_user):
    case = case_at("delivered")
    login(client, patient_user)
    response = client.get(reverse("opinions:report_pdf", args=[case.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="konsil-report-{case.reference}.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    assert case.reference in text
    assert "Stress echocardiogram" in text
    assert AuditEvent.objects.filter(actor=patient_user, action="report.download",
                                     object_id=str(case.pk)).exists()


def test_amendment_is_version_2_with_its_reason(client, login, case_at, specialist):
    case = case_at("delivered")
    login(client, specialist.user)
    url = reverse("opinions:amend", args=[case.pk])
    data = complete_opinion(case)
    answers = data.pop("answers")
    data.update({f"answer_{qid}": text for qid, text in answers.items()})
    data["further_tests"] = "Stress echocardiogram and lipid panel"
    data["signing_secret"] = "correct horse battery"  # an amendment is signed: the signer confirms who they are

    response = client.post(url, {**data, "reason": ""})
    assert response.status_code == 400
    assert "reason" in response.context["amend_form"].errors
    assert Opinion.objects.filter(case=case).count() == 1

    response = client.post(url, {**data, "reason": "Lipid panel result arrived"})
    assert response.status_code == 302
    v2 = Opinion.objects.get(case=case, version=2)
    assert v2.amendment_reason == "Lipid panel result arrived" and v2.is_signed
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert "Lipid panel result arrived" in page and "Stress echocardiogram and lipid panel" in page
    assert f"/verify/{v2.verify_code}/" in page
    assert v2.verify_code != Opinion.objects.get(case=case, version=1).verify_code


def test_amend_refused_to_others(client, login, case_at, coordinator):
    case = case_at("delivered")
    login(client, coordinator)
    response = client.post(reverse("opinions:amend", args=[case.pk]), {"reason": "x", "narrative": "y"})
    assert response.status_code == 403
    assert Opinion.objects.filter(case=case).count() == 1


def test_amend_form_is_prefilled_for_the_signer(client, login, case_at, specialist):
    case = case_at("delivered")
    login(client, specialist.user)
    form = client.get(reverse("opinions:review", args=[case.pk])).context["amend_form"]
    assert form["narrative"].value() == "Stable angina with a single-vessel lesion."


def test_report_in_spanish(client, login, case_at, patient_user, settings):
    case = case_at("delivered")
    login(client, patient_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert '<html lang="es"' in page
    response = client.get(reverse("opinions:report", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="ja")
    assert '<html lang="es"' in response.content.decode()  # the chosen language wins over the browser's


def test_closed_case_keeps_its_report(client, login, case_at, patient_user):
    case = case_at("closed")
    login(client, patient_user)
    assert client.get(reverse("opinions:report", args=[case.pk])).status_code == 200


def test_the_specialists_words_carry_their_language(client, login, case_at, patient_user, specialist):
    """A Spanish report whose specialist writes in English: their words are marked lang="en" (screen readers
    read them as English) and the report says so, pointing the patient to a translation; when the specialist
    writes in the patient's language there is nothing to say."""
    from ..factories import set_identity

    case = case_at("delivered")
    set_identity(case, language="es")
    login(client, patient_user)
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert '<article class="report" lang="es">' in page
    assert '<div class="answer" lang="en">' in page and 'lang="en"><p>' in page
    assert 'id="written-in"' in page
    assert "El especialista escribió las respuestas y el detalle que sigue en inglés." in page
    pdf = client.get(reverse("opinions:report_pdf", args=[case.pk])).content
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "El especialista escribió" in " ".join(text.split())

    specialist.user.preferred_language = "es"
    specialist.user.save(update_fields=["preferred_language"])
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert 'id="written-in"' not in page and '<div class="answer" lang="es">' in page
