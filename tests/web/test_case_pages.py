"""Case pages: my cases, the intake wizard, the case page, documents, messages and lifecycle actions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from konsil.accounts.roles import OrganizationKind, Role
from konsil.cases import services
from konsil.cases.models import Attachment, CaregiverAuthorization, Case, Consent, Patient
from konsil.core import files
from konsil.triage.services import latest_proposal

from ..factories import OrganizationFactory, make_draft, make_patient, make_specialist, make_user
from .conftest import events, url

PATIENT_STEP = {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17", "sex": "female",
                "country": "US", "state": "CA", "language": "es", "email": "ana@example.test", "phone": ""}
CLINICAL_STEP = {"diagnoses": ["I25.10", ""], "proposed_treatment": "Coronary stent", "proposed_cpt": "92928",
                 "treating_physician": "Dr. Roe", "treating_physician_email": "roe@example.test",
                 "treating_facility": "Mercy", "clinical_summary": "Chest pain on exertion."}
CONSENT = {"scope": ["obtain_records", "share_with_reviewers", "share_report"], "signer_name": "Ana García",
           "signer_relationship": "self"}


def errors_text(response) -> str:
    return response.content.decode()


# --- my cases -----------------------------------------------------------------------------------------------

def test_mine_lists_own_cases_with_continue_link_and_audits(client, patient_user, draft_case, other_case):
    draft_case.wizard_step = 4
    draft_case.save()
    client.force_login(patient_user)
    response = client.get(url("cases:mine"))
    assert response.status_code == 200
    body = response.content.decode()
    assert draft_case.reference in body
    assert other_case.reference not in body
    assert url("cases:intake", pk=draft_case.pk, step=4) in body
    assert events("case.list", object_id=str(draft_case.pk), actor=patient_user).exists()


def test_mine_includes_cases_of_patients_i_care_for_while_authorized(client, network, draft_case):
    caregiver = make_user(Role.CAREGIVER, network)
    authorization = CaregiverAuthorization.objects.create(
        caregiver=caregiver, patient=draft_case.patient, relationship="daughter", signed_by="Ana García",
        signed_at=timezone.now())
    client.force_login(caregiver)
    assert draft_case.reference in client.get(url("cases:mine")).content.decode()
    assert client.get(url("cases:detail", pk=draft_case.pk)).status_code == 200
    authorization.revoked_at = timezone.now()
    authorization.save()
    assert draft_case.reference not in client.get(url("cases:mine")).content.decode()
    assert client.get(url("cases:detail", pk=draft_case.pk)).status_code == 404


def test_mine_paginates(client, patient_user, network):
    for _ in range(26):
        make_draft(network, patient_user)
    client.force_login(patient_user)
    first = client.get(url("cases:mine")).content.decode()
    assert 'href="?page=2"' in first and "Page 1 of 2" in first
    second = client.get(url("cases:mine"), {"page": "2"}).content.decode()
    assert second.count("/intake/1/") == 1
    assert client.get(url("cases:mine"), {"page": "zzz"}).status_code == 200


def test_pages_require_sign_in(client, draft_case):
    for name, kwargs in [("cases:mine", {}), ("cases:new", {}), ("cases:detail", {"pk": draft_case.pk})]:
        response = client.get(url(name, **kwargs))
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


# --- intake wizard ------------------------------------------------------------------------------------------

def test_wizard_happy_path_creates_and_submits_a_case(client, patient_user, network, coordinator,
                                                      django_capture_on_commit_callbacks):
    client.force_login(patient_user)
    assert client.get(url("cases:new")).status_code == 200
    response = client.post(url("cases:new"), PATIENT_STEP)
    case = Case.objects.get(requester=patient_user)
    assert response.status_code == 302 and response["Location"] == url("cases:intake", pk=case.pk, step=2)
    assert case.network == network and case.channel == "patient" and case.wizard_step == 2
    assert case.patient.user == patient_user and case.patient.language == "es"

    response = client.post(url("cases:intake", pk=case.pk, step=2),
                           {"questions": ["Do I need a stent?", "", "Are there alternatives?"]})
    assert response["Location"] == url("cases:intake", pk=case.pk, step=3)
    questions = list(case.questions.values_list("text", flat=True))
    assert questions == ["Do I need a stent?", "Are there alternatives?"]

    client.post(url("cases:intake", pk=case.pk, step=3), CLINICAL_STEP)
    client.post(url("cases:intake", pk=case.pk, step=4), {"urgency": "urgent", "preferred_delivery": "video"})
    upload = SimpleUploadedFile("echo.pdf", b"%PDF-1.4 echo report", content_type="application/pdf")
    response = client.post(url("cases:intake", pk=case.pk, step=5), {"upload": "1", "file": upload})
    assert response["Location"] == url("cases:intake", pk=case.pk, step=5)
    assert "echo.pdf" in client.get(url("cases:intake", pk=case.pk, step=5)).content.decode()
    client.post(url("cases:intake", pk=case.pk, step=5), {})
    case.refresh_from_db()
    assert case.wizard_step == 6
    assert case.urgency == "urgent" and case.preferred_delivery == "video" and case.proposed_cpt == "92928"
    assert list(case.diagnoses.values_list("code", flat=True)) == ["I25.10"]

    review = client.get(url("cases:intake", pk=case.pk, step=6)).content.decode()
    assert "Atherosclerotic heart disease" in review

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("cases:intake", pk=case.pk, step=6), CONSENT)
    assert response["Location"] == url("cases:detail", pk=case.pk)
    case.refresh_from_db()
    assert case.status == "submitted"
    assert case.consent.signer_name == "Ana García"
    assert case.triage_proposals.exists()


def test_new_case_prefills_the_patients_record(client, patient_user, network):
    make_patient(network, patient_user, given_name="Prefilled", family_name="Person")
    client.force_login(patient_user)
    body = client.get(url("cases:new")).content.decode()
    assert 'value="Prefilled"' in body and 'value="Person"' in body


@pytest.mark.parametrize("change, field_message", [
    ({"given_name": ""}, "This field is required."),
    ({"birth_date": "1990-13-45"}, "Enter a date as YYYY-MM-DD."),
    ({"birth_date": (dt.date.today() + dt.timedelta(days=3)).isoformat()}, "Enter a real birth date."),
    ({"state": ""}, "Choose the US state where the patient lives."),
    ({"sex": "dragon"}, "Select a valid choice."),
])
def test_wizard_step1_bad_input_saves_nothing(client, patient_user, network, change, field_message):
    client.force_login(patient_user)
    response = client.post(url("cases:new"), {**PATIENT_STEP, **change})
    assert response.status_code == 200
    assert field_message in response.content.decode()
    assert 'class="field-error"' in response.content.decode()
    assert not Case.objects.exists() and not Patient.objects.exists()


def test_wizard_questions_required_and_add_row(client, patient_user, draft_case):
    client.force_login(patient_user)
    step2 = url("cases:intake", pk=draft_case.pk, step=2)
    response = client.post(step2, {"questions": ["", "  "]})
    assert response.status_code == 200
    assert "Ask at least one question for the specialist." in response.content.decode()
    assert draft_case.questions.count() == 1
    response = client.post(step2, {"questions": ["Kept while adding"], "add_row": "1"})
    assert response.status_code == 200
    assert response.content.decode().count('name="questions"') == 2
    assert list(draft_case.questions.values_list("text", flat=True)) == ["Do I need a stent?"]


def test_wizard_unknown_icd_code_is_refused_and_nothing_saved(client, patient_user, draft_case):
    client.force_login(patient_user)
    response = client.post(url("cases:intake", pk=draft_case.pk, step=3),
                           {**CLINICAL_STEP, "diagnoses": ["I25.10", "XYZ.9"],
                            "proposed_treatment": "Changed"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Unknown ICD-10-CM code(s): XYZ.9." in body
    assert 'value="XYZ.9"' in body
    draft_case.refresh_from_db()
    assert draft_case.proposed_treatment == "Coronary stent"
    assert list(draft_case.diagnoses.values_list("code", flat=True)) == ["I25.10"]


def test_wizard_bad_cpt_and_email_are_field_errors(client, patient_user, draft_case):
    client.force_login(patient_user)
    step3 = url("cases:intake", pk=draft_case.pk, step=3)
    response = client.post(step3, {**CLINICAL_STEP, "proposed_cpt": "12"})
    assert response.status_code == 200
    assert "A CPT code has five characters, like 27447." in response.content.decode()
    response = client.post(step3, {**CLINICAL_STEP, "treating_physician_email": "nope"})
    assert response.status_code == 200 and "Enter a valid email address." in response.content.decode()
    draft_case.refresh_from_db()
    assert draft_case.proposed_cpt == "" and draft_case.treating_physician_email == ""


def test_wizard_without_consent_is_not_submitted(client, patient_user, network):
    case = make_draft(network, patient_user, consent=False)
    client.force_login(patient_user)
    page = client.get(url("cases:intake", pk=case.pk, step=6)).content.decode()
    for label in ("I authorize Konsil to", "Type your full name to sign"):  # required: never marked "(optional)"
        shown = page[page.index(label):][:200]
        assert 'class="required"' in shown and "optional" not in shown, shown
    response = client.post(url("cases:intake", pk=case.pk, step=6),
                           {"scope": [], "signer_name": "", "signer_relationship": "self"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Choose what you authorize." in body and "Type your full name to sign." in body
    response = client.post(url("cases:intake", pk=case.pk, step=6),
                           {"scope": ["obtain_records"], "signer_name": "Ana", "signer_relationship": "self"})
    assert "this part of the authorization is required" in response.content.decode()
    case.refresh_from_db()
    assert case.status == "draft" and not Consent.objects.filter(case=case).exists()


def test_wizard_submit_failure_rolls_back_the_signature(client, patient_user, network):
    case = make_draft(network, patient_user, consent=False, questions=())
    client.force_login(patient_user)
    response = client.post(url("cases:intake", pk=case.pk, step=6), CONSENT)
    assert response.status_code == 200
    assert "Ask at least one question for the specialist." in response.content.decode()
    case.refresh_from_db()
    assert case.status == "draft" and not Consent.objects.filter(case=case).exists()


def _referred_draft(network, clinician):
    """A complete unsigned draft that `clinician` started for a patient without an account."""
    case = make_draft(network, clinician, consent=False)
    Patient.objects.filter(pk=case.patient_id).update(user=None)
    return Case.objects.get(pk=case.pk)


def test_the_consent_step_offers_each_signer_only_their_relationships(client, login, network, patient_user):
    clinician = make_user(Role.REFERRING_CLINICIAN, network)
    login(client, clinician)
    page = client.get(url("cases:intake", pk=_referred_draft(network, clinician).pk, step=6)).content.decode()
    assert 'value="treating_clinician" selected' in page and "Treating clinician, referring for treatment" in page
    assert 'value="self"' not in page and ">I am the patient<" not in page
    assert "I refer the patient to Konsil for a second opinion as part of their treatment" in page
    assert "With the patient&#x27;s agreement, I ask Konsil to" in page
    client.force_login(patient_user)
    page = client.get(url("cases:intake", pk=make_draft(network, patient_user, consent=False).pk,
                          step=6)).content.decode()
    assert 'value="self" selected>I am the patient<' in page
    assert "treating_clinician" not in page and 'value="parent"' not in page
    assert "Your treatment does not depend on signing it." in page and "I authorize Konsil to" in page


def test_a_caregiver_chooses_a_relationship_and_is_never_the_patient(client, network, draft_case):
    Consent.objects.filter(case=draft_case).delete()
    caregiver = make_user(Role.CAREGIVER, network)
    CaregiverAuthorization.objects.create(caregiver=caregiver, patient=draft_case.patient, relationship="son",
                                          signed_by="Ana García", signed_at=timezone.now())
    client.force_login(caregiver)
    page = client.get(url("cases:intake", pk=draft_case.pk, step=6)).content.decode()
    assert 'value="self"' not in page and 'value="guardian"' in page and "treating_clinician" not in page
    assert "The patient's treatment does not depend on signing it." in page
    response = client.post(url("cases:intake", pk=draft_case.pk, step=6),
                           {**CONSENT, "signer_name": "Carl", "signer_relationship": ""})
    assert "Choose your relationship to the patient." in response.content.decode()
    assert not Consent.objects.filter(case=draft_case).exists()


def test_a_referring_clinician_signs_for_treatment_not_as_the_patient(client, login, network):
    clinician = make_user(Role.REFERRING_CLINICIAN, network)
    case = _referred_draft(network, clinician)
    login(client, clinician)
    response = client.post(url("cases:intake", pk=case.pk, step=6), {**CONSENT, "signer_name": "Dr. Roe"})
    assert response.status_code == 200 and 'has-error" id="id_signer_relationship_field"' in response.content.decode()
    case.refresh_from_db()
    assert case.status == "draft" and not Consent.objects.filter(case=case).exists()
    response = client.post(url("cases:intake", pk=case.pk, step=6),
                           {**CONSENT, "signer_name": "Dr. Roe", "signer_relationship": "treating_clinician"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == "submitted" and case.consent.signer_relationship == "treating_clinician"
    follow = client.get(response["Location"]).content.decode()
    assert "The case was submitted." in follow and "Your case was submitted." not in follow
    # The case page shows the authorization in the signer's words, with what they signed as.
    assert "(Treating clinician, referring for treatment with the patient&#x27;s agreement)" in follow
    assert "Share the patient&#x27;s records with the reviewing specialists" in follow
    assert "Share my records" not in follow
    # The referral's words are the clinician's (channel "clinician"), not the patient's.
    Case.objects.filter(pk=case.pk).update(diagnosis_text="Spiculated RUL nodule, 2 cm", channel="clinician")
    page = client.get(url("cases:detail", pk=case.pk)).content.decode()
    assert "In the referring clinician's words:" in page and "In the patient's words:" not in page


@pytest.mark.parametrize(("channel", "words"), [("clinician", "from the referral's words"),
                                               ("patient", "from the patient's words")])
def test_suggested_codes_say_whose_words_they_were_read_in(client, patient_user, draft_case, channel, words):
    from konsil.cases.models import CodeSuggestion

    Case.objects.filter(pk=draft_case.pk).update(channel=channel)
    CodeSuggestion.objects.create(case=draft_case, code="I10", source="text", matched="hypertension")
    client.force_login(patient_user)
    page = client.get(url("cases:detail", pk=draft_case.pk)).content.decode()
    assert f"{words}: “hypertension”" in page
    other = "from the patient's words" if channel == "clinician" else "from the referral's words"
    assert other not in page


def test_wizard_is_closed_to_others_and_after_submission(client, patient_user, other_patient, draft_case,
                                                         walker):
    client.force_login(other_patient)
    assert client.get(url("cases:intake", pk=draft_case.pk, step=1)).status_code == 404
    client.force_login(patient_user)
    assert client.get(url("cases:intake", pk=draft_case.pk, step=9)).status_code == 404
    walker.walk_to(draft_case, "submitted")
    response = client.get(url("cases:intake", pk=draft_case.pk, step=2))
    assert response.status_code == 302 and response["Location"] == url("cases:detail", pk=draft_case.pk)


def test_specialist_cannot_start_a_case(client, login, specialist):
    login(client, specialist.user)
    assert client.get(url("cases:new")).status_code == 403


def test_referring_clinician_uses_the_same_wizard(client, login, network):
    hospital = OrganizationFactory(name="Mercy Hospital", kind=OrganizationKind.HOSPITAL)
    clinician = make_user(Role.REFERRING_CLINICIAN, hospital)
    login(client, clinician)
    response = client.post(url("cases:new"), PATIENT_STEP)
    case = Case.objects.get(requester=clinician)
    assert response["Location"] == url("cases:intake", pk=case.pk, step=2)
    assert case.channel == "clinician" and case.sponsor == hospital and case.network == network
    assert case.patient.user is None


# --- the case page ------------------------------------------------------------------------------------------

def test_case_page_shows_the_case_and_audits_the_read(client, patient_user, walker, draft_case):
    case = walker.walk_to(draft_case, "triaged")
    client.force_login(patient_user)
    response = client.get(url("cases:detail", pk=case.pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert case.reference in body and "Do I need a stent?" in body
    assert "Atherosclerotic heart disease" in body  # the code's name
    assert 'class="pill status-triaged"' in body
    assert 'class="timeline"' in body and "status-submitted" in body
    assert "Triage proposal" not in body  # coordinator only
    assert events("case.read", object_id=str(case.pk), actor=patient_user, outcome="success").exists()


def test_case_page_is_404_for_foreign_users(client, login, draft_case, walker, other_patient, payer,
                                            payer_admin, other_coordinator, network, patient_user):
    draft_case.sponsor = payer
    draft_case.save()
    case = walker.walk_to(draft_case, "submitted")
    stranger_specialist = make_specialist(network)
    attachment = services.add_attachment(actor=patient_user, case=case,
                                         upload=SimpleUploadedFile("a.txt", b"records"))
    for user, mfa in [(other_patient, False), (payer_admin, True), (other_coordinator, True),
                      (stranger_specialist.user, True)]:
        (login(client, user) if mfa else client.force_login(user))
        assert client.get(url("cases:detail", pk=case.pk)).status_code == 404, user
        assert client.get(url("cases:attachment", pk=case.pk, att=attachment.pk)).status_code == 404
        assert client.post(url("cases:message", pk=case.pk), {"body": "hi"}).status_code == 404
        assert client.post(url("cases:transition", pk=case.pk, action="cancel"),
                           {"reason": "x"}).status_code == 404
    assert events("case.read", object_id=str(case.pk), outcome="denied").count() == 16
    case.refresh_from_db()
    assert case.status == "submitted" and not case.messages.exists()


def test_coordinator_sees_triage_proposal_and_ranked_specialists(client, login, coordinator, specialist,
                                                                walker, draft_case,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = walker.walk_to(draft_case, "submitted")
    login(client, coordinator)
    body = client.get(url("cases:detail", pk=case.pk)).content.decode()
    assert "Triage proposal" in body and "konsil-triage" in body and "Cardiology" in body
    assert f'action="{url("cases:transition", pk=case.pk, action="triage")}"' in body
    proposal = latest_proposal(case)
    assert f'<option value="{proposal.specialty_id}" selected>' in body  # prefilled from the proposal
    case = walker.walk_to(case, "triaged")
    body = client.get(url("cases:detail", pk=case.pk)).content.decode()
    assert f'value="{specialist.pk}"' in body and "speaks the patient&#x27;s language" in body


def test_offer_directory_filters(client, login, coordinator, specialist, walker, draft_case, network):
    case = walker.walk_to(draft_case, "triaged")
    texan = make_specialist(network, states=("TX",), languages=("ja",), last_name="Tanaka")
    login(client, coordinator)
    detail = url("cases:detail", pk=case.pk)
    body = client.get(detail, {"spec": "cardiology", "state": "TX"}).content.decode()
    assert f'value="{texan.pk}"' in body and f'value="{specialist.pk}"' not in body
    body = client.get(detail, {"lang": "es"}).content.decode()
    assert f'value="{specialist.pk}"' in body and f'value="{texan.pk}"' not in body
    assert client.get(detail, {"state": "ZZ"}).status_code == 200  # a bad filter is ignored, not a 500
    assert 'id="directory-filter-h">Find a specialist in the directory<' in body  # set apart from "Specialty"
    assert "Specialty they practise" in body


def test_case_page_links_to_the_review_screen_and_the_report(client, login, patient_user, specialist, walker,
                                                             draft_case):
    case = walker.walk_to(draft_case, "in_review")
    login(client, specialist.user)
    body = client.get(url("cases:detail", pk=case.pk)).content.decode()
    assert url("opinions:review", pk=case.pk) in body
    assert 'id="action-complete_draft"' not in body  # signing lives on the review screen
    client.force_login(patient_user)
    body = client.get(url("cases:detail", pk=case.pk)).content.decode()
    assert url("opinions:report", pk=case.pk) not in body
    case = walker.walk_to(case, "delivered")
    body = client.get(url("cases:detail", pk=case.pk)).content.decode()
    assert url("opinions:report", pk=case.pk) in body and url("opinions:review", pk=case.pk) not in body


# --- lifecycle actions through the forms --------------------------------------------------------------------

def test_transitions_through_the_web_forms(client, login, patient_user, coordinator, specialist, draft_case):
    client.force_login(patient_user)
    response = client.post(url("cases:transition", pk=draft_case.pk, action="submit"))
    assert response.status_code == 302
    draft_case.refresh_from_db()
    assert draft_case.status == "submitted"

    login(client, coordinator)
    response = client.post(url("cases:transition", pk=draft_case.pk, action="triage"),
                           {"specialty": "cardiology", "urgency": "stat", "reason": "Chest pain"})
    assert response.status_code == 302
    draft_case.refresh_from_db()
    assert draft_case.status == "triaged" and draft_case.urgency == "stat"
    assert draft_case.specialty_id == "cardiology"

    response = client.post(url("cases:transition", pk=draft_case.pk, action="offer"),
                           {"specialist": str(specialist.pk), "reason": ""})
    assert response.status_code == 302
    draft_case.refresh_from_db()
    assert draft_case.status == "offered"

    login(client, specialist.user)
    assert client.post(url("cases:transition", pk=draft_case.pk, action="accept")).status_code == 302
    client.post(url("cases:transition", pk=draft_case.pk, action="start_review"))
    response = client.post(url("cases:transition", pk=draft_case.pk, action="request_info"),
                           {"message": "Please upload the echo."})
    draft_case.refresh_from_db()
    assert draft_case.status == "info_requested"

    client.force_login(patient_user)
    body = client.get(url("cases:detail", pk=draft_case.pk)).content.decode()
    assert "Please upload the echo." in body
    client.post(url("cases:transition", pk=draft_case.pk, action="provide_info"), {"message": "Uploaded it."})
    draft_case.refresh_from_db()
    assert draft_case.status == "in_review"


def test_illegal_and_unknown_actions_show_a_message(client, login, patient_user, coordinator, draft_case):
    client.force_login(patient_user)
    response = client.post(url("cases:transition", pk=draft_case.pk, action="triage"),
                           {"specialty": "cardiology"})
    assert response.status_code == 200
    assert 'id="action-error"' in response.content.decode()
    response = client.post(url("cases:transition", pk=draft_case.pk, action="fly"))
    assert response.status_code == 200 and "Unknown action." in response.content.decode()
    response = client.post(url("cases:transition", pk=draft_case.pk, action="close"))
    assert response.status_code == 200 and "cannot be moved" in response.content.decode()
    draft_case.refresh_from_db()
    assert draft_case.status == "draft"
    assert client.get(url("cases:transition", pk=draft_case.pk, action="submit")).status_code == 405


def test_action_params_are_validated_next_to_the_field(client, login, coordinator, specialist, walker,
                                                       draft_case, network):
    case = walker.walk_to(draft_case, "submitted")
    login(client, coordinator)
    response = client.post(url("cases:transition", pk=case.pk, action="triage"), {"specialty": ""})
    assert response.status_code == 200 and "Choose a specialty." in response.content.decode()
    case = walker.walk_to(case, "triaged")
    unlicensed = make_specialist(network, states=("NY",))
    offer = url("cases:transition", pk=case.pk, action="offer")
    response = client.post(offer, {"specialist": str(unlicensed.pk)})
    body = response.content.decode()
    assert response.status_code == 200 and "holds no valid license for CA" in body
    response = client.post(url("cases:transition", pk=case.pk, action="offer"), {"specialist": "not-a-uuid"})
    assert response.status_code == 200 and "Unknown specialist." in response.content.decode()
    response = client.post(url("cases:transition", pk=case.pk, action="cancel"), {"reason": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    case.refresh_from_db()
    assert case.status == "triaged"


def test_declining_specialist_is_sent_home(client, login, specialist, walker, draft_case):
    case = walker.walk_to(draft_case, "offered")
    login(client, specialist.user)
    response = client.post(url("cases:transition", pk=case.pk, action="decline"), {"reason": "On leave"})
    assert response.status_code == 302 and response["Location"] == url("home")
    case.refresh_from_db()
    assert case.status == "triaged"


def test_foreign_user_cannot_post_actions(client, other_patient, draft_case):
    client.force_login(other_patient)
    assert client.post(url("cases:transition", pk=draft_case.pk, action="submit")).status_code == 404
    draft_case.refresh_from_db()
    assert draft_case.status == "draft"


# --- messages -----------------------------------------------------------------------------------------------

def test_message_thread(client, patient_user, coordinator, login, walker, draft_case):
    case = walker.walk_to(draft_case, "submitted")
    client.force_login(patient_user)
    response = client.post(url("cases:message", pk=case.pk), {"body": "Is my MRI enough?"})
    assert response.status_code == 302
    assert case.messages.get().body == "Is my MRI enough?"
    response = client.post(url("cases:message", pk=case.pk), {"body": "   "})
    assert response.status_code == 200 and "Write a message." in response.content.decode()
    login(client, coordinator)
    assert "Is my MRI enough?" in client.get(url("cases:detail", pk=case.pk)).content.decode()
    assert coordinator.notifications.filter(kind="message").exists()


def test_message_refused_on_a_draft(client, patient_user, draft_case):
    client.force_login(patient_user)
    response = client.post(url("cases:message", pk=draft_case.pk), {"body": "Hello"})
    assert response.status_code == 200
    assert "Messages open once the case is submitted." in response.content.decode()
    assert not draft_case.messages.exists()


# --- documents ----------------------------------------------------------------------------------------------

def test_attachment_round_trip_is_encrypted_and_audited(client, patient_user, coordinator, login, draft_case):
    plaintext = b"%PDF-1.4 confidential echo report for Ana Garcia"
    client.force_login(patient_user)
    upload = SimpleUploadedFile('echo "final"\r\n.pdf', plaintext, content_type="application/pdf")
    response = client.post(url("cases:upload", pk=draft_case.pk), {"file": upload, "description": "Echo"})
    assert response.status_code == 302
    attachment = Attachment.objects.get(case=draft_case)
    assert plaintext not in files.raw(attachment.storage_name)
    assert b"Ana Garcia" not in files.raw(attachment.storage_name)

    response = client.get(url("cases:attachment", pk=draft_case.pk, att=attachment.pk))
    assert response.status_code == 200
    assert response.streaming and b"".join(response.streaming_content) == plaintext  # streamed, not read whole
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and "\r" not in disposition and "\n" not in disposition
    assert response["Content-Type"] == "application/pdf"
    assert events("attachment.download", object_id=str(attachment.pk), actor=patient_user).exists()

    login(client, coordinator)
    assert b"".join(client.get(url("cases:attachment", pk=draft_case.pk, att=attachment.pk)).streaming_content) \
        == plaintext


def test_attachment_is_404_for_others_and_for_mismatched_case(client, other_patient, patient_user, draft_case,
                                                              other_case):
    client.force_login(patient_user)
    upload = SimpleUploadedFile("lab.txt", b"lab values", content_type="text/plain")
    client.post(url("cases:upload", pk=draft_case.pk), {"file": upload})
    attachment = Attachment.objects.get(case=draft_case)
    client.force_login(other_patient)
    assert client.get(url("cases:attachment", pk=draft_case.pk, att=attachment.pk)).status_code == 404
    # The other patient's own case with this attachment's id: still not theirs.
    assert client.get(url("cases:attachment", pk=other_case.pk, att=attachment.pk)).status_code == 404
    assert not events("attachment.download").exists()


def test_a_file_chosen_but_not_uploaded_goes_with_save_and_continue(client, patient_user, draft_case):
    """The documents step is one form: "Save and continue" with a file chosen stores it, then moves on; a file
    refused keeps the patient on the step with the reason, and the step is not marked done."""
    client.force_login(patient_user)
    step5 = url("cases:intake", pk=draft_case.pk, step=5)
    page = client.get(step5).content.decode()
    form = page[page.index('<form method="post" enctype="multipart/form-data"'):]
    form = form[:form.index("</form>")]
    assert 'name="file"' in form and 'name="upload"' in form and "Save and continue" in form
    label = form[form.index('<label for="id_file"'):].split("</label>")[0]
    assert 'class="required"' not in label  # the step may be passed without a document
    response = client.post(step5, {"upload": "1", "description": "nothing chosen"})
    assert response.status_code == 200 and "Choose a file." in response.content.decode()
    empty = SimpleUploadedFile("empty.pdf", b"", content_type="application/pdf")
    response = client.post(step5, {"file": empty})
    assert response.status_code == 200 and "The submitted file is empty." in response.content.decode()
    draft_case.refresh_from_db()
    assert draft_case.wizard_step < 6 and not Attachment.objects.exists()
    letter = SimpleUploadedFile("letter.pdf", b"%PDF-1.4 referral letter", content_type="application/pdf")
    response = client.post(step5, {"file": letter, "description": "Referral"})
    assert response.status_code == 302 and response["Location"] == url("cases:intake", pk=draft_case.pk, step=6)
    draft_case.refresh_from_db()
    attachment = Attachment.objects.get(case=draft_case)
    assert draft_case.wizard_step == 6 and attachment.description == "Referral"
    assert "letter.pdf" in client.get(url("cases:intake", pk=draft_case.pk, step=6)).content.decode()


def test_upload_without_file_or_empty_file_is_a_field_error(client, patient_user, draft_case):
    client.force_login(patient_user)
    response = client.post(url("cases:upload", pk=draft_case.pk), {"description": "nothing"})
    assert response.status_code == 200 and "Choose a file." in response.content.decode()
    empty = SimpleUploadedFile("empty.pdf", b"", content_type="application/pdf")
    response = client.post(url("cases:intake", pk=draft_case.pk, step=5), {"upload": "1", "file": empty})
    assert response.status_code == 200
    assert "The submitted file is empty." in response.content.decode()
    assert not Attachment.objects.exists()
