"""The review screen in Chromium: drafts save as the specialist types; a bad code is marked on its field."""

import os
import shutil

import pytest
from django.test import Client
from django.urls import reverse

from konsil.opinions.models import Opinion

from ..conftest import verified_login

SHOTS = os.environ.get("KONSIL_SCREENSHOTS")  # a folder: the test leaves its screenshot there to look at
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]


@pytest.fixture
def specialist_page(live_server, monkeypatch, specialist):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    client = verified_login(Client(), specialist.user)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(base_url=live_server.url, bypass_csp=True)  # axe is injected
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                              "url": live_server.url}])
        context.set_default_timeout(30_000)
        yield context.new_page()
        browser.close()


def test_drafts_save_as_you_type(specialist_page, case_at):
    case = case_at("in_review")
    page = specialist_page
    page.goto(reverse("opinions:review", args=[case.pk]))
    page.fill("#id_narrative", "Stable angina, single vessel.")
    saved = "() => document.querySelector('[data-autosave-status]').textContent.trim() === 'Draft saved'"
    page.wait_for_function(saved)
    assert Opinion.objects.get(case=case).narrative == "Stable angina, single vessel."

    page.fill("#id_revised_diagnosis", "ZZZ.999")
    page.wait_for_selector("[data-autosave-error]")
    assert page.get_attribute("#id_revised_diagnosis", "aria-invalid") == "true"
    assert "Unknown ICD-10-CM code." in page.inner_text(".has-error, .field:has([data-autosave-error])")
    assert Opinion.objects.get(case=case).revised_diagnosis == ""


def test_reply_from_the_review_screen(specialist_page, case_at):
    """The specialist answers the thread without leaving the review; an empty reply is marked on its field."""
    from konsil.cases.models import Message

    from ..browser.test_a11y import axe_violations

    case = case_at("in_review")
    page = specialist_page
    page.goto(reverse("opinions:review", args=[case.pk]))
    page.click(".reply-form button[type=submit]")
    page.wait_for_selector(".reply-form .error-summary")
    assert page.get_attribute("#id_reply-body", "aria-invalid") == "true"
    assert axe_violations(page) == []
    assert not Message.objects.filter(case=case).exists()

    page.fill("#id_reply-body", "The echo report is enough; no need for another test.")
    page.click(".reply-form button[type=submit]")
    page.wait_for_selector("text=Your message was sent.")
    assert page.url.endswith("#review-messages")
    assert "The echo report is enough" in page.inner_text(".review-case .thread")
    assert "Start review" not in page.content() and Message.objects.get(case=case).kind == "message"
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/review-reply.png", full_page=True)
