"""Sharing the report with the treating physician: the e-mailed link carries a public id only; the physician
proves who they are (a code e-mailed to them, or the patient's birth date); access expires and can be revoked."""

import io
import re
from datetime import timedelta

import pypdf
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from konsil.audit.models import AuditEvent
from konsil.cases.models import Consent
from konsil.opinions import services
from konsil.opinions.models import ReportShare

BIRTH_DATE = "1970-05-17"  # tests.factories.make_patient


def _share(client, case, **data):
    data = {"recipient_name": "Dr. Lee", "recipient_email": "lee@clinic.test", "days": "14", **data}
    return client.post(reverse("opinions:share", args=[case.pk]), data)


def _link(email) -> str:
    match = re.search(r"(http://testserver/shared/[^/\s]+/)", email.body)
    assert match, "the email carries the link to the shared page"
    return match.group(1)


@pytest.fixture
def shared(client, login, case_at, patient_user):
    """A delivered case shared with Dr. Lee; returns (case, link) with the patient still signed in."""
    case = case_at("delivered")
    login(client, patient_user)
    response = _share(client, case)
    assert response.status_code == 302
    return case, _link(mail.outbox[-1])


def _prove(browser, link, method="birth_date", value=BIRTH_DATE):
    field = "code" if method == "email_code" else "birth_date"
    return browser.post(link, {"method": method, field: value})


def test_the_e_mail_is_in_the_physician_s_language_not_the_sharer_s(client, login, case_at, patient_user,
                                                                    settings):
    """A patient reading in Spanish shares with an English-speaking surgeon: the e-mail is in English by default,
    in Spanish when asked; a language not offered is a field error and nothing is shared."""
    case = case_at("delivered")
    login(client, patient_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    assert _share(client, case).status_code == 302
    assert mail.outbox[-1].subject == "A second-opinion report was shared with you"
    assert _share(client, case, recipient_email="ruiz@clinic.test", language="es").status_code == 302
    assert mail.outbox[-1].subject == "Se compartió con usted un informe de segunda opinión"
    sent = len(mail.outbox)
    bad = _share(client, case, recipient_email="x@clinic.test", language="xx")
    assert bad.status_code == 400 and len(mail.outbox) == sent
    assert not ReportShare.objects.filter(recipient_email="x@clinic.test").exists()
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert 'name="language"' in page


def test_share_form_is_prefilled_from_the_case(client, login, case_at, patient_user):
    case = case_at("delivered")
    case.treating_physician, case.treating_physician_email = "Dr. Lee", "lee@clinic.test"
    case.save()
    login(client, patient_user)
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert 'value="Dr. Lee"' in page and 'value="lee@clinic.test"' in page


def test_the_link_alone_opens_only_the_proof_page(shared):
    case, link = shared
    email = mail.outbox[-1]
    assert email.to == ["lee@clinic.test"]
    for secret in ("García", "Ana", "stent", case.reference, BIRTH_DATE):
        assert secret not in email.body + email.subject  # the link only, no clinical content
    grant = ReportShare.objects.get()
    assert link.endswith(f"/shared/{grant.public_id}/")
    assert (grant.expires_at - timezone.now()).days == 13  # 14 days asked

    page = Client().get(link)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Confirm who you are" in html and "Dr. Lee" in html
    for secret in ("García", "stent", case.reference):
        assert secret not in html
    assert page["X-Robots-Tag"] == "noindex, nofollow" and page["Referrer-Policy"] == "same-origin"
    pdf = Client().get(link + "report.pdf")
    assert pdf.status_code == 302 and pdf["Location"].endswith(f"/shared/{grant.public_id}/")
    assert AuditEvent.objects.filter(action="report.share", object_id=str(grant.pk)).exists()


def test_birth_date_opens_the_report_and_the_pdf(shared):
    case, link = shared
    browser = Client()
    wrong = _prove(browser, link, value="1971-05-17")
    assert wrong.status_code == 400
    assert "does not match" in wrong.content.decode()
    assert browser.get(link).content.decode().count(case.reference) == 0

    right = _prove(browser, link)
    assert right.status_code == 302
    page = browser.get(link)
    assert page.status_code == 200
    assert case.reference in page.content.decode() and "Not now; medication first." in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    pdf = browser.get(link + "report.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert case.reference in pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()

    actor = "share:lee@clinic.test"
    events = AuditEvent.objects.filter(actor_label=actor)
    assert events.filter(action="report.share_proof", outcome="denied").count() == 1
    assert events.filter(action="report.share_proof", outcome="success").count() == 1
    assert events.filter(action="report.read_shared").exists() and events.filter(action="report.download").exists()
    assert Client().get(link).content.decode().count(case.reference) == 0  # another browser proves again


def test_emailed_code_opens_the_report_once(shared):
    case, link = shared
    browser = Client()
    sent = browser.post(link + "code/")
    assert sent.status_code == 200 and "We sent a code" in sent.content.decode()
    email = mail.outbox[-1]
    assert email.to == ["lee@clinic.test"]
    code = re.search(r"\b(\d{6})\b", email.body).group(1)
    grant = ReportShare.objects.get()
    assert code not in grant.code_hash and len(grant.code_hash) == 64  # only a keyed hash is kept

    assert browser.post(link + "code/").status_code == 409  # one code a minute
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert _prove(browser, link, "email_code", wrong).status_code == 400
    assert _prove(browser, link, "email_code", code).status_code == 302
    assert case.reference in browser.get(link).content.decode()
    assert _prove(Client(), link, "email_code", code).status_code == 400  # single use
    assert AuditEvent.objects.filter(action="report.share_code", actor_label="share:lee@clinic.test").exists()


def test_an_expired_code_is_refused(shared):
    _case, link = shared
    browser = Client()
    browser.post(link + "code/")
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    ReportShare.objects.update(code_expires_at=timezone.now() - timedelta(seconds=1))
    response = _prove(browser, link, "email_code", code)
    assert response.status_code == 400 and "wrong or has expired" in response.content.decode()


def test_wrong_proofs_lock_then_close_the_link(shared):
    case, link = shared
    physician = Client()
    _prove(physician, link)
    attacker = Client()
    for _ in range(services.LOCK_AFTER):
        assert _prove(attacker, link, value="1999-01-01").status_code == 400
    locked = _prove(attacker, link)  # even the right birth date waits out the lock
    assert locked.status_code == 409 and "Too many attempts" in locked.content.decode()
    assert case.reference not in attacker.get(link).content.decode()
    assert "Too many attempts" in attacker.get(link).content.decode()
    assert case.reference in physician.get(link).content.decode()  # a proven browser keeps reading

    ReportShare.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    for _ in range(services.BLOCK_AFTER - services.LOCK_AFTER):
        _prove(attacker, link, value="1999-01-01")
    grant = ReportShare.objects.get()
    assert grant.blocked_at is not None and services.share_state(grant) == "blocked"
    closed = _prove(Client(), link)
    assert closed.status_code == 404 and "too many attempts" in closed.content.decode()
    assert AuditEvent.objects.filter(action="report.share_proof", outcome="denied").count() >= services.BLOCK_AFTER


def test_codes_are_limited_per_share(shared):
    _case, link = shared
    for _ in range(services.MAX_CODES):
        assert Client().post(link + "code/").status_code == 200
        ReportShare.objects.update(code_sent_at=timezone.now() - timedelta(minutes=2))
    response = Client().post(link + "code/")
    assert response.status_code == 409 and "Too many codes" in response.content.decode()
    assert len([m for m in mail.outbox if "Your Konsil code" in m.subject]) == services.MAX_CODES


def test_proof_needs_a_method_and_a_value(shared):
    _case, link = shared
    assert Client().post(link, {"method": "birth_date", "birth_date": ""}).status_code == 400
    assert Client().post(link, {"method": "telepathy", "birth_date": BIRTH_DATE}).status_code == 400
    assert _prove(Client(), link, value="not-a-date").status_code == 400
    assert _prove(Client(), link, value="2024-02-30").status_code == 400


def test_expired_and_unknown_links_are_404(shared):
    _case, link = shared
    browser = Client()
    _prove(browser, link)
    ReportShare.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    for response in (browser.get(link), browser.get(link + "report.pdf"), _prove(Client(), link),
                     Client().post(link + "code/")):
        assert response.status_code == 404
        assert "not valid or has expired" in response.content.decode()
    assert Client().get(reverse("opinions:shared", args=["not-a-share"])).status_code == 404
    assert Client().get("/r/anything/").status_code == 404  # the old bearer links are gone


def test_patient_revokes_access_even_for_a_proven_browser(client, shared, other_patient, login, specialist):
    case, link = shared
    physician = Client()
    _prove(physician, link)
    assert case.reference in physician.get(link).content.decode()
    grant = ReportShare.objects.get()
    url = reverse("opinions:share_revoke", args=[case.pk, grant.pk])

    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert "Revoke access for Dr. Lee" in page and url in page

    stranger = login(Client(), other_patient)
    assert stranger.post(url).status_code == 404
    doctor = login(Client(), specialist.user)
    assert doctor.post(url).status_code == 403
    assert ReportShare.objects.get().revoked_at is None

    assert client.post(url).status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at and grant.revoked_by_id == case.requester_id
    response = physician.get(link)
    assert response.status_code == 404 and case.reference not in response.content.decode()
    assert physician.get(link + "report.pdf").status_code == 404
    assert AuditEvent.objects.filter(action="report.share_revoke", object_id=str(grant.pk)).exists()
    assert AuditEvent.objects.filter(action="report.read_shared", outcome="denied",
                                     object_id=str(grant.pk)).exists()
    assert "Revoked" in client.get(reverse("opinions:report", args=[case.pk])).content.decode()


def test_share_needs_the_patients_consent(client, login, case_at, patient_user):
    case = case_at("delivered")
    Consent.objects.filter(case=case).update(scope=["obtain_records", "share_with_reviewers"])
    login(client, patient_user)
    response = _share(client, case)
    assert response.status_code == 409
    assert "has not authorized sending the report" in response.content.decode()
    assert not ReportShare.objects.exists() and not mail.outbox


def test_share_bad_input_names_the_field(client, login, case_at, patient_user):
    case = case_at("delivered")
    login(client, patient_user)
    response = _share(client, case, recipient_name="", recipient_email="not-an-email", days="365")
    assert response.status_code == 400
    assert set(response.context["share_form"].errors) == {"recipient_name", "recipient_email", "days"}
    assert not ReportShare.objects.exists()


def test_share_before_delivery_is_refused(client, login, case_at, coordinator):
    case = case_at("signed")
    login(client, coordinator)
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert reverse("opinions:share", args=[case.pk]) not in page
    assert _share(client, case).status_code == 409
    assert not ReportShare.objects.exists()


def test_specialist_cannot_share(client, login, case_at, specialist):
    case = case_at("delivered")
    login(client, specialist.user)
    assert _share(client, case).status_code == 403
    assert not ReportShare.objects.exists()


def test_share_still_gives_the_page_address_when_email_fails(client, login, case_at, patient_user, monkeypatch):
    from konsil.opinions import share_views as views

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(views, "send_mail", broken)
    case = case_at("delivered")
    login(client, patient_user)
    response = _share(client, case)
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "The email could not be sent" in page
    assert f"/shared/{ReportShare.objects.get().public_id}/" in page
