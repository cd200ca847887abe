"""The ICD-10-CM lookup of the intake page in headless Chromium (progressive enhancement by intake.js), and a
new patient's sign-up in the browser."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from ..browser.test_journey import CHROMIUM, PASSWORD, browser, sign_in  # noqa: F401 - the browser fixture
from ..factories import make_draft

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]


@pytest.mark.django_db(transaction=True)
def test_typing_a_word_offers_codes_and_picking_one_keeps_the_code(browser, live_server, network,  # noqa: F811
                                                                   patient_user):
    case = make_draft(network, patient_user, codes=())
    page = sign_in(browser, live_server.url, patient_user.email)
    page.goto(f"/cases/{case.pk}/intake/3/")
    page.fill("textarea[name=diagnosis_text]", "breast cancer")
    add = page.locator("button[name=add_row]")
    assert not add.is_visible()  # no "Add another code" for a section that is folded away
    page.click("text=I know the codes (optional)")
    assert add.is_visible()
    page.type("#code-1", "breast", delay=30)
    page.wait_for_function("() => document.querySelectorAll('#icd10-options option').length > 0")
    first = page.eval_on_selector("#icd10-options option", "o => o.value")
    assert first.startswith("C50 — Malignant neoplasm of breast")
    page.fill("#code-1", "C50.912 — Malignant neoplasm of unspecified site of left female breast")
    page.dispatch_event("#code-1", "change")
    assert page.input_value("#code-1") == "C50.912"
    page.click("text=Save and continue")
    page.wait_for_load_state()
    assert "/intake/4/" in page.url, page.inner_text("main")
    case.refresh_from_db()
    assert case.diagnosis_text == "breast cancer"
    assert list(case.diagnoses.values_list("code", flat=True)) == ["C50.912"]


@pytest.mark.django_db(transaction=True)
def test_a_new_patient_signs_up_verifies_and_starts_a_case(browser, live_server, network):  # noqa: F811
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.click("text=Create an account")
    page.fill("input[name=email]", "rosa.new@example.test")
    page.fill("input[name=password1]", PASSWORD + " 2026")
    page.fill("input[name=password2]", PASSWORD + " 2026")
    page.check("input[name=agree]")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "Check your email" in page.inner_text("main")
    link = re.search(r"https?://\S+", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.fill("input[name=email]", "rosa.new@example.test")
    page.fill("input[name=password]", PASSWORD + " 2026")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    assert "/accounts/welcome/" in page.url, page.inner_text("main")
    page.click("text=Start my case")
    page.wait_for_load_state()
    assert "/cases/new/" in page.url and page.locator("select[name=country]").count() == 1
