"""Lifecycle paths beyond the matrix: declines, offers, info requests, amendments, caregivers, guards."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone, translation

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases import relations as rel
from konsil.cases.models import CaregiverAuthorization, Message, Notification
from konsil.cases.notify import subject_for, text_for
from konsil.cases.selectors import cases_for
from konsil.cases.services import transition
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.opinions import services as opinions
from konsil.opinions.models import Opinion

from ..factories import make_draft, make_specialist, make_user


def _notified(case, kind):
    return set(Notification.objects.filter(case=case, kind=kind).values_list("user", flat=True))


# --- who is told ----------------------------------------------------------------------------------

def test_submit_notifies_every_coordinator_of_the_network_and_only_them(walker, draft_case, network,
                                                                          coordinator, stranger):
    second = make_user(Role.COORDINATOR, network)
    transition(actor=draft_case.patient.user, case=draft_case, action="submit")
    assert _notified(draft_case, "submit") == {coordinator.pk, second.pk}


def test_offer_notifies_the_specialist(walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "offered")
    assert _notified(case, "offer") == {specialist.user.pk}


def test_deliver_notifies_the_patient_by_email_after_commit(walker, draft_case, patient_user, coordinator,
                                                            django_capture_on_commit_callbacks):
    case = walker.walk_to(draft_case, "signed")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        transition(actor=coordinator, case=case, action="deliver")
    assert _notified(case, "deliver") == {patient_user.pk}
    assert [m.to for m in mail.outbox] == [[patient_user.email]]
    body = mail.outbox[0].body + mail.outbox[0].subject
    assert case.reference in body
    for secret in ("Ana", "García", "I25", "stent", "angina"):
        assert secret not in body


def test_email_waits_for_the_commit(draft_case, coordinator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        transition(actor=draft_case.patient.user, case=draft_case, action="submit")
        assert mail.outbox == []
    assert callbacks  # sending is deferred until the transaction commits


def test_the_actor_gets_no_email_of_their_own_action(draft_case, coordinator,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        transition(actor=draft_case.patient.user, case=draft_case, action="submit")
    # triage may ask the patient clarifying questions: that is a request to them, not news of their own action
    asked = text_for("triage_questions", draft_case.reference)
    updates = [m for m in mail.outbox if asked not in m.body]
    assert [m.to for m in updates] == [[coordinator.email]]
    assert updates[0].subject == f"Konsil: case {draft_case.reference} was submitted"


# --- offers ---------------------------------------------------------------------------------------

def test_decline_returns_to_triaged_and_bars_that_specialist(walker, draft_case, specialist, coordinator,
                                                              network):
    case = walker.walk_to(draft_case, "offered")
    case = transition(actor=specialist.user, case=case, action="decline", reason="Too busy")
    assert case.status == "triaged"
    offer = case.offers.get()
    assert (offer.status, offer.reason) == ("declined", "Too busy")
    assert offer.responded_at is not None
    assert not rel.relations(specialist.user, case)
    assert not cases_for(specialist.user).filter(pk=case.pk).exists()
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=coordinator, case=case, action="offer", specialist=str(specialist.pk))
    assert exc.value.field == "specialist"
    assert "declined" in str(exc.value)
    other = make_specialist(network, specialty="interventional_cardiology", states=("CA",))
    case = transition(actor=coordinator, case=case, action="offer", specialist=str(other.pk))
    assert case.status == "offered"


def test_decline_needs_a_reason(walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "offered")
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=specialist.user, case=case, action="decline", reason="   ")
    assert exc.value.field == "reason"
    case.refresh_from_db()
    assert case.status == "offered" and case.offers.get().status == "pending"


def test_retract_offer(walker, draft_case, specialist, coordinator):
    case = walker.walk_to(draft_case, "offered")
    case = transition(actor=coordinator, case=case, action="retract_offer", reason="Better match found")
    assert case.status == "triaged"
    assert case.offers.get().status == "withdrawn"
    assert not rel.relations(specialist.user, case)
    assert _notified(case, "retract_offer") == {specialist.user.pk}
    # a retracted (not declined) specialist may be offered again
    assert transition(actor=coordinator, case=case, action="offer", specialist=str(specialist.pk)).status \
        == "offered"


def test_accept_assigns_the_specialist(walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "accepted")
    assert case.assigned_specialist == specialist
    assert case.offers.get().status == "accepted"
    assert rel.relations(specialist.user, case) == {rel.SPECIALIST}


@pytest.mark.parametrize(("action", "who"), [("cancel", "coordinator"), ("withdraw", "patient")])
def test_ending_withdraws_pending_offers_and_tells_the_specialist(action, who, walker, draft_case, cast,
                                                                  specialist):
    case = walker.walk_to(draft_case, "offered")
    case = transition(actor=cast[who], case=case, action=action, reason="No longer needed")
    assert case.status in ("cancelled", "withdrawn")
    assert case.closed_at is not None
    assert case.offers.get().status == "withdrawn"
    assert specialist.user.pk in _notified(case, action)
    assert not cases_for(specialist.user).filter(pk=case.pk).exists()


def test_cancel_needs_a_reason(walker, draft_case, coordinator):
    case = walker.walk_to(draft_case, "submitted")
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=coordinator, case=case, action="cancel")
    assert exc.value.field == "reason"


def test_offer_guard_refuses_bad_specialists(walker, draft_case, coordinator, network, other_network):
    case = walker.walk_to(draft_case, "triaged")
    foreign = make_specialist(other_network)
    for bad in (None, "", "not-a-uuid", str(foreign.pk)):
        with pytest.raises(ValidationFailed) as exc:
            transition(actor=coordinator, case=case, action="offer", specialist=bad)
        assert exc.value.field == "specialist"
    case.refresh_from_db()
    assert case.status == "triaged" and not case.offers.exists()


def test_triage_guard(walker, draft_case, coordinator):
    case = walker.walk_to(draft_case, "submitted")
    for params, field in (({}, "specialty"), ({"specialty": "astrology"}, "specialty"),
                          ({"specialty": "cardiology", "urgency": "yesterday"}, "urgency")):
        with pytest.raises(ValidationFailed) as exc:
            transition(actor=coordinator, case=case, action="triage", **params)
        assert exc.value.field == field
    case = transition(actor=coordinator, case=case, action="triage", specialty="cardiology", urgency="stat")
    assert (case.specialty_id, case.urgency) == ("cardiology", "stat")
    decision = case.triage_decisions.get()
    assert decision.decided_by == coordinator and decision.chosen_specialty_id == "cardiology"


# --- information requests -------------------------------------------------------------------------

def test_request_and_provide_info_write_messages(walker, draft_case, specialist, patient_user):
    case = walker.walk_to(draft_case, "in_review")
    case = transition(actor=specialist.user, case=case, action="request_info", message="Echo report, please.")
    assert case.status == "info_requested"
    case = transition(actor=patient_user, case=case, action="provide_info", message="Attached it today.")
    assert case.status == "in_review"
    thread = list(Message.objects.filter(case=case).values_list("kind", "author_role", "body", "author"))
    assert thread == [
        ("info_request", "specialist", "Echo report, please.", specialist.user.pk),
        ("info_response", "patient", "Attached it today.", patient_user.pk),
    ]
    assert _notified(case, "provide_info") == {specialist.user.pk}


@pytest.mark.parametrize("message", ["", "   ", None, "x" * 10001])
def test_request_info_needs_a_message(message, walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "in_review")
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=specialist.user, case=case, action="request_info", message=message)
    assert exc.value.field == "message"
    assert not case.messages.exists()


def test_opinion_may_be_drafted_while_information_is_requested(walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "info_requested")
    draft = opinions.save_draft(actor=specialist.user, case=case, data={"narrative": "So far so good."})
    assert draft.narrative == "So far so good."


# --- the opinion ----------------------------------------------------------------------------------

def test_complete_draft_and_sign_need_a_complete_opinion(walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "in_review")
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=specialist.user, case=case, action="complete_draft")
    assert exc.value.field == "opinion"
    opinions.save_draft(actor=specialist.user, case=case, data={"narrative": "Half done."})
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=specialist.user, case=case, action="complete_draft")
    assert {"diagnosis_verdict", "treatment_verdict", "answers", "confidence"} <= set(exc.value.errors)
    case.refresh_from_db()
    assert case.status == "in_review"


def test_sign_freezes_the_opinion(walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "signed")
    opinion = case.opinions.get()
    assert opinion.signed_by == specialist.user and opinion.signed_at and opinion.content_hash
    assert opinions.verify_signature(opinion)
    assert rel.SIGNER in rel.relations(specialist.user, case)


def test_revise_draft_reopens_editing(walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "opinion_drafted")
    with pytest.raises(Conflict):
        opinions.save_draft(actor=specialist.user, case=case, data={"narrative": "More."})
    case = transition(actor=specialist.user, case=case, action="revise_draft")
    draft = opinions.save_draft(actor=specialist.user, case=case, data={"narrative": "More."})
    assert draft.narrative == "More."


def test_amend_creates_version_two_and_keeps_the_case_delivered(walker, draft_case, specialist, patient_user,
                                                                coordinator):
    case = walker.walk_to(draft_case, "delivered")
    case = transition(actor=specialist.user, case=case, action="amend", reason="Wrong test named",
                      opinion={"further_tests": "Coronary CT angiography"})
    assert case.status == "delivered"
    v1, v2 = Opinion.objects.filter(case=case).order_by("version")
    assert (v2.version, v2.amendment_reason) == (2, "Wrong test named")
    assert v2.further_tests == "Coronary CT angiography"
    assert v2.narrative == v1.narrative  # unchanged fields carry over
    assert v2.signed_at and opinions.verify_signature(v2) and opinions.verify_signature(v1)
    assert opinions.latest_signed(case) == v2
    assert _notified(case, "amend") == {patient_user.pk, coordinator.pk}
    change = case.timeline.order_by("-created_at").first()
    assert (change.from_status, change.to_status) == ("delivered", "delivered")
    assert change.note == "Wrong test named"


def test_amend_of_a_closed_case_reopens_it_as_delivered(walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "closed")
    case = transition(actor=specialist.user, case=case, action="amend", reason="Addendum",
                      opinion={"narrative": "Addendum: repeat in a year."})
    assert case.status == "delivered"
    assert case.opinions.count() == 2


@pytest.mark.parametrize(("params", "field"), [
    ({"opinion": {"narrative": "x"}}, "reason"),
    ({"reason": "Typo"}, "opinion"),
    ({"reason": "Typo", "opinion": "not a dict"}, "opinion"),
])
def test_amend_guard(params, field, walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "delivered")
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=specialist.user, case=case, action="amend", **params)
    assert exc.value.field == field
    assert case.opinions.count() == 1


def test_amend_with_invalid_content_saves_nothing(walker, draft_case, specialist):
    case = walker.walk_to(draft_case, "delivered")
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=specialist.user, case=case, action="amend", reason="x",
                   opinion={"revised_diagnosis": "ZZZ.999", "confidence": "certain"})
    assert set(exc.value.errors) == {"revised_diagnosis", "confidence"}
    assert case.opinions.count() == 1
    case.refresh_from_db()
    assert case.status == "delivered"


# --- caregivers and other networks ----------------------------------------------------------------

def test_caregiver_with_active_authorization_can_submit_and_close(walker, draft_case, caregiver, coordinator):
    case = transition(actor=caregiver, case=draft_case, action="submit")
    assert case.status == "submitted"
    change = case.timeline.get()
    assert (change.actor, change.role) == (caregiver, rel.CAREGIVER)
    case = walker.walk_to(case, "delivered")
    assert caregiver.pk in _notified(case, "deliver")
    case = transition(actor=caregiver, case=case, action="close")
    assert case.status == "closed"


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_caregiver_without_authorization_in_force_cannot_act(how, walker, draft_case, caregiver):
    auth = CaregiverAuthorization.objects.get(caregiver=caregiver)
    if how == "revoked":
        auth.revoked_at = timezone.now()
    else:
        auth.expires_on = timezone.localdate() - dt.timedelta(days=1)
    auth.save()
    with pytest.raises(PermissionDenied):
        transition(actor=caregiver, case=draft_case, action="submit")
    case = transition(actor=draft_case.patient.user, case=draft_case, action="submit")
    case = walker.walk_to(case, "delivered")
    assert caregiver.pk not in _notified(case, "deliver")
    with pytest.raises(PermissionDenied):
        transition(actor=caregiver, case=case, action="close")
    case.refresh_from_db()
    assert case.status == "delivered"


def test_coordinator_of_another_network_cannot_act(walker, draft_case, stranger):
    case = walker.walk_to(draft_case, "submitted")
    with pytest.raises(PermissionDenied):
        transition(actor=stranger, case=case, action="triage", specialty="cardiology")
    assert AuditEvent.objects.filter(actor=stranger, action="case.triage", outcome="denied").count() == 1
    case.refresh_from_db()
    assert case.status == "submitted"


def test_inactive_membership_loses_the_coordinator_relation(walker, draft_case, coordinator):
    case = walker.walk_to(draft_case, "submitted")
    coordinator.memberships.update(active=False)
    with pytest.raises(PermissionDenied):
        transition(actor=coordinator, case=case, action="triage", specialty="cardiology")


def test_referring_clinician_requester_can_submit(network, coordinator):
    clinician = make_user(Role.REFERRING_CLINICIAN, network)
    case = make_draft(network, clinician)
    case.patient.user = None
    case.patient.save()
    case = transition(actor=clinician, case=case, action="submit")
    assert case.timeline.get().role == rel.REQUESTER


# --- submit guard ---------------------------------------------------------------------------------

def test_submit_guard_lists_what_is_missing(network, patient_user):
    case = make_draft(network, patient_user, questions=(), consent=False)
    case.identity.state = ""  # the case's identity version (cases.identity)
    case.identity.save()
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=patient_user, case=case, action="submit")
    assert set(exc.value.errors) == {"questions", "consent", "patient.state"}
    case.refresh_from_db()
    assert case.status == "draft" and case.submitted_at is None
    assert AuditEvent.objects.get(action="case.submit").detail == {"code": "invalid", "status": "draft"}


def test_submit_records_time_and_queues_triage(draft_case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = transition(actor=draft_case.patient.user, case=draft_case, action="submit")
    assert case.submitted_at is not None
    proposal = case.triage_proposals.get()
    assert proposal.specialty_id in {"cardiology", "interventional_cardiology"}


def test_an_email_is_in_the_reader_s_language_to_its_last_line(draft_case, coordinator,
                                                                 django_capture_on_commit_callbacks):
    coordinator.preferred_language = "ja"
    coordinator.save(update_fields=["preferred_language"])
    with django_capture_on_commit_callbacks(execute=True):
        transition(actor=draft_case.patient.user, case=draft_case, action="submit")
    message = next(m for m in mail.outbox if m.to == [coordinator.email])
    with translation.override("ja"):
        assert message.subject == subject_for("submit", draft_case.reference)
    assert message.subject == f"Konsil: ケース {draft_case.reference} が提出されました"
    assert "Sign in" not in message.body and "詳細は Konsil にサインインしてご確認ください" in message.body
