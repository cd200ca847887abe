"""Intake writes: create/update a case, consent, attachments, messages. Validation and atomicity."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases import services
from konsil.cases.models import (
    Attachment,
    Case,
    CaseDiagnosis,
    CaseQuestion,
    Consent,
    Message,
    Notification,
    Patient,
)
from konsil.cases.services import transition
from konsil.core import context, files
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed

from ..factories import make_user

PATIENT = {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17", "sex": "female",
           "state": "ca", "country": "us", "language": "es", "email": "ana@example.test"}


def case_data(**overrides) -> dict:
    data = {"patient": dict(PATIENT), "questions": ["Do I need surgery?", "  ", "What else could it be?"],
            "diagnoses": ["c50911", "C50.911", "I25.10"], "proposed_treatment": "Mastectomy",
            "proposed_cpt": "19303", "urgency": "urgent", "preferred_delivery": "video",
            "treating_physician": "Dr. Who", "treating_physician_email": "who@example.test"}
    data.update(overrides)
    return data


def _counts():
    return (Patient.objects.count(), Case.objects.count(), CaseQuestion.objects.count(),
            CaseDiagnosis.objects.count(), AuditEvent.objects.count())


# --- create_case ------------------------------------------------------------------------------------------

def test_create_case(network, patient_user):
    case = services.create_case(actor=patient_user, network=network, data=case_data())
    assert (case.status, case.channel) == ("draft", "patient")
    assert (case.requester, case.network) == (patient_user, network)
    assert case.patient.user == patient_user
    assert (case.patient.state, case.patient.country, case.patient.language) == ("CA", "US", "es")
    assert case.patient.birth_date == dt.date(1970, 5, 17)
    questions = list(case.questions.values_list("text", flat=True))
    assert questions == ["Do I need surgery?", "What else could it be?"]
    assert list(case.diagnoses.values_list("code", flat=True)) == ["C50.911", "I25.10"]
    assert (case.proposed_cpt, case.urgency, case.preferred_delivery) == ("19303", "urgent", "video")
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["patient.create", "case.create"]
    assert AuditEvent.objects.get(action="case.create").patient_id == case.patient_id


def test_create_case_reuses_the_patients_own_record(network, patient_user, draft_case):
    case = services.create_case(actor=patient_user, network=network,
                                data=case_data(patient={**PATIENT, "given_name": "Anita"}))
    assert case.patient == draft_case.patient
    assert Patient.objects.count() == 1
    # The other case keeps its identity; the new details are the next version (cases.identity, #10 finding 2).
    draft_case.refresh_from_db()
    assert draft_case.identity.given_name != "Anita" and draft_case.patient.given_name != "Anita"
    assert (case.identity.given_name, case.identity.version) == ("Anita", draft_case.identity.version + 1)


def test_referring_clinician_creates_a_case_for_an_unlinked_patient(network):
    clinician = make_user(Role.REFERRING_CLINICIAN, network)
    case = services.create_case(actor=clinician, network=network, data=case_data())
    assert case.channel == "clinician" and case.patient.user is None and case.requester == clinician


@pytest.mark.parametrize(("codes", "bad"), [(["C50.911", "XYZ.1"], "XYZ.1"), (["C50-C50"], "C50-C50"),
                                            ("I25.10; 2", "2"), (["C50."], "C50.")])
def test_bad_icd_code_saves_nothing(codes, bad, network, patient_user):
    before = _counts()
    with pytest.raises(ValidationFailed) as exc:
        services.create_case(actor=patient_user, network=network, data=case_data(diagnoses=codes))
    assert list(exc.value.errors) == ["diagnoses"]
    assert bad in exc.value.errors["diagnoses"][0]
    assert _counts() == before


@pytest.mark.parametrize(("field", "value", "key"), [
    ("given_name", "", "patient.given_name"),
    ("family_name", "x" * 101, "patient.family_name"),
    ("birth_date", "17/05/1970", "patient.birth_date"),
    ("birth_date", "2999-01-01", "patient.birth_date"),
    ("birth_date", "1850-01-01", "patient.birth_date"),
    ("sex", "robot", "patient.sex"),
    ("sex", ["female"], "patient.sex"),
    ("state", "", "patient.state"),
    ("state", "ZZ", "patient.state"),
    ("country", "USA", "patient.country"),
    ("language", "klingon", "patient.language"),
    ("language", ["en"], "patient.language"),
    ("email", "not-an-email", "patient.email"),
])
def test_patient_field_errors_are_keyed_by_field(field, value, key, network, patient_user):
    before = _counts()
    with pytest.raises(ValidationFailed) as exc:
        services.create_case(actor=patient_user, network=network,
                             data=case_data(patient={**PATIENT, field: value}))
    assert list(exc.value.errors) == [key]
    assert exc.value.as_dict()["errors"][key]
    assert _counts() == before


def test_all_errors_are_reported_at_once(network, patient_user):
    with pytest.raises(ValidationFailed) as exc:
        services.create_case(actor=patient_user, network=network, data=case_data(
            patient={**PATIENT, "sex": "", "given_name": ""}, diagnoses=["NOPE"], proposed_cpt="12",
            questions=["q"] * 11))
    assert set(exc.value.errors) == {"patient.sex", "patient.given_name", "diagnoses", "proposed_cpt",
                                     "questions"}


@pytest.mark.parametrize("patient", ["Ana", ["Ana"], 7])
def test_patient_must_be_an_object(patient, network, patient_user):
    with pytest.raises(ValidationFailed) as exc:
        services.create_case(actor=patient_user, network=network, data=case_data(patient=patient))
    assert "patient" in exc.value.errors


def test_patient_outside_the_us_needs_no_state(network, patient_user):
    case = services.create_case(actor=patient_user, network=network,
                                data=case_data(patient={**PATIENT, "country": "MX", "state": "CA"}))
    assert (case.patient.country, case.patient.state) == ("MX", "")


@pytest.mark.parametrize(("cpt", "ok"), [("27447", True), ("0001F", True), ("0042T", True), ("", True),
                                         ("2744", False), ("ABCDE", False), ("274470", False),
                                         ("2744X", False)])
def test_cpt_validation(cpt, ok, network, patient_user):
    data = case_data(proposed_cpt=cpt)
    if ok:
        assert services.create_case(actor=patient_user, network=network, data=data).proposed_cpt == cpt
    else:
        with pytest.raises(ValidationFailed) as exc:
            services.create_case(actor=patient_user, network=network, data=data)
        assert list(exc.value.errors) == ["proposed_cpt"]
        assert not Case.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("urgency", "whenever"), ("preferred_delivery", "pigeon"),
                                              ("treating_physician_email", "nope"),
                                              ("treating_facility", "x" * 201),
                                              ("proposed_treatment", "x" * 5001)])
def test_case_field_errors(field, value, network, patient_user):
    with pytest.raises(ValidationFailed) as exc:
        services.create_case(actor=patient_user, network=network, data=case_data(**{field: value}))
    assert list(exc.value.errors) == [field]
    assert not Case.objects.exists()


def test_channel_checks(network, patient_user):
    with pytest.raises(ValidationFailed) as exc:
        services.create_case(actor=patient_user, network=network, data=case_data(channel="carrier-pigeon"))
    assert exc.value.field == "channel"
    with pytest.raises(ValidationFailed):
        services.create_case(actor=patient_user, network=network, data=case_data(channel=["patient"]))
    with pytest.raises(PermissionDenied):
        services.create_case(actor=patient_user, network=network, data=case_data(channel="clinician"))
    specialist_user = make_user(Role.SPECIALIST, network)
    with pytest.raises(PermissionDenied):
        services.create_case(actor=specialist_user, network=network, data=case_data())
    assert not Case.objects.exists()


@pytest.mark.parametrize("role", [Role.SPECIALIST, Role.PAYER_ADMIN, Role.AUDITOR])
@pytest.mark.parametrize("channel", ["payer", "employer", "patient", None])
def test_only_requesting_roles_create_cases_whatever_the_channel(role, channel, network):
    with pytest.raises(PermissionDenied):
        services.create_case(actor=make_user(role, network), network=network, data=case_data(channel=channel))
    assert not Case.objects.exists()


def test_patient_through_an_employer_program_keeps_their_own_record(network, patient_user):
    case = services.create_case(actor=patient_user, network=network, data=case_data(channel="employer"))
    assert (case.channel, case.patient.user) == ("employer", patient_user)


def test_questions_validation():
    assert services.validate_questions("One?\n\nTwo?") == ["One?", "Two?"]
    for bad in (["q"] * 11, ["x" * 2001], {"q": 1}, 5):
        with pytest.raises(ValidationFailed) as exc:
            services.validate_questions(bad)
        assert exc.value.field == "questions"


def test_codes_validation():
    assert services.validate_codes("i25.10, I2510;C50.911\n") == ["I25.10", "C50.911"]
    assert services.validate_codes([]) == []
    with pytest.raises(ValidationFailed):
        services.validate_codes({"code": "I25.10"})


# --- update_case ------------------------------------------------------------------------------------------

def test_update_case_saves_and_resumes(draft_case, patient_user):
    case = services.update_case(actor=patient_user, case=draft_case, data={
        "questions": ["New question?"], "diagnoses": ["M54.16"], "wizard_step": "99",
        "clinical_summary": "Back pain for a year.", "patient": {**PATIENT, "given_name": "Ana María"}})
    case.refresh_from_db()
    assert list(case.questions.values_list("text", flat=True)) == ["New question?"]
    assert list(case.diagnoses.values_list("code", flat=True)) == ["M54.16"]
    assert (case.wizard_step, case.clinical_summary) == (6, "Back pain for a year.")
    assert case.patient.given_name == "Ana María"
    event = AuditEvent.objects.get(action="case.update")
    assert event.detail == {"fields": ["clinical_summary", "diagnoses", "questions", "wizard_step"]}


def test_update_with_a_bad_code_changes_nothing(draft_case, patient_user):
    before = _counts()
    with pytest.raises(ValidationFailed) as exc:
        services.update_case(actor=patient_user, case=draft_case, data={
            "questions": ["Replaced?"], "diagnoses": ["I25.10", "BAD"], "proposed_treatment": "Changed",
            "patient": {**PATIENT, "given_name": "Changed"}})
    assert list(exc.value.errors) == ["diagnoses"]
    assert _counts() == before
    assert draft_case.proposed_treatment == "Coronary stent"  # the caller's object is untouched too
    assert draft_case.patient.given_name == "Ana"
    draft_case.refresh_from_db()
    assert list(draft_case.questions.values_list("text", flat=True)) == ["Do I need a stent?"]
    assert draft_case.patient.given_name == "Ana"


def test_update_patient_errors_are_keyed(draft_case, patient_user):
    with pytest.raises(ValidationFailed) as exc:
        services.update_case(actor=patient_user, case=draft_case,
                             data={"patient": {**PATIENT, "birth_date": "yesterday"}})
    assert list(exc.value.errors) == ["patient.birth_date"]


def test_update_wizard_step_must_be_a_number(draft_case, patient_user):
    with pytest.raises(ValidationFailed) as exc:
        services.update_case(actor=patient_user, case=draft_case, data={"wizard_step": "two"})
    assert list(exc.value.errors) == ["wizard_step"]


def test_editing_after_submit_is_a_conflict(walker, draft_case, patient_user):
    case = walker.walk_to(draft_case, "submitted")
    with pytest.raises(Conflict) as exc:
        services.update_case(actor=patient_user, case=case, data={"proposed_treatment": "x"})
    assert exc.value.code == "not_editable"
    with pytest.raises(Conflict):
        services.sign_consent(actor=patient_user, case=case, scope=["share_with_reviewers"],
                              signer_name="Ana")


def test_only_the_patient_side_or_coordinator_edits(draft_case, specialist, stranger, coordinator):
    for actor in (specialist.user, stranger):
        with pytest.raises(PermissionDenied):
            services.update_case(actor=actor, case=draft_case, data={"proposed_treatment": "x"})
    case = services.update_case(actor=coordinator, case=draft_case,
                                data={"proposed_treatment": "Angioplasty"})
    assert case.proposed_treatment == "Angioplasty"


# --- consent ----------------------------------------------------------------------------------------------

def test_sign_consent(network, patient_user):
    case = services.create_case(actor=patient_user, network=network, data=case_data())
    token = context.set_current(context.RequestContext(ip="203.0.113.9", channel="web"))
    try:
        consent = services.sign_consent(actor=patient_user, case=case, signer_name="  Ana García ",
                                        scope=["share_with_reviewers", "obtain_records", "obtain_records"])
    finally:
        context.reset(token)
    assert consent.scope == ["share_with_reviewers", "obtain_records"]
    assert (consent.signer_name, consent.signer_relationship) == ("Ana García", "self")
    assert consent.ip == "203.0.113.9"
    assert consent.signed_at <= timezone.now()
    event = AuditEvent.objects.get(action="consent.sign")
    assert (event.ip, event.channel, event.patient_id) == ("203.0.113.9", "web", case.patient_id)
    again = services.sign_consent(actor=patient_user, case=case, scope=["share_with_reviewers"],
                                  signer_name="A")
    assert again.pk == consent.pk and again.scope == ["share_with_reviewers"]


@pytest.mark.parametrize(("scope", "signer", "fields"), [
    (["obtain_records"], "Ana", {"scope"}),
    (["share_with_reviewers", "sell_my_data"], "Ana", {"scope"}),
    ([], "Ana", {"scope"}),
    ("share_with_reviewers", "Ana", {"scope"}),
    (None, "", {"scope", "signer_name"}),
    (["share_with_reviewers"], "   ", {"signer_name"}),
])
def test_consent_validation(scope, signer, fields, network, patient_user):
    case = services.create_case(actor=patient_user, network=network, data=case_data())
    with pytest.raises(ValidationFailed) as exc:
        services.sign_consent(actor=patient_user, case=case, scope=scope, signer_name=signer)
    assert set(exc.value.errors) == fields
    assert not hasattr(Case.objects.get(pk=case.pk), "consent")


def test_consent_is_signed_by_the_patient_side_only(draft_case, coordinator, caregiver):
    with pytest.raises(PermissionDenied):
        services.sign_consent(actor=coordinator, case=draft_case, scope=["share_with_reviewers"],
                              signer_name="Cora")
    consent = services.sign_consent(actor=caregiver, case=draft_case, scope=["share_with_reviewers"],
                                    signer_name="Carl", signer_relationship="other")
    assert consent.signer_relationship == "other"


@pytest.fixture
def referred_case(network):
    """A draft that a referring clinician started for a patient without an account."""
    clinician = make_user(Role.REFERRING_CLINICIAN, network, first_name="Rita")
    return services.create_case(actor=clinician, network=network, data=case_data())


@pytest.fixture
def unsigned_case(draft_case):
    """The draft case of the patient (and of the caregiver fixture), not signed yet."""
    Consent.objects.filter(case=draft_case).delete()
    return Case.objects.get(pk=draft_case.pk)


def _refused(actor, case, relationship) -> str:
    """The field error of signing as `relationship`; nothing was saved."""
    with pytest.raises(ValidationFailed) as exc:
        services.sign_consent(actor=actor, case=case, scope=["share_with_reviewers"], signer_name="Someone",
                              signer_relationship=relationship)
    assert list(exc.value.errors) == ["signer_relationship"]
    assert not hasattr(Case.objects.get(pk=case.pk), "consent")
    assert not AuditEvent.objects.filter(action="consent.sign").exists()
    return exc.value.errors["signer_relationship"][0]


@pytest.mark.parametrize("relationship", ["self", "parent", "other"])
def test_a_referring_clinician_never_signs_as_the_patient(referred_case, relationship):
    message = _refused(referred_case.requester, referred_case, relationship)
    assert "sign as the treating clinician" in message


def test_a_referring_clinician_records_the_referral_for_treatment(referred_case):
    consent = services.sign_consent(actor=referred_case.requester, case=referred_case,
                                    scope=["share_with_reviewers"], signer_name="Dr. Rita Referrer")
    assert consent.signer_relationship == "treating_clinician"  # their default
    again = services.sign_consent(actor=referred_case.requester, case=referred_case,
                                  scope=["share_with_reviewers"], signer_name="Dr. Rita Referrer",
                                  signer_relationship="treating_clinician")
    assert again.signer_relationship == "treating_clinician"


def test_the_required_part_is_asked_in_the_signer_s_voice(referred_case, unsigned_case, patient_user):
    for actor, case, words in [(referred_case.requester, referred_case, "Reviewers need the patient's records"),
                               (patient_user, unsigned_case, "Reviewers need your records")]:
        with pytest.raises(ValidationFailed) as exc:
            services.sign_consent(actor=actor, case=case, scope=["obtain_records"], signer_name="Someone")
        assert exc.value.errors["scope"][0].startswith(words)


@pytest.mark.parametrize("relationship", ["parent", "guardian", "representative", "treating_clinician"])
def test_the_patient_signs_as_themself_only(unsigned_case, patient_user, relationship):
    assert "You are the patient" in _refused(patient_user, unsigned_case, relationship)


@pytest.mark.parametrize("relationship", ["self", "", "treating_clinician"])
def test_a_caregiver_never_signs_as_the_patient_and_names_the_relationship(unsigned_case, caregiver,
                                                                           relationship):
    assert "Choose how you are related to the patient" in _refused(caregiver, unsigned_case, relationship)
    consent = services.sign_consent(actor=caregiver, case=unsigned_case, scope=["share_with_reviewers"],
                                    signer_name="Carl", signer_relationship="guardian")
    assert consent.signer_relationship == "guardian"


@pytest.mark.parametrize("relationship", ["son", "referring clinician", "SELF", "x" * 100])
def test_an_unknown_relationship_is_refused(unsigned_case, patient_user, caregiver, referred_case,
                                           relationship):
    for actor, case in [(patient_user, unsigned_case), (caregiver, unsigned_case),
                        (referred_case.requester, referred_case)]:
        assert _refused(actor, case, relationship) == "Choose a relationship from the list."


# --- attachments ------------------------------------------------------------------------------------------

def _upload(content=b"%PDF-1.7 echo report for Ana Garcia", name="echo Ana Garcia.pdf"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_attachment_is_stored_encrypted_under_a_random_name(draft_case, patient_user):
    attachment = services.add_attachment(actor=patient_user, case=draft_case, upload=_upload(),
                                         description="Echo")
    assert attachment.filename == "echo Ana Garcia.pdf"
    assert "Ana" not in attachment.storage_name and "echo" not in attachment.storage_name
    raw = files.raw(attachment.storage_name)
    assert b"Ana Garcia" not in raw and b"%PDF" not in raw
    assert services.read_attachment(actor=patient_user, attachment=attachment) == _upload().read()
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["attachment.create", "attachment.download"]


def test_attachment_name_keeps_only_the_basename(draft_case, patient_user):
    attachment = services.add_attachment(actor=patient_user, case=draft_case,
                                         upload=_upload(name="../../etc/passwd"))
    assert attachment.filename == "passwd"


@pytest.mark.parametrize("upload", [None, SimpleUploadedFile("empty.pdf", b"")])
def test_attachment_needs_a_file(upload, draft_case, patient_user):
    with pytest.raises(ValidationFailed) as exc:
        services.add_attachment(actor=patient_user, case=draft_case, upload=upload)
    assert exc.value.field == "file"
    assert not Attachment.objects.exists()


def test_attachment_size_limit(settings, draft_case, patient_user):
    settings.KONSIL_MAX_ATTACHMENT_BYTES = 10
    with pytest.raises(ValidationFailed) as exc:
        services.add_attachment(actor=patient_user, case=draft_case, upload=_upload(b"x" * 11))
    assert exc.value.field == "file"
    assert not Attachment.objects.exists()


def test_attachment_refused_to_outsiders_and_on_ended_cases(walker, draft_case, specialist, stranger,
                                                            patient_user):
    with pytest.raises(PermissionDenied):
        services.add_attachment(actor=stranger, case=draft_case, upload=_upload())
    case = walker.walk_to(draft_case, "offered")
    with pytest.raises(PermissionDenied):  # an offered specialist has not accepted yet
        services.add_attachment(actor=specialist.user, case=case, upload=_upload())
    case = transition(actor=patient_user, case=case, action="withdraw")
    with pytest.raises(Conflict):
        services.add_attachment(actor=patient_user, case=case, upload=_upload())
    assert not Attachment.objects.exists()


# --- messages ---------------------------------------------------------------------------------------------

def test_messages_open_once_submitted(draft_case, patient_user):
    with pytest.raises(Conflict):
        services.post_message(actor=patient_user, case=draft_case, body="Hello")


@pytest.mark.parametrize("body", ["", "   ", None, "x" * 10001])
def test_message_body_validation(body, walker, draft_case, patient_user):
    case = walker.walk_to(draft_case, "submitted")
    with pytest.raises(ValidationFailed) as exc:
        services.post_message(actor=patient_user, case=case, body=body)
    assert exc.value.field == "body"
    assert not Message.objects.exists()


def test_message_refused_to_outsiders(walker, draft_case, stranger, specialist):
    case = walker.walk_to(draft_case, "offered")
    for actor in (stranger, specialist.user):
        with pytest.raises(PermissionDenied):
            services.post_message(actor=actor, case=case, body="Hi")
    assert not Message.objects.exists()


def test_message_notifies_the_other_side_by_email_without_clinical_text(
        walker, draft_case, patient_user, coordinator, specialist, django_capture_on_commit_callbacks):
    case = walker.walk_to(draft_case, "in_review")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        message = services.post_message(actor=patient_user, case=case,
                                        body="My chest pain got worse (I25.10).")
    assert (message.kind, message.author_role) == ("message", "patient")
    notified = set(Notification.objects.filter(kind="message").values_list("user", flat=True))
    assert notified == {coordinator.pk, specialist.user.pk}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([coordinator.email, specialist.user.email])
    for m in mail.outbox:
        assert case.reference in m.body
        for secret in ("chest", "I25", "Ana", "García", "stent"):
            assert secret not in m.body and secret not in m.subject


def test_patient_question_after_delivery_is_a_follow_up(walker, draft_case, patient_user, specialist):
    case = walker.walk_to(draft_case, "delivered")
    assert services.post_message(actor=patient_user, case=case, body="One more question").kind == "follow_up"
    reply = services.post_message(actor=specialist.user, case=case, body="Sure")
    assert (reply.kind, reply.author_role) == ("message", "specialist")
    told = Notification.objects.filter(kind="message", user=patient_user).values_list("case", flat=True)
    assert set(told) == {case.pk}


# --- notifications ----------------------------------------------------------------------------------------

def test_mark_notifications_read(walker, draft_case, coordinator, patient_user):
    case = walker.walk_to(draft_case, "submitted")
    services.post_message(actor=patient_user, case=case, body="Hello")
    mine = list(coordinator.notifications.values_list("pk", flat=True))
    assert len(mine) == 2
    theirs = Notification.objects.create(user=patient_user, case=case, kind="message")
    assert services.mark_notifications_read(actor=coordinator, ids=[str(mine[0]), str(theirs.pk)]) == 1
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert services.mark_notifications_read(actor=coordinator) == 1
    assert not coordinator.notifications.filter(read_at__isnull=True).exists()


@pytest.mark.parametrize("ids", [["not-a-uuid"], [None], 5, [{"id": 1}]])
def test_mark_notifications_read_rejects_bad_ids(ids, coordinator):
    with pytest.raises(ValidationFailed) as exc:
        services.mark_notifications_read(actor=coordinator, ids=ids)
    assert exc.value.field == "ids"
