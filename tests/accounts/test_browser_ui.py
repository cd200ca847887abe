"""Sign-in, MFA enrollment, the language switcher and konsil.js in Chromium (Debian's, never downloaded)."""

import base64
import shutil

import pytest
from django_otp.oath import totp

from ..factories import make_user

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]


@pytest.fixture
def page(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(10_000)
        yield context.new_page()
        browser.close()


def test_sign_in_and_enroll_mfa(page, network):
    from konsil.accounts.roles import Role

    user = make_user(Role.COORDINATOR, network)
    page.goto("/")
    page.fill("#id_email", user.email)
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/accounts/mfa/**")
    assert page.locator("svg.qr").is_visible()
    key = base64.b32decode(page.inner_text("#totp-secret").strip())
    page.fill("#id_code", f"{totp(key):06d}")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/cases/**")
    assert "/accounts/" not in page.url


def test_wrong_password_shows_message(page, network):
    page.goto("/accounts/login/")
    page.fill("#id_email", "nobody@example.test")
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit].primary")
    alert = page.locator("[role=alert]").inner_text()  # the error summary: its title, then the message
    assert "There is a problem" in alert and "The email or the password is not correct." in alert


def test_language_select_submits_itself(page, db):
    page.goto("/accounts/login/")
    assert page.get_attribute("html", "lang") == "en"
    with page.expect_navigation():
        page.select_option("#lang-select", "es")
    assert page.get_attribute("html", "lang") == "es"


@pytest.fixture
def js_page(page, settings, patient_user):
    from . import js_urls

    settings.ROOT_URLCONF = "tests.accounts.js_urls"
    js_urls.SAVED.clear()
    page.goto("/accounts/login/")
    page.fill("#id_email", patient_user.email)
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    page.goto("/js-test/")
    return page


def test_autosave_posts_with_csrf_and_reports_status(js_page):
    from . import js_urls

    js_page.fill("#id_title", "Second opinion")
    js_page.wait_for_function("() => document.querySelector('[data-autosave-status]').textContent === 'Guardado'")
    assert js_urls.SAVED[-1] == {"title": "Second opinion", "code": "", "csrf_header": True}
    assert len(js_urls.SAVED) == 1  # debounced: one request for the whole burst of typing


def test_autosave_marks_field_errors(js_page):
    js_page.fill("#id_code", "bad")
    js_page.wait_for_selector("#id_code ~ .field-error")
    assert js_page.inner_text(".field-error").strip() == "Unknown code."
    assert js_page.get_attribute("#id_code", "aria-invalid") == "true"
    assert js_page.inner_text("[data-autosave-status]") == "No guardado"
    js_page.fill("#id_code", "I25.10")
    js_page.wait_for_function("() => document.querySelector('[data-autosave-status]').textContent === 'Guardado'")
    assert js_page.locator(".field-error").count() == 0


def test_confirm_can_cancel_a_submit(js_page):
    js_page.once("dialog", lambda dialog: dialog.dismiss())
    js_page.click("button[name=go]")
    js_page.wait_for_timeout(300)
    assert js_page.url.endswith("/js-test/")
    js_page.once("dialog", lambda dialog: dialog.accept())
    with js_page.expect_navigation():
        js_page.click("button[name=go]")
    assert js_page.url.endswith("/js-test/submitted/")
