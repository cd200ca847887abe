"""Follow-ups: planned at 30/90 days after delivery, sent in the respondent's language with a single-use link
whose secret stays out of URLs, reminded, closed as no response (never invented), answered by link or from the
case page; the outcome record and its cost estimate."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from konsil.audit.models import AuditEvent
from konsil.core.errors import Conflict, NotFound, ValidationFailed
from konsil.outcomes import questionnaires, services
from konsil.outcomes.models import FollowUp, Outcome

pytestmark = pytest.mark.django_db

PATIENT_ANSWERS = {"followed": "yes", "diagnosis_changed": "no", "plan_changed": "yes", "procedure": "avoided",
                   "status": "better", "nps": "9", "comment": "Gracias 😊"}
PHYSICIAN_ANSWERS = {"followed": "partly", "diagnosis_changed": "yes", "plan_changed": "yes",
                     "procedure": "avoided", "status": "same"}


def _send(case, day=30):
    services.plan(case)
    mail.outbox.clear()
    services.send_due(now=case.delivered_at + dt.timedelta(days=day))
    secrets = {}
    for message in mail.outbox:
        link = re.search(r"https?://\S+#(\S+)", message.body)
        secrets[message.to[0]] = link.group(1)
    return secrets


@pytest.mark.parametrize("respondent", ["patient", "physician"])
@pytest.mark.parametrize("language", ["en", "es", "ja"])
def test_questionnaires_are_valid_fhir(respondent, language):
    resource = questionnaires.questionnaire(respondent, language)
    get_fhir_model_class("Questionnaire").model_validate(resource)
    values, errors = questionnaires.clean(respondent, PATIENT_ANSWERS)
    assert not errors
    answered = questionnaires.response(respondent, values, case_reference="K-1", language=language)
    get_fhir_model_class("QuestionnaireResponse").model_validate(answered)
    assert questionnaires.answers_of(answered)["plan_changed"] == "yes"


def test_plan_is_configurable_and_idempotent(delivered_case, settings):
    settings.KONSIL_FOLLOW_UP_DAYS = "14, 30,x,30"
    created = services.plan(delivered_case)
    assert sorted((f.day, f.respondent) for f in created) == [
        (14, "patient"), (14, "physician"), (30, "patient"), (30, "physician")]
    assert services.plan(delivered_case) == []
    assert {f.language for f in created} == {"es"}


def test_sent_in_the_respondents_language_with_the_secret_in_the_fragment(delivered_case):
    services.plan(delivered_case)
    mail.outbox.clear()
    assert services.send_due(now=delivered_case.delivered_at + dt.timedelta(days=29)) == 0
    assert services.send_due(now=delivered_case.delivered_at + dt.timedelta(days=30)) == 2
    to = sorted(m.to[0] for m in mail.outbox)
    assert to == ["ana@example.org", "local.doctor@example.org"]
    body = mail.outbox[0].body
    assert "/follow-up/#" in body and mail.outbox[0].extra_headers["Content-Language"] == "es"
    secret = re.search(r"#(\S+)", body).group(1)
    assert FollowUp.objects.filter(token_hash=services.token_hash(secret)).exists()
    assert not FollowUp.objects.filter(token_hash=secret).exists()  # only the hash is kept
    assert services.send_due(now=delivered_case.delivered_at + dt.timedelta(days=31)) == 0


def test_answer_by_link_is_single_use_and_builds_the_outcome(client, delivered_case, stent_price):
    secrets = _send(delivered_case)
    secret = secrets["ana@example.org"]
    page = client.get(reverse("outcomes:open"))
    assert page.status_code == 200 and secret not in page.content.decode()
    opened = client.post(reverse("outcomes:open"), {"token": secret})
    assert opened.status_code == 302 and opened["Location"] == reverse("outcomes:answer")
    questions = client.get(opened["Location"])
    assert questions.status_code == 200 and questions["Content-Language"] == "es"
    assert 'name="nps"' in questions.content.decode()
    done = client.post(opened["Location"], PATIENT_ANSWERS)
    assert done.status_code == 200 and 'id="thanks"' in done.content.decode()
    outcome = Outcome.objects.get(case=delivered_case)
    assert (outcome.plan_changed, outcome.procedure_avoided, outcome.nps) == ("yes", True, 9)
    assert outcome.cost_difference == Decimal("-15000.00") and outcome.cost_currency == "USD"
    again = client.post(reverse("outcomes:open"), {"token": secret})
    assert again.status_code == 404 and "link-error" in again.content.decode()  # used: the hash is gone
    assert AuditEvent.objects.filter(action="followup.answer", detail__via="link").exists()


def test_physician_outranks_patient_on_the_clinical_plan(delivered_case, stent_price):
    _send(delivered_case)
    patient_fu = FollowUp.objects.get(case=delivered_case, day=30, respondent="patient")
    doctor_fu = FollowUp.objects.get(case=delivered_case, day=30, respondent="physician")
    services.answer(follow_up_id=doctor_fu.pk, data=PHYSICIAN_ANSWERS)
    services.answer(follow_up_id=patient_fu.pk, data=PATIENT_ANSWERS)
    outcome = Outcome.objects.get(case=delivered_case)
    assert outcome.recommendation_followed == "partly" and outcome.diagnosis_changed == "yes"
    assert outcome.nps == 9 and outcome.answers == 2
    stored = json.loads(FollowUp.objects.get(pk=doctor_fu.pk).response)
    get_fhir_model_class("QuestionnaireResponse").model_validate(stored)


@pytest.mark.parametrize("bad, field", [
    ({"nps": "11"}, "nps"), ({"nps": "-1"}, "nps"), ({"nps": "9" * 50}, "nps"), ({"nps": "٣"}, "nps"),
    ({"plan_changed": "maybe"}, "plan_changed"), ({"procedure": ""}, "procedure"),
    ({"comment": "x" * 3000}, "comment"), ({"status": "😊"}, "status"),
])
def test_answers_out_of_range_are_refused_and_nothing_saved(client, delivered_case, bad, field):
    secret = _send(delivered_case)["ana@example.org"]
    client.post(reverse("outcomes:open"), {"token": secret})
    response = client.post(reverse("outcomes:answer"), {**PATIENT_ANSWERS, **bad})
    assert response.status_code == 400 and f'id="id_{field}_error"' in response.content.decode()
    follow_up = FollowUp.objects.get(case=delivered_case, respondent="patient", day=30)
    assert follow_up.status == "sent" and follow_up.response == ""
    assert not Outcome.objects.filter(case=delivered_case, answers__gt=0).exists()


def test_expired_link_and_non_response_recorded_never_invented(client, delivered_case):
    secret = _send(delivered_case)["ana@example.org"]
    follow_up = FollowUp.objects.get(case=delivered_case, respondent="patient", day=30)
    later = follow_up.expires_at + dt.timedelta(minutes=1)
    FollowUp.objects.filter(pk=follow_up.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    expired = client.post(reverse("outcomes:open"), {"token": secret})
    assert expired.status_code == 409 and "link-error" in expired.content.decode()
    assert services.close_unanswered(now=later) == 2
    outcome = Outcome.objects.get(case=delivered_case)
    assert outcome.non_responses == 2 and outcome.answers == 0 and outcome.plan_changed == "unknown"
    assert outcome.nps is None and outcome.cost_difference is None
    with pytest.raises(Conflict):
        services.answer(follow_up_id=follow_up.pk, data=PATIENT_ANSWERS)


def test_reminder_replaces_the_link(delivered_case):
    old = _send(delivered_case)["ana@example.org"]
    follow_up = FollowUp.objects.get(case=delivered_case, respondent="patient", day=30)
    mail.outbox.clear()
    assert services.send_reminders(now=follow_up.sent_at + dt.timedelta(days=3)) == 0
    assert services.send_reminders(now=follow_up.sent_at + dt.timedelta(days=7)) == 2
    new = re.search(r"#(\S+)", next(m for m in mail.outbox if m.to == ["ana@example.org"]).body).group(1)
    assert new != old
    with pytest.raises(NotFound):
        services.find_by_secret(old)
    assert services.find_by_secret(new).pk == follow_up.pk


@pytest.mark.parametrize("token", ["", "x", "a" * 500, "ñ😊", "../../etc"])
def test_bad_tokens_are_a_message(client, delivered_case, token):
    response = client.post(reverse("outcomes:open"), {"token": token})
    assert response.status_code == 404 and "link-error" in response.content.decode()


def test_answer_from_the_case_page_and_outcome_shown(client, delivered_case, patient_user, stent_price):
    services.plan(delivered_case)
    FollowUp.objects.filter(case=delivered_case).update(due_at=timezone.now() - dt.timedelta(hours=1))
    client.force_login(patient_user)
    case_url = reverse("cases:detail", kwargs={"pk": delivered_case.pk})
    page = client.get(case_url).content.decode()
    assert 'id="answer-follow-up"' in page and 'id="outcome-unknown"' in page
    follow_up = FollowUp.objects.get(case=delivered_case, respondent="patient", day=30)
    url = reverse("outcomes:answer_on_case", kwargs={"pk": follow_up.pk})
    assert client.post(url, {**PATIENT_ANSWERS, "nps": "12"}).status_code == 400
    assert client.post(url, PATIENT_ANSWERS).status_code == 302
    page = client.get(case_url).content.decode()
    assert 'id="outcome-facts"' in page
    assert "-15,000 USD" in page or "-15.000 USD" in page
    with pytest.raises(Conflict):
        services.answer(follow_up_id=follow_up.pk, data=PATIENT_ANSWERS, actor=patient_user, via="case_page")


def test_others_cannot_answer_from_the_case_page(client, delivered_case, other_patient, specialist):
    services.plan(delivered_case)
    follow_up = FollowUp.objects.get(case=delivered_case, respondent="patient", day=30)
    client.force_login(other_patient)
    assert client.post(reverse("outcomes:answer_on_case", kwargs={"pk": follow_up.pk}),
                       PATIENT_ANSWERS).status_code == 404
    with pytest.raises(Exception):  # noqa: B017 - PermissionDenied from the service
        services.answer(follow_up_id=follow_up.pk, data=PATIENT_ANSWERS, actor=specialist.user, via="case_page")


def test_concurrent_plans_do_not_duplicate(delivered_case):
    services.plan(delivered_case)
    services.plan_delivered()
    assert FollowUp.objects.filter(case=delivered_case).count() == 4


def test_validation_errors_name_every_field(delivered_case):
    _send(delivered_case)
    follow_up = FollowUp.objects.get(case=delivered_case, respondent="patient", day=30)
    with pytest.raises(ValidationFailed) as exc:
        services.answer(follow_up_id=follow_up.pk, data={"nps": ["9"], "followed": {"a": 1}})
    assert {"followed", "nps", "plan_changed"} <= set(exc.value.errors)


def test_case_page_questionnaire_not_open_before_its_day(client, delivered_case, patient_user):
    services.plan(delivered_case)
    follow_up = FollowUp.objects.get(case=delivered_case, respondent="patient", day=30)
    client.force_login(patient_user)
    response = client.get(reverse("outcomes:answer_on_case", kwargs={"pk": follow_up.pk}))
    assert response.status_code == 302 and response["Location"] == reverse("cases:detail",
                                                                          kwargs={"pk": delivered_case.pk})
    posted = client.post(reverse("outcomes:answer_on_case", kwargs={"pk": follow_up.pk}), PATIENT_ANSWERS)
    assert posted.status_code == 409
    assert FollowUp.objects.get(pk=follow_up.pk).status == "scheduled"
