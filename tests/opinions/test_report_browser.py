"""The report page and the physician's proof page in Chromium: letterhead and QR shown, no overflow at 360 px."""

import os
import shutil

import pytest
from django.test import Client
from django.urls import reverse

from ..conftest import verified_login
from .test_report_letterhead import rich_case  # noqa: F401 - fixture

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]
SHOTS = os.environ.get("KONSIL_SCREENSHOTS", "")


@pytest.fixture
def browser(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium, live_server.url
        chromium.close()


def _page(browser, user=None, width=1280):
    chromium, url = browser
    context = chromium.new_context(base_url=url, viewport={"width": width, "height": 900})
    context.set_default_timeout(30_000)
    if user is not None:
        client = verified_login(Client(), user)
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}])
    return context.new_page()


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_report_page_shows_letterhead_and_qr_without_overflow(browser, rich_case, patient_user):  # noqa: F811
    for width in (1280, 360):
        page = _page(browser, patient_user, width)
        page.goto(reverse("opinions:report", args=[rich_case.pk]))
        assert page.is_visible(".letterhead-name") and "Bayview Second Opinions" in page.inner_text(".letterhead")
        assert page.is_visible(".verify-qr svg")
        box = page.locator(".verify-qr svg").bounding_box()
        assert box["width"] >= 100  # large enough to scan from a screen
        assert _overflow(page) <= 0, f"horizontal overflow at {width}px"
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/report-{width}.png", full_page=True)

    page = _page(browser, patient_user, 360)
    page.goto(reverse("opinions:report", args=[rich_case.pk]))
    page.fill("#id_recipient_name", "Dr. Lee")
    page.fill("#id_recipient_email", "lee@clinic.test")
    page.click("form.share-form button[type=submit]")
    page.wait_for_selector("table.shares")
    from konsil.opinions.models import ReportShare

    link = reverse("opinions:shared", args=[ReportShare.objects.get().public_id])
    physician = _page(browser, width=360)
    physician.goto(link)
    assert _overflow(physician) <= 0
    if SHOTS:
        physician.screenshot(path=f"{SHOTS}/proof-360.png", full_page=True)
    physician.fill("#id_birth_date", "1970-05-17")
    physician.click("form:has(input[value=birth_date]) button[type=submit]")
    physician.wait_for_selector(".letterhead")
    assert rich_case.reference in physician.content()
    assert _overflow(physician) <= 0
    if SHOTS:
        physician.screenshot(path=f"{SHOTS}/shared-360.png", full_page=True)
