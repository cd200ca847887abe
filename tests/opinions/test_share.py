"""Sharing the report with the treating physician: a secret link, emailed, readable without an account."""

import io
import re
from datetime import timedelta

import pypdf
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from konsil.audit.models import AuditEvent
from konsil.cases.models import Consent
from konsil.opinions.models import ReportShare


def _share(client, case, **data):
    data = {"recipient_name": "Dr. Lee", "recipient_email": "lee@clinic.test", **data}
    return client.post(reverse("opinions:share", args=[case.pk]), data)


def _link(response) -> str:
    match = re.search(r'value="(http://testserver/r/[^"]+/)"', response.content.decode())
    assert match, "the link is shown once on the page"
    return match.group(1)


def test_share_form_is_prefilled_from_the_case(client, login, case_at, patient_user):
    case = case_at("delivered")
    case.treating_physician, case.treating_physician_email = "Dr. Lee", "lee@clinic.test"
    case.save()
    login(client, patient_user)
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert 'value="Dr. Lee"' in page and 'value="lee@clinic.test"' in page


def test_shared_link_works_without_login_and_is_emailed(client, login, case_at, patient_user):
    case = case_at("delivered")
    login(client, patient_user)
    response = _share(client, case)
    assert response.status_code == 200
    link = _link(response)

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["lee@clinic.test"] and link in email.body
    for secret in ("García", "Ana", "stent", case.reference):
        assert secret not in email.body + email.subject  # the link only, no clinical content

    anonymous = Client()
    page = anonymous.get(link)
    assert page.status_code == 200
    assert case.reference in page.content.decode() and "Dr. Lee" in page.content.decode()
    assert page["Cache-Control"].startswith("max-age=0") or "no-store" in page["Cache-Control"]
    assert AuditEvent.objects.filter(action="report.read_shared",
                                     actor_label="share:lee@clinic.test").exists()

    pdf = anonymous.get(link + "report.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert case.reference in pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert AuditEvent.objects.filter(action="report.download", actor_label="share:lee@clinic.test").exists()


def test_expired_revoked_and_unknown_links_are_404(client, login, case_at, patient_user):
    case = case_at("delivered")
    login(client, patient_user)
    link = _link(_share(client, case))
    anonymous = Client()
    ReportShare.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = anonymous.get(link)
    assert response.status_code == 404
    assert "not valid or has expired" in response.content.decode()
    assert anonymous.get(link + "report.pdf").status_code == 404

    ReportShare.objects.update(expires_at=timezone.now() + timedelta(days=1), revoked_at=timezone.now())
    assert anonymous.get(link).status_code == 404
    assert anonymous.get(reverse("opinions:shared", args=["not-a-token"])).status_code == 404


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
    response = _share(client, case, recipient_name="", recipient_email="not-an-email")
    assert response.status_code == 400
    assert set(response.context["share_form"].errors) == {"recipient_name", "recipient_email"}
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


def test_share_still_shows_the_link_when_email_fails(client, login, case_at, patient_user, monkeypatch):
    from konsil.opinions import views

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(views, "send_mail", broken)
    case = case_at("delivered")
    login(client, patient_user)
    response = _share(client, case)
    assert response.status_code == 200
    assert _link(response)
    assert "give the physician the link yourself" in response.content.decode()
