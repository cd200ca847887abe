"""Scoped, audited reads: who sees which cases, and what a refused read leaves in the trail."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from konsil.accounts.roles import OrganizationKind, Role
from konsil.audit.models import AuditEvent
from konsil.cases import selectors
from konsil.cases.models import CaregiverAuthorization, Case
from konsil.cases.services import transition
from konsil.core.errors import NotFound

from ..factories import OrganizationFactory, make_draft, make_specialist, make_user


@pytest.fixture
def world(network, other_network, draft_case, patient_user, coordinator, specialist, stranger):
    """Our case, a neighbour's case in the same network, and a case of another network."""
    neighbour = make_user(Role.PATIENT, network, first_name="Nora")
    neighbour_case = make_draft(network, neighbour)
    far_patient = make_user(Role.PATIENT, other_network)
    far_case = make_draft(other_network, far_patient)
    return {"ours": draft_case, "neighbour": neighbour_case, "far": far_case, "neighbour_user": neighbour,
            "far_patient": far_patient}


def _ids(qs):
    return set(qs.values_list("pk", flat=True))


def _seen(user) -> set:
    """The ids `cases_for(user)` lists; `get_case` (which reads the user's relations to one case) agrees on every
    case."""
    listed = _ids(selectors.cases_for(user))
    for pk in Case.objects.values_list("pk", flat=True):
        try:
            selectors.get_case(user, pk, audit=False)
        except NotFound:
            assert pk not in listed, "listed but refused"
        else:
            assert pk in listed, "read but not listed"
    return listed


def test_patient_sees_only_their_own(world, patient_user):
    assert _seen(patient_user) == {world["ours"].pk}
    assert _seen(world["neighbour_user"]) == {world["neighbour"].pk}


def test_caregiver_sees_only_authorized_patients(world, caregiver):
    assert _seen(caregiver) == {world["ours"].pk}
    auth = CaregiverAuthorization.objects.get(caregiver=caregiver)
    auth.expires_on = timezone.localdate() - dt.timedelta(days=1)
    auth.save()
    assert _seen(caregiver) == set()
    auth.expires_on = None
    auth.revoked_at = timezone.now()
    auth.save()
    assert _seen(caregiver) == set()


def test_requester_sees_what_they_requested(world, network):
    clinician = make_user(Role.REFERRING_CLINICIAN, network)
    referred = make_draft(network, clinician)
    referred.patient.user = None
    referred.patient.save()
    assert _seen(clinician) == {referred.pk}


def test_coordinator_sees_their_network_only(world, coordinator, stranger):
    assert world["far"].pk not in _seen(coordinator)
    assert {world["ours"].pk, world["neighbour"].pk} <= _seen(coordinator)
    assert _seen(stranger) == {world["far"].pk}


def test_specialist_sees_offered_assigned_and_signed_only(world, walker, specialist, network):
    user = specialist.user
    assert _seen(user) == set()
    case = walker.walk_to(world["ours"], "offered")
    assert _seen(user) == {case.pk}
    case = transition(actor=user, case=case, action="decline", reason="Busy")
    assert _seen(user) == set()
    other = make_specialist(network, specialty="cardiology")
    walker_other = type(walker)(walker.coordinator, other)
    neighbour = walker_other.walk_to(world["neighbour"], "accepted")
    assert _seen(other.user) == {neighbour.pk}
    assert _seen(user) == set()
    # signed: the specialist keeps access even when someone else is assigned afterwards
    signed = walker.walk_to(make_draft(network, world["neighbour_user"]), "signed")
    Case.objects.filter(pk=signed.pk).update(assigned_specialist=other)
    assert _seen(user) == {signed.pk}


def test_payer_admin_sees_no_clinical_cases_but_their_programs_status(world, network, patient_user):
    payer = OrganizationFactory(kind=OrganizationKind.PAYER)
    admin = make_user(Role.PAYER_ADMIN, payer)
    sponsored = make_draft(network, patient_user, sponsor=payer)
    assert _seen(admin) == set()
    assert _ids(selectors.sponsored_cases_for(admin)) == set()  # a draft is the patient's own until submitted
    Case.objects.filter(pk=sponsored.pk).update(status="submitted", submitted_at=timezone.now())
    assert _ids(selectors.sponsored_cases_for(admin)) == {sponsored.pk}
    employer = OrganizationFactory(kind=OrganizationKind.EMPLOYER)
    assert _ids(selectors.sponsored_cases_for(make_user(Role.EMPLOYER_ADMIN, employer))) == set()
    assert _ids(selectors.sponsored_cases_for(patient_user)) == set()


def test_auditor_and_anonymous_see_no_cases(world, network):
    from django.contrib.auth.models import AnonymousUser

    assert _seen(make_user(Role.AUDITOR, network)) == set()
    assert _seen(AnonymousUser()) == set()


def test_get_case_reads_and_audits(world, patient_user):
    case = selectors.get_case(patient_user, str(world["ours"].pk))
    assert case == world["ours"]
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.role) == ("case.read", "success", "patient")
    assert (event.object_id, event.patient_id, event.actor) == (str(case.pk), case.patient_id, patient_user)


def test_get_case_without_audit(world, patient_user):
    selectors.get_case(patient_user, world["ours"].pk, audit=False)
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("which", ["neighbour", "far", "missing", "malformed", "empty", "long"])
def test_get_case_refuses_foreign_and_malformed_ids(which, world, patient_user):
    case_id = {"neighbour": world["neighbour"].pk, "far": world["far"].pk, "missing": uuid.uuid4(),
               "malformed": "../../etc", "empty": "", "long": "x" * 500}[which]
    with pytest.raises(NotFound) as exc:
        selectors.get_case(patient_user, case_id)
    assert exc.value.status == 404
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.actor) == ("case.read", "denied", patient_user)
    assert event.object_id == str(case_id)[:64]
    assert event.patient_id is None  # a refused read does not reveal whose case it is


def test_audit_list_writes_one_event_per_case(world, coordinator):
    shown = list(selectors.cases_for(coordinator))
    selectors.audit_list(coordinator, shown)
    events = AuditEvent.objects.filter(action="case.list")
    assert sorted(e.object_id for e in events) == sorted(str(c.pk) for c in shown)
    assert {e.patient_id for e in events} == {c.patient_id for c in shown}
    selectors.audit_list(coordinator, [])
    assert AuditEvent.objects.count() == len(shown)


def test_queue_counts(world, walker, coordinator):
    walker.walk_to(world["ours"], "submitted")
    assert selectors.queue_counts(coordinator) == {"submitted": 1, "draft": 1}


def test_notifications_for_are_the_users_own(world, walker, coordinator, patient_user):
    walker.walk_to(world["ours"], "submitted")
    assert selectors.notifications_for(coordinator).count() == 1
    assert selectors.notifications_for(patient_user).count() == 0
