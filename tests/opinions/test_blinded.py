"""Blinded review: the reviewer's independent assessment comes before the first opinion is shown."""

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.core.errors import Conflict, PermissionDenied
from konsil.opinions import blinded, report
from konsil.opinions.models import IndependentAssessment, Opinion, ReviewPlan

FIRST_OPINION = ("Coronary stent", "I25.10")


@pytest.fixture
def blinded_case(login, case_at, coordinator):
    """A case whose coordinator chose blinded review (through the page) before the offer was accepted."""
    case = case_at("offered")
    response = login(Client(), coordinator).post(reverse("opinions:review_plan", args=[case.pk]), {"blinded": "on"})
    assert response.status_code == 302
    return case_at("in_review")


def _review(client, case) -> str:
    return client.get(reverse("opinions:review", args=[case.pk])).content.decode()


def test_first_opinion_hidden_until_the_independent_assessment(s_client, blinded_case, specialist):
    page = _review(s_client, blinded_case)
    assert all(text not in page for text in FIRST_OPINION)
    assert "Blinded review" in page and 'name="diagnosis_impression"' in page
    assert 'class="opinion-form"' not in page
    # the opinion cannot be written around the screen either
    response = s_client.post(reverse("opinions:autosave", args=[blinded_case.pk]), {"narrative": "x"})
    assert response.status_code == 409 and response.json()["code"] == "blinded"
    response = s_client.post(reverse("opinions:review", args=[blinded_case.pk]),
                             {"action": "save", "narrative": "x"})
    assert response.status_code == 409 and "Record your independent assessment first" in response.content.decode()
    assert not Opinion.objects.filter(case=blinded_case).exists()

    response = s_client.post(reverse("opinions:assessment", args=[blinded_case.pk]), {
        "diagnosis_impression": "Stable angina, single-vessel disease.", "impression_code": "I20.8",
        "recommended_treatment": "Medical therapy first."})
    assert response.status_code == 302
    page = _review(s_client, blinded_case)
    assert all(text in page for text in FIRST_OPINION)
    assert "Your independent assessment before unblinding" in page and "Medical therapy first." in page
    assert 'class="opinion-form"' in page and 'name="diagnosis_impression"' not in page
    assessment = IndependentAssessment.objects.get(case=blinded_case)
    assert assessment.specialist == specialist and assessment.recorded_at is not None
    assert AuditEvent.objects.filter(action="review.independent_assessment", actor=specialist.user).exists()
    with pytest.raises(Conflict):  # kept as recorded
        blinded.record_assessment(actor=specialist.user, case=blinded_case, diagnosis_impression="changed",
                                  recommended_treatment="changed")


def test_bad_assessment_gives_field_errors_and_saves_nothing(s_client, blinded_case):
    url = reverse("opinions:assessment", args=[blinded_case.pk])
    response = s_client.post(url, {"diagnosis_impression": " ", "impression_code": "ZZZ.99",
                                   "recommended_treatment": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert body.count("This field is required.") == 2 and "Unknown ICD-10-CM code." in body
    assert all(text not in body for text in FIRST_OPINION)
    assert not IndependentAssessment.objects.exists()


def test_report_shows_the_independent_assessment(case_at, blinded_case, specialist, coordinator, client, login):
    blinded.record_assessment(actor=specialist.user, case=blinded_case, diagnosis_impression="Stable angina.",
                              recommended_treatment="Medical therapy first.")
    case = case_at("signed")
    login(client, coordinator)
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    assert "Independent assessment before unblinding" in page and "Medical therapy first." in page
    printed = render_to_string("opinions/report_print.html", report.report_context(case))
    assert "Independent assessment before unblinding" in printed


def test_unblinded_case_shows_everything(s_client, case_at):
    case = case_at("in_review")
    page = _review(s_client, case)
    assert all(text in page for text in FIRST_OPINION) and 'name="diagnosis_impression"' not in page


def test_review_plan_is_for_coordinators_before_acceptance(client, login, case_at, coordinator, specialist,
                                                           patient_user):
    case = case_at("triaged")
    url = reverse("opinions:review_plan", args=[case.pk])
    for user in (patient_user, specialist.user):
        login(client, user)
        assert client.get(url).status_code == 404
        assert client.post(url, {"blinded": "on"}).status_code == 404
        client.logout()
    login(client, coordinator)
    assert client.post(url, {"blinded": "perhaps"}).status_code == 400
    assert not ReviewPlan.objects.exists()
    assert client.post(url, {"blinded": "on"}).status_code == 302
    assert ReviewPlan.objects.get(case=case).blinded
    case = case_at("accepted")
    response = client.post(url, {})
    assert response.status_code == 409 and "until a specialist accepts" in response.content.decode()
    assert ReviewPlan.objects.get(case=case).blinded
    with pytest.raises(PermissionDenied):
        blinded.set_review_plan(actor=patient_user, case=case, blinded=False)


def test_assessment_only_on_blinded_cases(case_at, specialist):
    case = case_at("in_review")
    with pytest.raises(Conflict) as exc:
        blinded.record_assessment(actor=specialist.user, case=case, diagnosis_impression="x",
                                  recommended_treatment="y")
    assert exc.value.code == "not_blinded"



def test_hidden_only_for_the_reviewer(blinded_case, specialist, coordinator):
    assert blinded.hidden_for(specialist.user, blinded_case)
    assert not blinded.hidden_for(coordinator, blinded_case)


def test_case_page_and_api_hide_the_first_opinion_from_a_blinded_reviewer(s_client, blinded_case, specialist):
    page = s_client.get(reverse("cases:detail", args=[blinded_case.pk])).content.decode()
    assert 'id="blinded-note"' in page and FIRST_OPINION[0] not in page
    body = s_client.get(reverse("api:case-detail", args=[blinded_case.pk])).json()
    assert body["blinded"] is True and body["proposed_treatment"] == "" and body["diagnoses"] == []
    blinded.record_assessment(actor=specialist.user, case=blinded_case, diagnosis_impression="Stable angina",
                              recommended_treatment="Medical therapy first")
    body = s_client.get(reverse("api:case-detail", args=[blinded_case.pk])).json()
    assert body["proposed_treatment"] == FIRST_OPINION[0] and "blinded" not in body


def test_the_opinion_api_refuses_a_draft_before_the_assessment(blinded_case, specialist):
    from konsil.opinions import services as opinions

    with pytest.raises(Conflict):
        opinions.save_draft(actor=specialist.user, case=blinded_case, data={"narrative": "too early"})
    assert not Opinion.objects.filter(case=blinded_case).exists()


def test_an_afternoon_time_ends_no_sentence_with_a_double_stop(s_client, blinded_case, specialist, client, login,
                                                               coordinator):
    """English writes "3:05 p.m.": a sentence must not put its own full stop after it ("p.m..")."""
    import datetime as dt

    from django.utils import timezone

    from konsil.triage.services import propose

    afternoon = timezone.make_aware(dt.datetime(2026, 12, 3, 15, 5))
    blinded.record_assessment(actor=specialist.user, case=blinded_case, diagnosis_impression="Stable angina.",
                              recommended_treatment="Medical therapy first.")
    IndependentAssessment.objects.filter(case=blinded_case).update(recorded_at=afternoon)
    page = _review(s_client, blinded_case)
    assert "3:05 p.m." in page and "p.m.." not in page
    proposal = propose(case=blinded_case)
    type(proposal).objects.filter(pk=proposal.pk).update(created_at=afternoon)
    page = login(client, coordinator).get(reverse("cases:detail", args=[blinded_case.pk])).content.decode()
    assert "Proposed on Dec. 3, 2026, 3:05 p.m. by" in page and "p.m.." not in page


def test_what_signing_needs_is_not_labelled_optional(s_client, case_at):
    """A draft saves with any field empty, but signing needs the verdicts, the answers, the narrative and the
    confidence: those say "required to sign", not "optional", which only the truly optional ones say."""
    import re

    case = case_at("in_review")
    page = _review(s_client, case)
    form = page[page.index('class="opinion-form"'):]
    labels = {re.sub(r"<[^>]+>", "", m).split("(")[0].strip(): m
              for m in re.findall(r"<(?:label|legend)[^>]*>(.*?)</(?:label|legend)>", form, re.S)}
    for name in ("Diagnosis verdict", "Treatment verdict", "Narrative", "Confidence"):
        assert "(required to sign)" in labels[name], (name, labels[name])
    for name in ("Revised ICD-10-CM code", "Recommendation"):
        assert "(when needed)" in labels[name], (name, labels[name])
    for name in ("Comment on the diagnosis", "Recommended further tests"):
        assert "(optional)" in labels[name], (name, labels[name])
    assert "(optional)" not in " ".join(labels[q.text] for q in case.questions.all() if q.text in labels)
