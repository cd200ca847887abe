"""A user's relations to a case are read through SQL the ORM compiled once per shape: the answers are the ORM's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from konsil.accounts.roles import OrganizationKind, Role
from konsil.cases import relations as rel
from konsil.cases.models import CaregiverAuthorization, EmergencyAccess

from ..factories import OrganizationFactory, make_draft, make_specialist, make_user


def orm(user, case) -> set[str]:
    """The relations read by the ORM itself (the query before it was compiled once)."""
    names, qs = rel._query(user=user.pk, case=case.pk, patient=case.patient_id, network=case.network_id,
                           sponsor=rel._sponsor(case), today=timezone.localdate(), now=timezone.now())
    row = qs.first()
    return {name for name, present in zip(names, row, strict=True) if present}


def compiled(user, case) -> set[str]:
    names, row = rel._asked(user.pk, case)
    return {name for name, present in zip(names, row, strict=True) if present}


@pytest.fixture
def people_and_cases(network, other_network, patient_user, coordinator, other_coordinator, specialist, walker):
    payer = OrganizationFactory(kind=OrganizationKind.PAYER)
    payer_admin = make_user(Role.PAYER_ADMIN, payer)
    sponsored = walker.walk_to(make_draft(network, patient_user, sponsor=payer), "submitted")
    offered = walker.walk_to(make_draft(network, patient_user), "offered")
    signed = walker.walk_to(make_draft(network, patient_user), "signed")
    plain = make_draft(network, patient_user)
    caregiver, lapsed = make_user(Role.CAREGIVER, network), make_user(Role.CAREGIVER, network)
    now = timezone.now()
    CaregiverAuthorization.objects.create(caregiver=caregiver, patient=plain.patient, relationship="daughter",
                                          signed_by="Patient", signed_at=now)
    CaregiverAuthorization.objects.create(caregiver=lapsed, patient=plain.patient, relationship="son",
                                          signed_by="Patient", signed_at=now,
                                          expires_on=timezone.localdate() - dt.timedelta(days=1))
    clinician, late = make_specialist(network), make_specialist(network)
    EmergencyAccess.objects.create(case=plain, user=clinician.user, reason="ER", expires_at=now + dt.timedelta(hours=1))
    EmergencyAccess.objects.create(case=plain, user=late.user, reason="ER", expires_at=now - dt.timedelta(hours=1))
    people = [patient_user, coordinator, other_coordinator, specialist.user, payer_admin, caregiver, lapsed,
              clinician.user, late.user]
    return people, [sponsored, offered, signed, plain]


def test_the_compiled_query_answers_as_the_orm(people_and_cases, specialist, coordinator):
    people, cases = people_and_cases
    seen = set()
    for case in cases:
        for user in people:
            assert compiled(user, case) == orm(user, case), (user.email, case.reference)
            seen |= compiled(user, case)
    assert seen >= {rel.COORDINATOR, rel.SPECIALIST, rel.OFFERED, rel.SIGNER, rel.CAREGIVER, rel.EMERGENCY,
                    rel.SPONSOR_ADMIN}
    # the answers came from the compiled SQL, both shapes (with and without a sponsor), not the ORM fallback
    assert {sponsored for _alias, sponsored in rel._COMPILED} == {True, False}
    assert all(entry is not None for entry in rel._COMPILED.values())


def test_each_request_fills_in_its_own_values(people_and_cases, coordinator, other_coordinator):
    _people, cases = people_and_cases
    assert rel.COORDINATOR in compiled(coordinator, cases[0])
    assert rel.COORDINATOR not in compiled(other_coordinator, cases[0])
    assert rel.COORDINATOR in compiled(coordinator, cases[-1])


def test_a_query_that_cannot_be_compiled_is_asked_through_the_orm(people_and_cases, coordinator, monkeypatch):
    _people, cases = people_and_cases
    monkeypatch.setattr(rel, "_COMPILED", {})
    monkeypatch.setattr(rel, "_compile", lambda alias, sponsored: None)
    assert compiled(coordinator, cases[0]) == orm(coordinator, cases[0]) == {rel.COORDINATOR}


def test_two_compilations_that_disagree_are_not_used(monkeypatch):
    """A value the stand-in mapping missed would stay in the SQL as a constant: compiled twice from other stand-ins,
    the two disagree and the ORM answers instead."""
    from django.db import router

    from konsil.cases.models import Case

    original, calls = rel._query, []

    def drifting(**values):
        calls.append(1)
        names, qs = original(**values)
        return names, qs.filter(reference=f"K-{len(calls)}")  # a constant that differs between the compilations

    monkeypatch.setattr(rel, "_query", drifting)
    assert rel._compile(router.db_for_read(Case), False) is None
    monkeypatch.setattr(rel, "_query", original)
    assert rel._compile(router.db_for_read(Case), False) is not None
