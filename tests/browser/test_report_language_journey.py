"""A report in the patient's language whose specialist wrote in another one, in headless Chromium at 360 px.

The Spanish-speaking patient reads that the specialist's words are in English, follows the report back to the case
and asks the care team for a translation; the coordinator finds the request in the notifications and on the case
page and answers it there. Each page passes axe (no critical or serious violation) and fits 360 px.
"""

from __future__ import annotations

import pytest

from ..factories import set_identity
from .test_a11y import note_problems, page_in
from .test_journey import CHROMIUM, browser  # noqa: F401 - the browser fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]

ASK = "¿Pueden traducirme las respuestas del especialista al español?"
ANSWER = "Yes: an interpreter will go through the report with you on Thursday."




@pytest.mark.django_db(transaction=True)
def test_a_patient_asks_for_a_translation_of_the_specialists_words(
        browser, live_server, walker, draft_case, patient_user, coordinator):  # noqa: F811
    from konsil.cases.models import Message, Notification

    set_identity(draft_case, language="es")
    case = walker.walk_to(draft_case, "delivered")
    problems: list[str] = []

    patient = page_in(browser, live_server, patient_user, "es-ES")
    patient.goto(f"/cases/{case.pk}/report/")
    note = patient.inner_text("#written-in")
    assert "inglés" in note and "mensaje" in note
    assert patient.get_attribute(".qa .answer", "lang") == "en"
    note_problems(patient, problems, "report")
    patient.click(f"a[href='/cases/{case.pk}/']")
    patient.wait_for_url(f"**/cases/{case.pk}/")
    patient.fill("#messages textarea", ASK)
    patient.click("#messages button[type=submit]")
    patient.wait_for_load_state()
    assert ASK in patient.inner_text("#messages")
    note_problems(patient, problems, "case page")

    assert Notification.objects.filter(user=coordinator, case=case, kind="message").exists()
    desk = page_in(browser, live_server, coordinator, "en-US")
    desk.goto("/cases/notifications/")
    desk.locator("main a", has_text=case.reference).first.click()
    desk.wait_for_url(f"**/cases/{case.pk}/**")
    assert ASK in desk.inner_text("#messages")
    desk.fill("#messages textarea", ANSWER)
    desk.click("#messages button[type=submit]")
    desk.wait_for_load_state()
    note_problems(desk, problems, "coordinator's case page")

    patient.goto(f"/cases/{case.pk}/")
    assert ANSWER in patient.inner_text("#messages")
    assert list(Message.objects.filter(case=case).values_list("body", flat=True).order_by("created_at")) == [
        ASK, ANSWER]
    assert problems == []
