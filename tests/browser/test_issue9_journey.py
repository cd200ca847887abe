"""Issue 9's acceptance journey in headless Chromium, on the demo directory.

A new patient signs up (the verification link read from the outbox), describes a breast cancer case in words only
(a 58-year-old woman in California, no codes), uploads a PDF, signs the authorization and submits. Auto-routing
offers the case to a breast oncologist licensed in CA with nobody in between. The specialist accepts, writes, signs
and delivers the opinion; the report carries the network's letterhead and the specialist's credentials; the patient
shares it with the treating physician, who opens it after proving who they are with an e-mailed code.

`KONSIL_SCREENS=1` saves the key pages to docs/screens/journey-*.png.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.core import mail

from ..records.records_support import text_pdf
from .test_journey import CHROMIUM, browser, totp_now  # noqa: F401 - the browser fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]
NEW_PASSWORD = "rosa's own long passphrase 2026"
SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"


def shot(page, name: str) -> None:
    if os.environ.get("KONSIL_SCREENS"):
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / f"journey-{name}.png"), full_page=True)


def context_for(browser, base: str):  # noqa: F811
    context = browser.new_context(base_url=base, accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def sign_in(browser, base: str, email: str, password: str):  # noqa: F811
    page = context_for(browser, base)
    page.goto("/accounts/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    if "/accounts/mfa/" in page.url:
        page.fill("input[name=code]", totp_now(page.inner_text("#totp-secret")))
        page.click("main button[type=submit]")
        page.wait_for_load_state()
    assert "/accounts/login/" not in page.url and "/accounts/mfa/" not in page.url, page.inner_text("main")
    return page


def save_and_continue(page, step: int) -> None:
    page.click("text=Save and continue")
    page.wait_for_load_state()
    assert f"/intake/{step}/" in page.url, page.inner_text("main")


@pytest.mark.django_db(transaction=True)
def test_issue9_journey_words_to_shared_report(browser, live_server, tmp_path):  # noqa: F811
    from konsil import demo
    from konsil.accounts.models import Organization
    from konsil.audit.services import verify
    from konsil.cases.models import Case
    from konsil.matching.models import RoutingOutcome
    from konsil.opinions.models import Letterhead

    demo.seed_demo()
    base = live_server.url
    network = Organization.objects.get(slug="konsil-network")
    Letterhead.objects.update_or_create(organization=network, defaults={
        "display_name": "Konsil Demo Second Opinions", "address": "1 Harbor Way\nSan Francisco, CA 94105",
        "phone": "+1 415 555 0100", "email": "reports@konsil.demo"})

    # 1. Sign up; the verification link comes by e-mail; sign in; the welcome page starts a case.
    page = context_for(browser, base)
    page.goto("/accounts/login/")
    page.click("text=Create an account")
    page.fill("input[name=email]", "rosa.h@example.test")
    page.fill("input[name=password1]", NEW_PASSWORD)
    page.fill("input[name=password2]", NEW_PASSWORD)
    page.check("input[name=agree]")
    shot(page, "01-signup")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "Check your email" in page.inner_text("main")
    link = re.search(r"https?://\S+", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.fill("input[name=email]", "rosa.h@example.test")
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    assert "/accounts/welcome/" in page.url, page.inner_text("main")
    page.click("text=Start my case")
    page.wait_for_load_state()
    assert "/cases/new/" in page.url

    # 2. The case in her own words: a 58-year-old woman in California, no codes anywhere.
    born = dt.date.today().replace(day=1) - dt.timedelta(days=round(58.5 * 365.25))
    page.fill("main input[name=given_name]", "Rosa")
    page.fill("main input[name=family_name]", "Hale")
    page.fill("main input[name=birth_date]", born.isoformat())
    page.select_option("main select[name=sex]", "female")
    page.select_option("main select[name=country]", "US")
    page.select_option("main select[name=state]", "CA")
    page.select_option("main select[name=language]", "en")
    save_and_continue(page, 2)
    page.fill("#question-1", "Do I need a mastectomy, or is a lumpectomy with radiation enough?")
    save_and_continue(page, 3)
    page.fill("textarea[name=diagnosis_text]", "breast cancer in my right breast, found on a screening mammogram")
    page.fill("textarea[name=proposed_treatment]", "surgery to remove the whole right breast, then chemotherapy")
    page.fill("input[name=treating_physician]", "Dr. Maya Lin")
    page.fill("input[name=treating_physician_email]", "maya.lin@clinic.test")
    page.fill("textarea[name=clinical_summary]",
              "The biopsy showed invasive ductal carcinoma, 2 cm, hormone receptor positive, HER2 negative.")
    shot(page, "02-words")
    save_and_continue(page, 4)
    save_and_continue(page, 5)  # urgency and delivery: defaults
    pdf = tmp_path / "pathology-report.pdf"
    pdf.write_bytes(text_pdf([f"Surgical pathology report. Patient: Rosa Hale. DOB: {born:%m/%d/%Y}. "
                              "Right breast core biopsy: invasive ductal carcinoma, ER positive, PR positive, "
                              "HER2 negative."]))
    page.set_input_files("input[name=file]", str(pdf))
    page.locator("form:has(input[name=file]) button[type=submit]").first.click()
    page.wait_for_load_state()
    assert "pathology-report.pdf" in page.inner_text("main")
    page.click("text=Save and continue")
    page.wait_for_load_state()
    for box in page.locator("input[name=scope]").all():
        box.check()
    page.fill("main input[name=signer_name]", "Rosa Hale")
    shot(page, "03-sign")
    page.click("text=Sign and submit")
    page.wait_for_load_state()
    case = Case.objects.get(requester__email="rosa.h@example.test")
    assert case.status != "draft", page.inner_text("main")
    assert not case.diagnoses.exists() and not case.proposed_cpt  # words only

    # 3. Auto-routing ran on commit (immediate task backend): offered to a breast oncologist licensed in CA.
    outcome = RoutingOutcome.objects.filter(case=case).first()
    assert outcome is not None, "auto-routing did not run"
    assert case.status == "offered", (case.status, outcome.reasons)
    offer = case.offers.get(status="pending")
    specialist = offer.specialist
    codes = {s.code for s in specialist.specialties.all()} | {s.code for s in specialist.subspecialties.all()}
    assert "breast_oncology" in codes, codes
    assert "CA" in {lic.state for lic in specialist.licenses.all()}
    page.goto(f"/cases/{case.pk}/")
    assert case.reference in page.inner_text("main")
    shot(page, "04-patient-case")

    # 4. The specialist accepts, writes, signs and delivers.
    spec = sign_in(browser, base, specialist.user.email, demo.PASSWORD)
    spec.goto("/specialist/")
    shot(spec, "05-specialist-offer")
    spec.locator(f"form[action*='/specialist/offers/{case.pk}/accept/'] button").click()
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "accepted", spec.inner_text("main")
    spec.goto(f"/specialist/cases/{case.pk}/review/")
    spec.click("button[value=start_review]")
    spec.wait_for_load_state()
    spec.check("input[name=diagnosis_verdict][value=refined]")
    spec.fill("input[name=revised_diagnosis]", "C50.911")
    spec.check("input[name=treatment_verdict][value=modify]")
    spec.fill("textarea[name=treatment_recommendation]",
              "Breast-conserving surgery with sentinel node biopsy, then radiation and endocrine therapy.")
    spec.locator("textarea[name^=answer_]").first.fill("A lumpectomy with radiation is as safe as a mastectomy.")
    spec.fill("textarea[name=further_tests]", "Oncotype DX recurrence score on the surgical specimen.")
    spec.fill("textarea[name=narrative]", "Early-stage, hormone receptor positive, HER2 negative breast cancer.")
    spec.check("input[name=confidence][value=high]")
    shot(spec, "06-opinion-form")
    spec.click("button[value=complete_draft]")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "opinion_drafted", spec.inner_text("main")
    spec.fill("input[name=signing_secret]", demo.PASSWORD)  # the signature asks who signs (21 CFR 11.200)
    spec.click("button[value=sign]")
    spec.wait_for_load_state()
    spec.click("button[value=deliver]")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "delivered", spec.inner_text("main")

    # 5. The patient reads the report: letterhead and the specialist's credentials.
    page.goto(f"/cases/{case.pk}/")
    page.click("text=Read the report")
    page.wait_for_load_state()
    report = page.inner_text("main")
    licence = specialist.licenses.filter(state="CA").first()
    for text in ("Konsil Demo Second Opinions", "1 Harbor Way", "C50.911", licence.number, "In plain words",
                 "breast cancer in my right breast"):  # the diagnosis submitted, in her words
        assert text in report, text
    if specialist.institution:
        assert specialist.institution in report
    shot(page, "07-report")

    # 6. She shares it with her physician (prefilled from the intake).
    assert page.input_value("input[name=recipient_email]") == "maya.lin@clinic.test"
    page.locator("form.share-form button[type=submit]").click()
    page.wait_for_load_state()
    shared = re.search(r"https?://\S+/shared/[^/\s]+/", mail.outbox[-1].body)
    assert shared and mail.outbox[-1].to == ["maya.lin@clinic.test"]

    # 7. The physician opens the link, asks for a code by e-mail and reads the report.
    doctor = context_for(browser, base)
    doctor.goto(shared.group(0))
    assert "Confirm who you are" in doctor.inner_text("main")
    assert "Rosa" not in doctor.inner_text("main")  # nothing of the patient before the proof
    doctor.click("text=Email me a code")
    doctor.wait_for_load_state()
    code = re.search(r"\b(\d{6,8})\b", mail.outbox[-1].body).group(1)
    doctor.fill("input[name=code]", code)
    shot(doctor, "08-physician-proof")
    doctor.locator("form:has(input[name=code]) button[type=submit]").click()
    doctor.wait_for_load_state()
    opened = doctor.inner_text("main")
    for text in ("Konsil Demo Second Opinions", "C50.911", licence.number):
        assert text in opened, text
    shot(doctor, "09-physician-report")
    assert verify().ok
