"""Opinion services: drafts, completeness, signature and freeze, report shares."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from konsil.audit.models import AuditEvent
from konsil.cases.models import Consent
from konsil.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from konsil.opinions import services as opinions
from konsil.opinions.models import Opinion, ReportShare

from ..conftest import complete_opinion
from ..factories import make_specialist


@pytest.fixture
def in_review(walker, draft_case):
    return walker.walk_to(draft_case, "in_review")


# --- drafts -----------------------------------------------------------------------------------------------

def test_save_draft_autosaves_partial_data(in_review, specialist):
    draft = opinions.save_draft(actor=specialist.user, case=in_review, data={"narrative": " First look. "})
    again = opinions.save_draft(actor=specialist.user, case=in_review,
                                data={"confidence": "moderate", "revised_diagnosis": "i25110"})
    assert again.pk == draft.pk and again.version == 1
    again.refresh_from_db()
    assert (again.narrative, again.confidence) == ("First look.", "moderate")
    assert again.revised_diagnosis == "I25.110"
    assert again.author == specialist and again.signed_at is None
    events = AuditEvent.objects.filter(action="opinion.save_draft")
    assert [e.detail["fields"] for e in events] == [["narrative"], ["confidence", "revised_diagnosis"]]


def test_only_the_assigned_specialist_drafts(in_review, patient_user, coordinator, network):
    other = make_specialist(network)
    for actor in (patient_user, coordinator, other.user):
        with pytest.raises(PermissionDenied):
            opinions.save_draft(actor=actor, case=in_review, data={"narrative": "x"})
    assert not Opinion.objects.exists()


@pytest.mark.parametrize("status", ["offered", "accepted", "opinion_drafted", "signed", "delivered"])
def test_drafts_only_while_in_review(status, walker, draft_case, specialist):
    case = walker.walk_to(draft_case, status)
    before = list(Opinion.objects.values_list("pk", "narrative"))
    with pytest.raises((Conflict, PermissionDenied)) as exc:
        opinions.save_draft(actor=specialist.user, case=case, data={"narrative": "late"})
    if status != "offered":  # an offered specialist is not yet assigned
        assert isinstance(exc.value, Conflict) and exc.value.code == "not_editable"
    assert list(Opinion.objects.values_list("pk", "narrative")) == before


@pytest.mark.parametrize(("data", "fields"), [
    ({"diagnosis_verdict": "maybe"}, {"diagnosis_verdict"}),
    ({"treatment_verdict": "yolo", "confidence": "total"}, {"treatment_verdict", "confidence"}),
    ({"revised_diagnosis": "NOPE1"}, {"revised_diagnosis"}),
    ({"answers": ["not", "a", "map"]}, {"answers"}),
    ({"answers": {"00000000-0000-0000-0000-000000000000": "x"}}, {"answers"}),
    ({"narrative": "x" * 20001}, {"narrative"}),
])
def test_draft_field_validation(data, fields, in_review, specialist):
    with pytest.raises(ValidationFailed) as exc:
        opinions.save_draft(actor=specialist.user, case=in_review, data=data)
    assert set(exc.value.errors) == fields
    assert not Opinion.objects.exists()


def test_draft_data_must_be_an_object(in_review, specialist):
    with pytest.raises(ValidationFailed):
        opinions.save_draft(actor=specialist.user, case=in_review, data=["narrative"])


# --- completeness -----------------------------------------------------------------------------------------

def test_check_complete_names_every_missing_field(in_review, specialist):
    with pytest.raises(ValidationFailed) as exc:
        opinions.check_complete(None)
    assert exc.value.field == "opinion"
    draft = opinions.save_draft(actor=specialist.user, case=in_review, data={})
    with pytest.raises(ValidationFailed) as exc:
        opinions.check_complete(draft)
    assert set(exc.value.errors) == {"diagnosis_verdict", "treatment_verdict", "answers", "narrative",
                                     "confidence"}


def test_check_complete_needs_the_details_of_a_verdict(in_review, specialist):
    data = complete_opinion(in_review) | {"revised_diagnosis": "", "treatment_recommendation": ""}
    draft = opinions.save_draft(actor=specialist.user, case=in_review, data=data)
    with pytest.raises(ValidationFailed) as exc:
        opinions.check_complete(draft)
    assert set(exc.value.errors) == {"revised_diagnosis", "treatment_recommendation"}
    draft = opinions.save_draft(actor=specialist.user, case=in_review,
                                data={"diagnosis_verdict": "confirmed", "treatment_verdict": "agree"})
    opinions.check_complete(draft)  # confirmed + agree need no further detail


def test_check_complete_needs_every_question_answered(in_review, specialist):
    question = in_review.questions.create(position=1, text="And afterwards?")
    draft = opinions.save_draft(actor=specialist.user, case=in_review, data=complete_opinion(in_review))
    opinions.check_complete(draft)
    answers = dict(draft.answers)
    answers[str(question.pk)] = "  "
    draft = opinions.save_draft(actor=specialist.user, case=in_review, data={"answers": answers})
    with pytest.raises(ValidationFailed) as exc:
        opinions.check_complete(draft)
    assert set(exc.value.errors) == {"answers"}


# --- signature --------------------------------------------------------------------------------------------

def test_sign_freezes_and_the_hash_verifies(walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "signed")
    opinion = opinions.latest_signed(case)
    assert opinions.current_draft(case) is None
    assert opinion.signed_by == specialist.user and len(opinion.content_hash) == 64
    assert opinion.content_hash == opinions.content_hash(opinion)
    assert opinions.verify_signature(opinion)
    opinion.narrative = "Rewritten after signing"
    with pytest.raises(RuntimeError):
        opinion.save()
    event = AuditEvent.objects.get(action="opinion.sign")
    assert event.detail == {"version": 1, "content_hash": opinion.content_hash}


@pytest.mark.parametrize(("field", "value"), [("narrative", "Tampered."), ("confidence", "low"),
                                              ("answers", {}), ("amendment_reason", "x")])
def test_tampering_the_stored_content_breaks_the_signature(field, value, walker, draft_case):
    case = walker.walk_to(draft_case, "signed")
    opinion = opinions.latest_signed(case)
    Opinion.objects.filter(pk=opinion.pk).update(**{field: value})  # bypasses save(), as raw SQL would
    opinion.refresh_from_db()
    assert not opinions.verify_signature(opinion)


def test_unsigned_opinion_does_not_verify(in_review, specialist):
    draft = opinions.save_draft(actor=specialist.user, case=in_review, data=complete_opinion(in_review))
    assert not opinions.verify_signature(draft)


def test_amend_only_by_the_signer(walker, draft_case, network):
    case = walker.walk_to(draft_case, "delivered")
    other = make_specialist(network)
    with pytest.raises(PermissionDenied):
        opinions.amend(case=case, actor=other.user, reason="x", content={"narrative": "y"})
    assert case.opinions.count() == 1


def test_amend_without_a_signed_opinion(in_review, specialist):
    with pytest.raises(Conflict):
        opinions.amend(case=in_review, actor=specialist.user, reason="x", content={})


# --- report shares ----------------------------------------------------------------------------------------

@pytest.fixture
def delivered(walker, draft_case):
    return walker.walk_to(draft_case, "delivered")


def test_share_and_open_the_report(delivered, patient_user):
    share = opinions.share_report(actor=patient_user, case=delivered, recipient_name=" Dr. House ",
                                  recipient_email="house@example.test")
    assert share.recipient_name == "Dr. House" and len(share.public_id) >= 16
    assert share.expires_at > timezone.now() + dt.timedelta(days=13)
    birth = opinions.patient_identity(delivered).birth_date.isoformat()
    opinions.prove_recipient(share=share, method="birth_date", value=birth)
    opened = opinions.open_shared_report(share)
    assert opened.pk == share.pk and opened.last_viewed_at is not None
    read = AuditEvent.objects.get(action="report.read_shared")
    assert (read.actor, read.role) == (None, "treating_physician")
    assert read.actor_label == "share:house@example.test"
    assert read.patient_id == delivered.patient_id


@pytest.mark.parametrize("public_id", ["", None, "guess", "x" * 1000])
def test_unknown_share(public_id, delivered):
    assert opinions.find_share(public_id) is None
    with pytest.raises(NotFound):
        opinions.open_shared_report(opinions.find_share(public_id))


def test_expired_and_revoked_shares_do_not_open(delivered, patient_user):
    share = opinions.share_report(actor=patient_user, case=delivered, recipient_name="Dr. House",
                                  recipient_email="house@example.test")
    ReportShare.objects.filter(pk=share.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(NotFound):
        opinions.open_shared_report(opinions.find_share(share.public_id))
    share2 = opinions.share_report(actor=patient_user, case=delivered, recipient_name="Dr. Wilson",
                                   recipient_email="wilson@example.test")
    opinions.open_shared_report(share2)
    opinions.revoke_share(actor=patient_user, case=delivered, share_id=share2.pk)
    with pytest.raises(NotFound):
        opinions.open_shared_report(opinions.find_share(share2.public_id))
    assert AuditEvent.objects.filter(action="report.read_shared", outcome="success").count() == 1


def test_share_checks(walker, draft_case, patient_user, specialist, stranger):
    signed = walker.walk_to(draft_case, "signed")
    with pytest.raises(Conflict):
        opinions.share_report(actor=patient_user, case=signed, recipient_name="Dr",
                              recipient_email="d@x.test")
    case = walker.walk_to(signed, "delivered")
    for actor in (specialist.user, stranger):
        with pytest.raises(PermissionDenied):
            opinions.share_report(actor=actor, case=case, recipient_name="Dr", recipient_email="d@x.test")
    with pytest.raises(ValidationFailed) as exc:
        opinions.share_report(actor=patient_user, case=case, recipient_name="", recipient_email="nope")
    assert set(exc.value.errors) == {"recipient_name", "recipient_email"}
    Consent.objects.filter(case=case).update(scope=["share_with_reviewers"])
    case.refresh_from_db()
    with pytest.raises(Conflict) as exc:
        opinions.share_report(actor=patient_user, case=case, recipient_name="Dr", recipient_email="d@x.test")
    assert exc.value.field == "consent"
    assert not ReportShare.objects.exists()
