"""Clarifying questions (issue #17): asked when triage is unsure, chosen for what they would change, answered in
the patient's language over the API and the page, stored and audited, and triage runs again with the answers."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from konsil.audit.models import AuditEvent
from konsil.cases.models import Case, Notification
from konsil.triage import clarify
from konsil.triage.engine import Proposal
from konsil.triage.models import Clarification, TriageProposal
from konsil.triage.services import propose

AMBIGUOUS = [{"code": "neurology", "probability": 0.34}, {"code": "orthopedic_surgery", "probability": 0.3},
             {"code": "psychiatry", "probability": 0.2}, {"code": "rheumatology", "probability": 0.16}]


class UnsureEngine:
    """Triage that cannot tell nerves from bones from mood: abstains; records the text it was given."""

    name, version = "unsure", "1"
    seen: list = []

    def propose(self, case, extra_text: str = ""):
        UnsureEngine.seen.append(extra_text)
        return Proposal(specialty="neurology", ranked=[dict(r) for r in AMBIGUOUS], abstain=True,
                        reasons=["confidence 34% is below the threshold"])


# ---------------------------------------------------------------- choosing


def test_the_bank_loads_in_three_languages_with_catalog_specialties():
    bank = clarify.bank()
    assert {"body_part", "diagnosis", "treating_doctor", "since_when"} <= set(bank)
    for question in bank.values():
        assert question.source and all(question.text[lang] for lang in clarify.LANGUAGES)
        assert all(all(o.text[lang] for lang in clarify.LANGUAGES) for o in question.options)


def test_unsure_when_abstaining_or_the_top_two_are_close():
    assert clarify.unsure(AMBIGUOUS, abstain=False)  # 0.34 vs 0.30
    assert clarify.unsure([{"code": "cardiology", "probability": 0.9}], abstain=True)
    assert clarify.unsure([], abstain=False)
    assert not clarify.unsure([{"code": "cardiology", "probability": 0.9},
                               {"code": "pulmonology", "probability": 0.05}], abstain=False)


def test_questions_are_chosen_by_what_their_answers_would_change():
    chosen = clarify.choose(AMBIGUOUS)
    assert 1 <= len(chosen) <= clarify.MAX_QUESTIONS
    gains = [q["gain"] for q in chosen]
    assert gains == sorted(gains, reverse=True) and gains[0] > clarify.MIN_GAIN
    assert chosen[0]["code"] in {"body_part", "treating_doctor", "diagnosis"}
    # how long it has lasted barely separates these candidates: asked last or not at all
    assert "since_when" not in [q["code"] for q in chosen[:2]]
    # one candidate: nothing to separate, nothing to ask
    assert clarify.choose([{"code": "cardiology", "probability": 1.0}]) == []


def test_an_answer_that_separates_candidates_gains_more_than_one_that_does_not():
    candidates = clarify.prior(AMBIGUOUS)
    bank = clarify.bank()
    assert clarify.expected_gain(bank["body_part"], candidates) > clarify.expected_gain(bank["since_when"], candidates)


def test_answers_move_the_proposal():
    ranked, reasons = clarify.posterior(AMBIGUOUS, {"body_part": "back_spine"})
    assert ranked[0]["code"] in {"spine_surgery", "orthopedic_surgery"}
    assert abs(sum(r["probability"] for r in ranked) - 1) < 0.01
    # in words: the question, the answer and the specialties by name, never their codes
    assert reasons == ["Answer to “Which part of the body is most affected?”: “Back or neck (spine)” (Orthopaedic "
                       "Surgery of the Spine, Orthopaedic Surgery, Neurological Surgery)"]
    assert "_" not in reasons[0] and "body_part" not in reasons[0]
    ranked, _ = clarify.posterior(AMBIGUOUS, {"body_part": "mind", "treating_doctor": "none"})
    assert ranked[0]["code"] == "psychiatry"
    assert clarify.posterior(AMBIGUOUS, {}) == (AMBIGUOUS, [])


@pytest.mark.parametrize(("answers", "note", "field"), [
    ({"body_part": "elbow"}, "", "answers.body_part"),
    ({"no_such_question": "x"}, "", "answers.no_such_question"),
    ({}, "", "answers"),
    ({"body_part": ""}, "", "answers"),
    ("back", "", "answers"),
    ({"body_part": "back_spine"}, "x" * 1001, "note"),
    ({"body_part": 3}, "", "answers.body_part"),
])
def test_bad_answers_name_the_field(answers, note, field):
    asked = [{"code": "body_part", "options": [o.code for o in clarify.bank()["body_part"].options]}]
    clean, _, errors = clarify.validate(asked, answers, note)
    assert field in errors


def test_questions_in_the_patient_s_language():
    asked = clarify.choose(AMBIGUOUS)
    es = clarify.localized(asked, "es")
    ja = clarify.localized(asked, "ja")
    assert es[0]["text"].startswith("¿") and ja[0]["text"].endswith("?")
    assert clarify.localized(asked, "fr")[0]["text"] == clarify.localized(asked, "en")[0]["text"]


# ---------------------------------------------------------------- stored with the case, re-triaged


@pytest.fixture
def unsure(settings):
    settings.KONSIL_TRIAGE_ENGINE = "tests.triage.test_clarify_questions.UnsureEngine"
    UnsureEngine.seen.clear()


@pytest.fixture
def submitted(draft_case):
    Case.objects.filter(pk=draft_case.pk).update(status="submitted")
    draft_case.refresh_from_db()
    return draft_case


@pytest.mark.django_db
def test_an_unsure_proposal_asks_questions_and_tells_the_patient(unsure, submitted, patient_user):
    proposal = propose(case=submitted)
    clarification = Clarification.objects.get(case=submitted)
    assert clarification.proposal == proposal and clarification.questions and clarification.answered_at is None
    assert Notification.objects.filter(user=patient_user, case=submitted, kind="triage_questions").exists()
    assert AuditEvent.objects.filter(action="triage.questions", object_id=str(clarification.pk)).exists()
    propose(case=submitted)  # records arrive, triage runs again: the same questions wait, none added
    assert Clarification.objects.filter(case=submitted).count() == 1


@pytest.mark.django_db
def test_a_confident_proposal_asks_nothing(settings, submitted):
    settings.KONSIL_TRIAGE_ENGINE = "tests.triage.test_checklists_conditions.BreastEngine"
    propose(case=submitted)
    assert not Clarification.objects.filter(case=submitted).exists()


def client_for(user) -> APIClient:
    client = APIClient()
    from ..factories import api_token

    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def url(case) -> str:
    return f"/api/v1/cases/{case.pk}/triage/questions/"


@pytest.mark.django_db
def test_api_questions_out_answers_in_and_the_proposal_changes(unsure, submitted, patient_user, coordinator):
    from ..factories import set_identity

    set_identity(submitted, language="es")  # the case's identity version is what triage reads
    first = propose(case=submitted)
    api = client_for(patient_user)
    body = api.get(url(submitted)).json()
    assert body["status"] == "open" and body["language"] == "es"
    assert body["questions"][0]["text"].startswith("¿")
    codes = [q["code"] for q in body["questions"]]
    assert "body_part" in codes
    response = api.post(url(submitted), {"answers": {"body_part": "back_spine"}, "note": "Me duele la espalda."},
                        format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "answered"
    latest = TriageProposal.objects.filter(case=submitted).order_by("-created_at").first()
    assert latest != first and latest.clarification is not None
    assert first.specialty_id == "neurology" and latest.specialty_id in {"spine_surgery", "orthopedic_surgery"}
    assert any(r.startswith("Answer to “") and "Back or neck (spine)" in r for r in latest.reasons)
    assert "Back or neck (spine)" in UnsureEngine.seen[-1] and "Me duele la espalda." in UnsureEngine.seen[-1]
    assert AuditEvent.objects.filter(action="triage.answers", outcome="success").exists()
    # the coordinator reads the answers, in their own language
    answers = client_for(coordinator).get(url(submitted) + "?lang=en").json()
    assert answers["questions"][codes.index("body_part")]["answer_text"] == "Back or neck (spine)"
    assert answers["note"] == "Me duele la espalda."
    # answered once: a second answer is a conflict, not a second re-triage
    again = api.post(url(submitted), {"answers": {"body_part": "skin"}}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "no_open_questions"


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), [
    ({"answers": {"body_part": "elbow"}}, "answers.body_part"),
    ({"answers": ["back_spine"]}, "answers"),
    ({"answers": {}}, "answers"),
    ({"answers": {"body_part": "back_spine"}, "note": "x" * 1001}, "note"),
    ({"answers": {"body_part": {"x": 1}}}, "answers.body_part"),
])
def test_api_bad_answers_are_400_with_field_errors_and_nothing_saved(unsure, submitted, patient_user, body, field):
    propose(case=submitted)
    proposals = TriageProposal.objects.count()
    response = client_for(patient_user).post(url(submitted), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert Clarification.objects.get(case=submitted).answered_at is None
    assert TriageProposal.objects.count() == proposals


@pytest.mark.django_db
def test_api_others_cannot_see_or_answer(unsure, submitted, other_patient, specialist):
    propose(case=submitted)
    assert client_for(other_patient).get(url(submitted)).status_code == 404
    assert client_for(other_patient).post(url(submitted), {"answers": {"body_part": "skin"}},
                                          format="json").status_code == 404
    assert Clarification.objects.get(case=submitted).answered_at is None


@pytest.mark.django_db
def test_api_no_questions(submitted, patient_user):
    body = client_for(patient_user).get(url(submitted)).json()
    assert body["status"] == "none" and body["questions"] == []
    response = client_for(patient_user).post(url(submitted), {"answers": {"body_part": "skin"}}, format="json")
    assert response.status_code == 409


@pytest.mark.django_db
def test_the_schema_lists_the_questions_endpoint(client, coordinator, login):
    login(client, coordinator)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/cases/{id}/triage/questions/" in response.content.decode()


# ---------------------------------------------------------------- the pages


@pytest.mark.django_db
def test_the_patient_page_asks_and_a_bad_answer_shows_a_message(unsure, submitted, patient_user, client, login):
    propose(case=submitted)
    login(client, patient_user)
    detail = client.get(f"/cases/{submitted.pk}/").content.decode()
    assert "triage-questions-prompt" in detail
    page = f"/triage/cases/{submitted.pk}/questions/"
    response = client.get(page)
    assert response.status_code == 200 and 'name="q_body_part"' in response.content.decode()
    bad = client.post(page, {"q_body_part": "elbow"})
    assert bad.status_code == 400 and "field-error" in bad.content.decode()
    assert Clarification.objects.get(case=submitted).answered_at is None
    good = client.post(page, {"q_body_part": "back_spine"})
    assert good.status_code == 302
    assert Clarification.objects.get(case=submitted).answers == {"body_part": "back_spine"}
    assert "triage-questions-prompt" not in client.get(f"/cases/{submitted.pk}/").content.decode()


@pytest.mark.django_db
def test_a_case_past_submission_does_not_ask(unsure, submitted, patient_user, client, login):
    """Unanswered questions of a case that moved on (triaged without the answers) are not asked any more."""
    from konsil.cases.models import Case

    propose(case=submitted)
    assert Clarification.objects.filter(case=submitted, answered_at__isnull=True).exists()
    Case.objects.filter(pk=submitted.pk).update(status="triaged")
    login(client, patient_user)
    assert "triage-questions-prompt" not in client.get(f"/cases/{submitted.pk}/").content.decode()
    # The e-mail's old link: the page says the case moved on and leads back to it, with no form to fill.
    page = client.get(f"/triage/cases/{submitted.pk}/questions/").content.decode()
    assert "The case has moved on from triage" in page and 'name="q_body_part"' not in page
    assert f'href="/cases/{submitted.pk}/"' in page


@pytest.mark.django_db
def test_the_coordinator_sees_the_answers_with_the_proposal(unsure, submitted, patient_user, coordinator, client,
                                                           login):
    from konsil.triage.services import answer_questions

    propose(case=submitted)
    answer_questions(actor=patient_user, case=submitted, answers={"body_part": "back_spine"}, note="Since my fall.")
    login(client, coordinator)
    html = client.get(f"/cases/{submitted.pk}/").content.decode()
    assert "clarifying-answers" in html and "Back or neck (spine)" in html and "Since my fall." in html


@pytest.mark.django_db
def test_with_the_model_a_vague_text_gets_questions_and_the_answers_route_it(settings, network, patient_user):
    from ..factories import make_draft

    settings.KONSIL_TRIAGE_ENGINE = "konsil.triage.ml.ModelTriage"
    case = make_draft(network, patient_user, codes=(), questions=("What is wrong with me?",),
                      clinical_summary="I have been feeling weak and tired for months and I don't know why.")
    Case.objects.filter(pk=case.pk).update(status="submitted")
    case.refresh_from_db()
    first = propose(case=case)
    clarification = Clarification.objects.get(case=case)
    assert first.specialty_id != "endocrinology" and clarification.questions
    wanted = {"body_part": "blood_glands", "diagnosis": "hormone_diabetes", "treating_doctor": "hormone_doctor",
              "since_when": "months"}
    from konsil.triage.services import answer_questions

    latest = answer_questions(actor=patient_user, case=case, note="My doctor said my thyroid is underactive.",
                              answers={q["code"]: wanted[q["code"]] for q in clarification.questions})
    assert latest.specialty_id == "endocrinology" and latest.clarification_id == clarification.pk


@pytest.mark.django_db
def test_a_refused_answer_is_audited_with_the_fields_only(unsure, submitted, patient_user):
    propose(case=submitted)
    client_for(patient_user).post(url(submitted), {"answers": {"body_part": "elbow"}}, format="json")
    event = AuditEvent.objects.get(action="triage.answers", outcome="failure")
    assert event.detail == {"fields": ["answers.body_part"]}


@pytest.mark.django_db
def test_a_proposal_made_confident_by_the_answers_is_routed_where_the_network_routes(
        unsure, submitted, patient_user, monkeypatch, django_capture_on_commit_callbacks):
    from konsil.matching import tasks
    from konsil.matching.models import RoutingSetting
    from konsil.triage.services import answer_questions

    RoutingSetting.objects.create(network=submitted.network, auto_route=True)
    routed = []
    monkeypatch.setattr(tasks, "route_case", type("Fake", (), {"enqueue": staticmethod(routed.append)}))
    propose(case=submitted)
    with django_capture_on_commit_callbacks(execute=True):
        proposal = answer_questions(actor=patient_user, case=submitted, answers={"body_part": "mind"})
    assert proposal.specialty_id == "psychiatry" and not proposal.abstain and routed == [str(submitted.pk)]


@pytest.mark.django_db
def test_answers_alone_never_make_a_case_confident(unsure, submitted, patient_user):
    from konsil.triage.services import answer_questions

    propose(case=submitted)
    # the skin is nowhere among the engine's candidates: the proposal moves, but a coordinator still decides
    proposal = answer_questions(actor=patient_user, case=submitted, answers={"body_part": "skin"})
    assert proposal.specialty_id == "dermatology" and proposal.abstain
