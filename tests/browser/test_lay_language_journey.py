"""Issue 17's journeys in Spanish and in Japanese, in headless Chromium at 360 px.

A patient whose browser speaks Spanish (or Japanese) starts a case in their own everyday words, in that language;
the intake is in their language. Triage understands the words (endocrinology, from the patient's register, in the
patient's language). The coordinator, whose browser speaks English, reads the proposal with its reasons in English,
quoting the patient's words; the patient's page shows what triage understood, worded for their language (the same
stored reasons). Each page passes axe (no critical or serious violation).
"""

from __future__ import annotations

import datetime as dt

import pytest

from .test_a11y import note_problems, page_in
from .test_journey import CHROMIUM, browser  # noqa: F401 - the browser fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]

JOURNEYS = {
    "es": {"locale": "es-ES", "save": "Guardar y continuar", "submit": "Firmar y enviar",
           "question": "¿Necesito insulina o basta con pastillas y dieta?",
           "diagnosis": "Me dijeron que tengo el azúcar alta.",
           "treatment": "Quieren empezar con insulina.",
           "story": "Tengo mucha sed todo el tiempo y las heridas tardan en sanar.",
           "language_name": "Spanish"},
    "ja": {"locale": "ja-JP", "save": "保存して次へ", "submit": "署名して提出",
           "question": "インスリンが必要ですか、それとも飲み薬と食事療法で十分ですか?",
           "diagnosis": "糖尿病と言われました。",
           "treatment": "インスリンを始めると言われています。",
           "story": "喉がすごく渇くし、傷が治りにくいです。",
           "language_name": "Japanese"},
}




def _save(page, words: dict, step: int) -> None:
    page.locator("main button[type=submit].primary", has_text=words["save"]).click()
    page.wait_for_load_state()
    assert f"/intake/{step}/" in page.url, page.inner_text("main")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["es", "ja"])
def test_a_patient_writes_in_their_language_and_each_reader_reads_the_reasons_in_theirs(
        browser, live_server, network, patient_user, coordinator, language):  # noqa: F811
    from konsil.cases.models import Case
    from konsil.triage.models import TriageProposal

    words = JOURNEYS[language]
    problems: list[str] = []

    # 1. The patient's browser speaks the language: the intake is worded in it, and they write in it.
    page = page_in(browser, live_server, patient_user, words["locale"])
    page.goto("/cases/new/")
    assert page.get_attribute("html", "lang") == language
    assert page.locator("main button[type=submit].primary", has_text=words["save"]).count() == 1
    note_problems(page, problems, "intake 1")
    page.fill("main input[name=given_name]", "Lucía" if language == "es" else "花子")
    page.fill("main input[name=family_name]", "Ramos" if language == "es" else "山田")
    page.fill("main input[name=birth_date]", (dt.date.today() - dt.timedelta(days=round(52.3 * 365.25))).isoformat())
    page.select_option("main select[name=sex]", "female")
    page.select_option("main select[name=country]", "US")
    page.select_option("main select[name=state]", "CA")
    page.select_option("main select[name=language]", language)
    _save(page, words, 2)
    page.fill("#question-1", words["question"])
    _save(page, words, 3)
    note_problems(page, problems, "intake 3")
    page.fill("textarea[name=diagnosis_text]", words["diagnosis"])
    page.fill("textarea[name=proposed_treatment]", words["treatment"])
    page.fill("textarea[name=clinical_summary]", words["story"])
    _save(page, words, 4)
    _save(page, words, 5)
    _save(page, words, 6)
    note_problems(page, problems, "intake 6")
    for box in page.locator("input[name=scope]").all():
        box.check()
    page.fill("main input[name=signer_name]", "Lucía Ramos" if language == "es" else "山田花子")
    page.locator("main button[type=submit].primary", has_text=words["submit"]).click()
    page.wait_for_load_state()
    case = Case.objects.get(requester=patient_user)
    assert case.status != "draft", page.inner_text("main")
    assert not case.diagnoses.exists()  # words only

    # 2. Triage understood the words: the patient's register and language, endocrinology first.
    proposal = TriageProposal.objects.filter(case=case).order_by("-created_at").first()
    assert proposal is not None, "triage did not run on submit"
    assert proposal.ranked[0]["code"] == "endocrinology", proposal.ranked[:3]
    model = proposal.reasons_data[0]
    assert model["key"] == "model" and model["params"]["register"] == "lay"
    assert model["params"]["language"] == language
    understood = [i["params"]["words"] for i in proposal.reasons_data if i["key"] == "concept"]
    assert understood, proposal.reasons_data

    # 3. The coordinator's browser speaks English: the proposal with its reasons in English, the words quoted.
    desk = page_in(browser, live_server, coordinator, "en-US")
    desk.goto(f"/cases/{case.pk}/")
    assert desk.get_attribute("html", "lang") == "en"
    reasons = desk.inner_text("#triage-reasons")
    assert f"Most likely, from the patient's own words ({words['language_name']}): " in reasons, reasons
    assert f"“{understood[0]}” understood as " in reasons, reasons
    assert "Endocrinology" in reasons
    note_problems(desk, problems, "coordinator case page")

    # 4. The patient's page: what triage understood, worded for the patient's language, no probabilities.
    page.goto(f"/cases/{case.pk}/")
    assert page.get_attribute("html", "lang") == language
    lines = page.inner_text("#triage-understood")
    quoted = {"es": f"«{understood[0]}»", "ja": f"「{understood[0]}」"}[language]  # each language's own quotes
    assert quoted in lines, lines
    assert "understood as" not in lines and "%" not in lines and page.locator("#triage-reasons").count() == 0
    note_problems(page, problems, "patient case page")
    assert not problems, "\n".join(problems)
