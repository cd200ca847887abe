"""Clarifying questions asked of a referring clinician: worded about their patient (the page, the prompt on the case
page, the e-mail's link), while the patient keeps the questions in their own voice."""

from __future__ import annotations

import pytest
from django.core import mail

from konsil.accounts.roles import Role
from konsil.cases.models import Case
from konsil.triage import clarify, knowledge
from konsil.triage.models import Clarification
from konsil.triage.services import answer_questions, propose

from ..factories import api_token, make_draft, make_user
from .test_clarify_questions import UnsureEngine

PATIENT_VOICE = "Which part of the body is most affected?"
CLINICIAN_VOICE = "Which part of the patient&#x27;s body is most affected?"


@pytest.fixture
def unsure(settings):
    settings.KONSIL_TRIAGE_ENGINE = "tests.triage.test_clarify_questions.UnsureEngine"
    settings.KONSIL_SITE_URL = "https://konsil.example.test"
    UnsureEngine.seen.clear()


@pytest.fixture
def clinician(network):
    return make_user(Role.REFERRING_CLINICIAN, network)


@pytest.fixture
def referral(network, clinician):
    """A submitted case a clinician referred for a patient who has no account."""
    case = make_draft(network, clinician)
    case.patient.user = None
    case.patient.save()
    Case.objects.filter(pk=case.pk).update(status="submitted")
    return Case.objects.get(pk=case.pk)


@pytest.mark.django_db
def test_the_clinician_is_mailed_a_link_to_the_questions(unsure, referral, clinician,
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        propose(case=referral)
    [message] = [m for m in mail.outbox if m.to == [clinician.email]]
    assert message.subject == f"Konsil: a few questions about {referral.reference}"
    assert f"https://konsil.example.test/triage/cases/{referral.pk}/questions/" in message.body


@pytest.mark.django_db
def test_the_clinician_is_asked_about_their_patient(unsure, referral, clinician, coordinator, client, login):
    propose(case=referral)
    login(client, clinician)
    detail = client.get(f"/cases/{referral.pk}/").content.decode()
    assert "triage-questions-prompt" in detail and "about your patient will help" in detail
    assert f'href="/triage/cases/{referral.pk}/questions/"' in detail
    page = client.get(f"/triage/cases/{referral.pk}/questions/").content.decode()
    assert "A few questions about your patient's case" in page and CLINICIAN_VOICE in page
    assert "your patient's case to the right kind" in page and "in your own words" not in page
    assert PATIENT_VOICE not in page
    api = client.get(f"/api/v1/cases/{referral.pk}/triage/questions/",
                     HTTP_AUTHORIZATION=f"Token {api_token(clinician)}")
    assert api.status_code == 200, api.content
    texts = [q["text"] for q in api.json()["questions"]]
    assert "Which part of the patient's body is most affected?" in texts and PATIENT_VOICE not in texts
    bad = client.post(f"/triage/cases/{referral.pk}/questions/", {"q_body_part": "elbow"})
    assert bad.status_code == 400 and CLINICIAN_VOICE in bad.content.decode()
    assert Clarification.objects.get(case=referral).answered_at is None
    done = client.post(f"/triage/cases/{referral.pk}/questions/", {"q_body_part": "back_spine",
                                                                   "note": "Fell in March."}, follow=True)
    assert "the case is being looked at again" in done.content.decode()
    login(client, coordinator)
    html = client.get(f"/cases/{referral.pk}/").content.decode()
    assert "In the referring clinician's words</dt>" in html and "Fell in March." in html


@pytest.mark.django_db
def test_the_patient_keeps_their_own_voice(unsure, draft_case, patient_user, coordinator, client, login):
    Case.objects.filter(pk=draft_case.pk).update(status="submitted")
    case = Case.objects.get(pk=draft_case.pk)
    propose(case=case)
    login(client, patient_user)
    detail = client.get(f"/cases/{case.pk}/").content.decode()
    assert "triage-questions-prompt" in detail and "about your patient" not in detail
    page = client.get(f"/triage/cases/{case.pk}/questions/").content.decode()
    assert "A few questions about your case" in page and PATIENT_VOICE in page
    assert CLINICIAN_VOICE not in page and "your patient" not in page
    answer_questions(actor=patient_user, case=case, answers={"body_part": "back_spine"}, note="Since my fall.")
    login(client, coordinator)
    assert "In the patient's words</dt>" in client.get(f"/cases/{case.pk}/").content.decode()


def test_the_clinician_s_wording_in_every_language():
    asked = [{"code": code} for code in clarify.bank()]
    for language in clarify.LANGUAGES:
        theirs = clarify.localized(asked, language)
        ours = clarify.localized(asked, language, clinician=True)
        assert [q["code"] for q in ours] == [q["code"] for q in theirs]
        assert all(a["text"] != b["text"] for a, b in zip(ours, theirs, strict=True))  # every question reworded
    assert clarify.localized(asked, "es", clinician=True)[0]["text"] == "¿Qué parte del cuerpo del paciente está " \
                                                                        "más afectada?"
    family = next(o for o in clarify.localized([{"code": "treating_doctor"}], "en", clinician=True)[0]["options"]
                  if o["code"] == "family_doctor")
    assert family["text"] == "Their family doctor"


def test_a_clinician_s_wording_missing_a_language_is_refused(tmp_path, monkeypatch):
    text = (knowledge.HERE / clarify.FILE).read_text(encoding="utf-8")
    broken = text.replace(",患者さんの体のどの部分が一番問題ですか?,", ",,", 1)
    assert broken != text
    (tmp_path / clarify.FILE).write_text(broken, encoding="utf-8")
    monkeypatch.setattr(knowledge, "HERE", tmp_path)
    clarify.bank.cache_clear()
    try:
        with pytest.raises(knowledge.KnowledgeError, match="line 2: a clinician's wording needs all"):
            clarify.bank()
    finally:
        monkeypatch.undo()
        clarify.bank.cache_clear()
