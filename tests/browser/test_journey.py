"""The whole journey in headless Chromium (Debian's /usr/bin/chromium through Playwright).

Patient submits through the intake wizard, coordinator (with TOTP enrollment) triages and offers, specialist
accepts, asks a question, patient answers, specialist writes and signs the opinion and delivers it, the patient
reads the report, downloads the PDF and closes the case.
"""

from __future__ import annotations

import base64
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]
PASSWORD = "correct horse battery"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def totp_now(secret: str) -> str:
    from django_otp.oath import totp

    key = base64.b32decode(secret.strip().replace(" ", "").upper() + "=" * (-len(secret.strip()) % 8))
    return f"{totp(key):06d}"


def sign_in(browser, base_url: str, email: str):
    """A fresh browser context signed in as `email`, enrolling TOTP when the role requires it."""
    context = browser.new_context(base_url=base_url, accept_downloads=True)
    context.set_default_timeout(30_000)  # CI machines are shared and slow at times
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/accounts/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    if "/accounts/mfa/" in page.url:
        secret = page.inner_text("#totp-secret")
        page.fill("input[name=code]", totp_now(secret))
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        assert "/accounts/mfa/" not in page.url, page.inner_text("main")
    return page


def submit_action(page, action: str, **fields):
    form = page.locator(f"#action-{action}")
    for name, value in fields.items():
        target = form.locator(f"[name={name}]")
        if target.evaluate("el => el.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


@pytest.mark.django_db(transaction=True)
def test_whole_case_journey_in_the_browser(browser, live_server, patient_user, coordinator, specialist, tmp_path):
    from konsil.audit.services import verify
    from konsil.cases.models import Case

    base = live_server.url

    # 1. The patient submits through the wizard.
    patient = sign_in(browser, base, patient_user.email)
    patient.goto("/cases/new/")
    patient.fill("main input[name=given_name]", "Ana")
    patient.fill("main input[name=family_name]", "García")
    patient.fill("main input[name=birth_date]", "1970-05-17")
    patient.select_option("main select[name=sex]", "female")
    patient.select_option("main select[name=country]", "US")
    patient.select_option("main select[name=state]", "CA")
    patient.select_option("main select[name=language]", "es")
    patient.click("text=Save and continue")
    patient.wait_for_load_state()
    assert "/intake/2/" in patient.url, patient.inner_text("main")
    patient.fill("#question-1", "Do I need a stent now, or can medication come first?")
    patient.click("text=Save and continue")
    patient.click("text=I know the codes (optional)")  # codes are optional, folded away
    patient.fill("#code-1", "I25.10")
    patient.fill("textarea[name=proposed_treatment]", "Coronary stent (PCI)")
    patient.click("text=Save and continue")
    patient.click("text=Save and continue")  # urgency and delivery: defaults
    pdf = tmp_path / "echo-report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% echo report\n")
    patient.set_input_files("input[name=file]", str(pdf))
    patient.locator("form:has(input[name=file]) button[type=submit]").first.click()
    patient.wait_for_load_state()
    assert "echo-report.pdf" in patient.inner_text("main")
    patient.click("text=Save and continue")
    for box in patient.locator("input[name=scope]").all():
        box.check()
    patient.fill("main input[name=signer_name]", "Ana García")
    patient.click("text=Sign and submit")
    patient.wait_for_load_state()
    case = Case.objects.get(patient__user=patient_user)
    assert case.status == "submitted", patient.inner_text("main")
    assert case.triage_proposals.exists()  # the worker task ran on commit

    # 2. The coordinator confirms triage and offers the case.
    coord = sign_in(browser, base, coordinator.email)
    coord.goto("/cases/queue/")
    coord.click(f"text={case.reference}")
    submit_action(coord, "triage", specialty="cardiology", urgency="routine")
    case.refresh_from_db()
    assert case.status == "triaged", coord.inner_text("main")
    coord.check(f"#specialist-{specialist.pk}")
    submit_action(coord, "offer")
    case.refresh_from_db()
    assert case.status == "offered", coord.inner_text("main")

    # 3. The specialist accepts, starts the review and asks a question.
    spec = sign_in(browser, base, specialist.user.email)
    spec.goto("/specialist/")
    spec.click("button:has-text('Accept')")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "accepted"
    spec.goto(f"/specialist/cases/{case.pk}/review/")
    spec.click("button[value=start_review]")
    spec.wait_for_load_state()
    spec.fill("#request-message", "Please upload your latest echocardiogram report.")
    spec.click("button:has-text('Request information')")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "info_requested"

    # 4. The patient answers.
    patient.goto(f"/cases/{case.pk}/")
    assert "echocardiogram" in patient.inner_text("main")
    submit_action(patient, "provide_info", message="The echo showed an ejection fraction of 55%.")
    case.refresh_from_db()
    assert case.status == "in_review"

    # 5. The specialist writes the opinion (autosaved), signs and delivers it.
    spec.goto(f"/specialist/cases/{case.pk}/review/")
    spec.check("input[name=diagnosis_verdict][value=refined]")
    spec.fill("input[name=revised_diagnosis]", "I25.110")
    spec.check("input[name=treatment_verdict][value=modify]")
    spec.fill("textarea[name=treatment_recommendation]", "Optimal medical therapy first; PCI if symptoms persist.")
    spec.locator("textarea[name^=answer_]").first.fill("Medication first; a stent is not needed now.")
    spec.fill("textarea[name=further_tests]", "Stress echocardiogram in 3 months.")
    spec.fill("textarea[name=narrative]", "Stable angina with preserved function.")
    spec.check("input[name=confidence][value=high]")
    spec.click("button[value=complete_draft]")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "opinion_drafted", spec.inner_text("main")
    spec.fill("input[name=signing_secret]", PASSWORD)  # the signature asks who signs (21 CFR 11.200)
    spec.click("button[value=sign]")
    spec.wait_for_load_state()
    spec.click("button[value=deliver]")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "delivered"

    # 6. The patient reads the report, downloads the PDF and closes the case.
    patient.goto(f"/cases/{case.pk}/")
    patient.click("text=Read the report")
    patient.wait_for_load_state()
    assert "I25.110" in patient.inner_text("main")
    with patient.expect_download() as download:
        patient.click("a[href$='report.pdf']")
    path = download.value.path()
    with open(path, "rb") as fh:
        assert fh.read(4) == b"%PDF"
    patient.goto(f"/cases/{case.pk}/")
    submit_action(patient, "close")
    case.refresh_from_db()
    assert case.status == "closed"
    assert verify().ok
