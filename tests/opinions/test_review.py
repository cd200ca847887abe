"""The review screen: everything on one page, the autosaved opinion form and the lifecycle actions."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.cases.models import Case, Message
from konsil.cases.services import add_attachment
from konsil.opinions.models import Opinion

from ..conftest import complete_opinion
from ..factories import make_draft


def _form_data(case, **overrides) -> dict:
    data = complete_opinion(case)
    answers = data.pop("answers")
    data.update({f"answer_{qid}": text for qid, text in answers.items()})
    data.update(overrides)
    return data


def test_review_shows_the_whole_case(s_client, case_at, specialist):
    case = case_at("in_review")
    add_attachment(actor=specialist.user, case=case, upload=SimpleUploadedFile("echo.pdf", b"%PDF-1.4 echo"))
    question = case.questions.get()
    page = s_client.get(reverse("opinions:review", args=[case.pk])).content.decode()
    assert "Do I need a stent?" in page
    assert "I25.10" in page and "Atherosclerotic heart disease" in page
    assert "Coronary stent" in page
    assert "echo.pdf" in page
    assert f'name="answer_{question.pk}"' in page
    assert f'data-autosave="{reverse("opinions:autosave", args=[case.pk])}"' in page
    assert AuditEvent.objects.filter(actor=specialist.user, action="case.read",
                                     object_id=str(case.pk)).exists()


def test_other_specialist_gets_404_and_coordinator_403(client, login, case_at, other_specialist, coordinator):
    case = case_at("in_review")
    login(client, other_specialist.user)
    assert client.get(reverse("opinions:review", args=[case.pk])).status_code == 404
    response = client.post(reverse("opinions:autosave", args=[case.pk]), {"narrative": "x"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    client.logout()
    login(client, coordinator)
    assert client.get(reverse("opinions:review", args=[case.pk])).status_code == 403
    response = client.post(reverse("opinions:autosave", args=[case.pk]), {"narrative": "x"})
    assert response.status_code == 403
    assert not Opinion.objects.filter(case=case).exists()


def test_autosave_returns_json_and_persists(s_client, case_at):
    case = case_at("in_review")
    question = case.questions.get()
    url = reverse("opinions:autosave", args=[case.pk])
    response = s_client.post(url, {"narrative": "Stable angina.", f"answer_{question.pk}": "Not yet."})
    assert response.status_code == 200
    body = response.json()
    assert body["saved"] is True and body["version"] == 1 and body["updated_at"]
    # a later partial save keeps what it does not name
    assert s_client.post(url, {"diagnosis_verdict": "confirmed"}).status_code == 200
    draft = Opinion.objects.get(case=case)
    assert draft.narrative == "Stable angina."
    assert draft.answers == {str(question.pk): "Not yet."}
    assert draft.diagnosis_verdict == "confirmed"


def test_autosave_of_one_answer_keeps_the_others(s_client, walker, network, patient_user):
    case = walker.walk_to(make_draft(network, patient_user, questions=("Stent?", "Surgery?")), "in_review")
    first, second = case.questions.all()
    url = reverse("opinions:autosave", args=[case.pk])
    s_client.post(url, {f"answer_{first.pk}": "No.", f"answer_{second.pk}": "Not yet."})
    s_client.post(url, {f"answer_{second.pk}": "Only if angina worsens."})
    answers = Opinion.objects.get(case=case).answers
    assert answers == {str(first.pk): "No.", str(second.pk): "Only if angina worsens."}


def test_autosave_bad_input_is_a_400_naming_the_field(s_client, case_at):
    case = case_at("in_review")
    url = reverse("opinions:autosave", args=[case.pk])
    response = s_client.post(url, {"revised_diagnosis": "ZZZ.999", "confidence": "certain"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"revised_diagnosis", "confidence"}
    assert not Opinion.objects.filter(case=case).exists()
    assert s_client.get(url).status_code == 405


def test_autosave_outside_review_is_a_conflict(s_client, case_at):
    case = case_at("accepted")
    response = s_client.post(reverse("opinions:autosave", args=[case.pk]), {"narrative": "x"})
    assert response.status_code == 409
    assert response.json()["code"] == "not_editable"


def test_save_draft_without_js_shows_the_code_name(s_client, case_at):
    case = case_at("in_review")
    url = reverse("opinions:review", args=[case.pk])
    data = {"action": "save", "narrative": "n", "revised_diagnosis": "i25.110"}
    response = s_client.post(url, data, follow=True)
    page = response.content.decode()
    assert "Draft saved." in page
    assert "I25.110" in page and "unstable angina" in page.lower()


def test_ready_to_sign_with_incomplete_opinion_shows_field_messages(s_client, case_at):
    case = case_at("in_review")
    question = case.questions.get()
    url = reverse("opinions:review", args=[case.pk])
    data = _form_data(case, diagnosis_verdict="changed", revised_diagnosis="", narrative="",
                      **{f"answer_{question.pk}": ""}, action="complete_draft")
    response = s_client.post(url, data)
    assert response.status_code == 400
    form = response.context["form"]
    assert "revised_diagnosis" in form.errors and "narrative" in form.errors
    assert f"answer_{question.pk}" in form.errors
    assert "The opinion is not complete." in response.content.decode()
    case.refresh_from_db()
    assert case.status == "in_review"  # the draft is kept, the case does not move


def test_sign_with_incomplete_opinion_shows_field_messages(s_client, case_at, specialist):
    case = case_at("in_review")
    s_client.post(reverse("opinions:autosave", args=[case.pk]), {"narrative": "partial"})
    Case.objects.filter(pk=case.pk).update(status="opinion_drafted")  # as if the draft lost a field
    response = s_client.post(reverse("opinions:review", args=[case.pk]), {"action": "sign"})
    assert response.status_code == 400
    form = response.context["form"]
    assert {"diagnosis_verdict", "treatment_verdict", "confidence"} <= set(form.errors)
    case.refresh_from_db()
    assert case.status == "opinion_drafted"
    assert not Opinion.objects.filter(case=case, signed_at__isnull=False).exists()


@pytest.mark.parametrize("secret, code", [("", "reauth_required"), ("wrong horse", "reauth_failed")])
def test_signing_asks_who_signs(s_client, case_at, specialist, secret, code):
    """An electronic signature asks again for the password (or a current authenticator code): 21 CFR 11.200."""
    case = case_at("in_review")
    url = reverse("opinions:review", args=[case.pk])
    s_client.post(url, {"action": "complete_draft", **_form_data(case)})
    response = s_client.post(url, {"action": "sign", "signing_secret": secret})
    assert response.status_code == 400 and response.context["failed"].code == code
    page = response.content.decode()
    assert 'aria-invalid="true"' in page and "wrong horse" not in page  # the field errs; the secret is not echoed
    assert page.count(str(response.context["failed"].message)) == 1  # by the field, not again at the top
    case.refresh_from_db()
    assert case.status == "opinion_drafted"
    assert not Opinion.objects.filter(case=case, signed_at__isnull=False).exists()
    assert AuditEvent.objects.filter(action="signature.reauth", outcome="denied").count() == (1 if secret else 0)
    done = s_client.post(url, {"action": "sign", "signing_secret": "correct horse battery"})
    assert done.status_code == 302
    case.refresh_from_db()
    assert case.status == "signed"


def test_a_current_authenticator_code_signs_too(s_client, case_at, specialist):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=specialist.user, confirmed=True).first() or TOTPDevice.objects.create(
        user=specialist.user, name="app", confirmed=True)
    case = case_at("in_review")
    url = reverse("opinions:review", args=[case.pk])
    s_client.post(url, {"action": "complete_draft", **_form_data(case)})
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"
    assert s_client.post(url, {"action": "sign", "signing_secret": code}).status_code == 302
    case.refresh_from_db()
    assert case.status == "signed"


def test_request_information_needs_a_message(s_client, case_at):
    case = case_at("in_review")
    url = reverse("opinions:review", args=[case.pk])
    response = s_client.post(url, {"action": "request_info", "message": ""})
    assert response.status_code == 400
    assert 'id="request-message-error"' in response.content.decode()
    s_client.post(url, {"action": "request_info", "message": "Please upload the echo report."})
    case.refresh_from_db()
    assert case.status == "info_requested"
    assert Message.objects.get(case=case).kind == "info_request"


def test_unknown_action_changes_nothing(s_client, case_at):
    case = case_at("in_review")
    response = s_client.post(reverse("opinions:review", args=[case.pk]), {"action": "close"}, follow=True)
    assert "Unknown action." in response.content.decode()
    case.refresh_from_db()
    assert case.status == "in_review"


def test_full_path_through_the_pages(s_client, case_at, specialist):
    case = case_at("offered")
    s_client.post(reverse("opinions:respond", args=[case.pk, "accept"]))
    url = reverse("opinions:review", args=[case.pk])
    assert "Start review" in s_client.get(url).content.decode()
    steps = [{"action": "start_review"}, {"action": "save", **_form_data(case)},
             {"action": "complete_draft", **_form_data(case)},
             {"action": "sign", "signing_secret": "correct horse battery"}, {"action": "deliver"}]
    expected = ["in_review", "in_review", "opinion_drafted", "signed", "delivered"]
    for data, status in zip(steps, expected, strict=True):
        response = s_client.post(url, data)
        assert response.status_code == 302, (data["action"], response.content.decode()[:3000])
        case.refresh_from_db()
        assert case.status == status
    opinion = Opinion.objects.get(case=case)
    assert opinion.signed_by == specialist.user and len(opinion.content_hash) == 64
    page = s_client.get(url).content.decode()
    assert "Amend the opinion" in page and opinion.content_hash in page


def test_review_json_error_shape_for_unknown_case(s_client):
    response = s_client.post(reverse("opinions:autosave", args=["00000000-0000-0000-0000-000000000000"]), {})
    assert response.status_code == 404
    assert json.loads(response.content)["errors"] == {}


def test_a_refused_code_is_not_shown_with_the_saved_codes_name(s_client, case_at):
    case = case_at("in_review")
    url = reverse("opinions:review", args=[case.pk])
    s_client.post(url, {"action": "save", "narrative": "n", "revised_diagnosis": "I25.110"})
    response = s_client.post(url, {"action": "save", "narrative": "n", "revised_diagnosis": "ZZZ.9"})
    assert response.status_code == 400
    assert "Unknown ICD-10-CM code." in response.content.decode()
    assert "unstable angina" not in response.content.decode()
    assert Opinion.objects.get(case=case).revised_diagnosis == "I25.110"


def test_reply_from_the_review_screen(s_client, case_at, specialist, patient_user):
    """The specialist answers the thread where they read it; the case stays in review and the patient is told."""
    from konsil.cases.models import Notification

    case = case_at("in_review")
    url = reverse("opinions:review", args=[case.pk])
    page = s_client.get(url).content.decode()
    assert 'name="reply-body"' in page and 'value="message"' in page
    response = s_client.post(url, {"action": "message", "reply-body": "  Thank you, the echo is enough.  "})
    assert response.status_code == 302 and response["Location"].endswith("#review-messages")
    message = Message.objects.get(case=case)
    assert (message.body, message.kind, message.author_id) == ("Thank you, the echo is enough.", "message",
                                                               specialist.user_id)
    case.refresh_from_db()
    assert case.status == "in_review"
    assert Notification.objects.filter(case=case, kind="message", user=patient_user).exists()
    assert AuditEvent.objects.filter(action="message.create", object_id=str(message.pk)).exists()
    page = s_client.get(url).content.decode()
    assert "Your message was sent." in page and "Thank you, the echo is enough." in page


@pytest.mark.parametrize(("body", "error"), [("", "Write a message."), ("   ", "Write a message."),
                                             ("x" * 10001, "10000")])
def test_reply_errors_stay_on_the_review_screen(s_client, case_at, body, error):
    case = case_at("in_review")
    response = s_client.post(reverse("opinions:review", args=[case.pk]), {"action": "message", "reply-body": body})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="error-summary"' in page and error in page
    assert 'id="id_reply-body_error"' in page and 'aria-invalid="true"' in page
    assert not Message.objects.filter(case=case).exists()


def test_reply_is_not_offered_to_whoever_may_not_write(client, login, case_at, other_specialist):
    case = case_at("in_review")
    login(client, other_specialist.user)
    response = client.post(reverse("opinions:review", args=[case.pk]), {"action": "message", "reply-body": "Hi"})
    assert response.status_code == 404
    assert not Message.objects.filter(case=case).exists()


def test_a_reply_to_a_case_that_ended_meanwhile_says_why(s_client, case_at, coordinator):
    """A reply sent from a review tab opened before the coordinator cancelled the case: refused, and the reason is
    at the top of the page (the reply box is gone), not hidden in a form that is no longer shown."""
    from konsil.cases.services import transition

    case = case_at("in_review")
    transition(actor=coordinator, case=case, action="cancel", reason="Duplicate of another case")
    response = s_client.post(reverse("opinions:review", args=[case.pk]), {"action": "message", "reply-body": "Hi"})
    assert response.status_code == 409
    page = response.content.decode()
    assert 'class="alert alert-error"' in page and "This case has ended: its messages are closed." in page
    assert 'name="reply-body"' not in page
    assert not Message.objects.filter(case=case).exists()
