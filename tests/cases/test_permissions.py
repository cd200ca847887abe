"""The named permission checks of the case domain, through the one registry."""

from __future__ import annotations

import pytest

from konsil.accounts.roles import OrganizationKind, Role
from konsil.cases.services import transition
from konsil.core import authz
from konsil.core.errors import PermissionDenied

from ..factories import OrganizationFactory, make_draft, make_user


def test_rules_are_registered():
    assert {"case.view", "case.view_status", "case.edit", "case.create", "case.message", "case.read_report",
            "queue.view", "audit.view_trail"} <= set(authz.registered())


def test_rule_registered_twice_is_refused():
    with pytest.raises(RuntimeError):
        authz.rule("case.view")(lambda user, obj: True)


def test_view_and_edit(draft_case, patient_user, coordinator, stranger, specialist, walker):
    assert authz.can("case.view", patient_user, draft_case)
    assert authz.can("case.edit", patient_user, draft_case)
    assert authz.can("case.edit", coordinator, draft_case)
    assert not authz.can("case.view", stranger, draft_case)
    assert not authz.can("case.view", specialist.user, draft_case)
    case = walker.walk_to(draft_case, "offered")
    assert authz.can("case.view", specialist.user, case)
    assert not authz.can("case.message", specialist.user, case)  # offered, not yet accepted
    assert not authz.can("case.edit", patient_user, case)
    with pytest.raises(PermissionDenied):
        authz.require("case.view", stranger, case)


def test_inactive_or_anonymous_users_pass_no_check(draft_case, patient_user):
    from django.contrib.auth.models import AnonymousUser

    assert not authz.can("case.view", AnonymousUser(), draft_case)
    assert not authz.can("case.view", None, draft_case)
    patient_user.is_active = False
    assert not authz.can("case.view", patient_user, draft_case)


def test_sponsor_admin_sees_status_not_content(network, patient_user):
    payer = OrganizationFactory(kind=OrganizationKind.PAYER)
    admin = make_user(Role.PAYER_ADMIN, payer)
    case = make_draft(network, patient_user, sponsor=payer)
    # a draft is the patient's own until they submit it: not even its status (as the program's lists count it)
    assert not authz.can("case.view_status", admin, case)
    case = transition(actor=patient_user, case=case, action="submit")
    assert authz.can("case.view_status", admin, case)
    assert not authz.can("case.view", admin, case)
    assert not authz.can("case.read_report", admin, case)


def test_create_queue_and_audit_by_role(network, patient_user, coordinator, specialist):
    auditor = make_user(Role.AUDITOR, network)
    assert authz.can("case.create", patient_user) and authz.can("case.create", coordinator)
    assert not authz.can("case.create", specialist.user) and not authz.can("case.create", auditor)
    assert authz.can("queue.view", coordinator) and not authz.can("queue.view", patient_user)
    assert authz.can("audit.view_trail", auditor) and not authz.can("audit.view_trail", coordinator)


def test_read_report(walker, draft_case, patient_user, coordinator, specialist, stranger):
    case = walker.walk_to(draft_case, "opinion_drafted")
    assert not authz.can("case.read_report", specialist.user, case)  # nothing signed yet
    case = transition(actor=specialist.user, case=case, action="sign")
    assert authz.can("case.read_report", specialist.user, case)
    assert authz.can("case.read_report", coordinator, case)
    assert not authz.can("case.read_report", patient_user, case)  # not delivered yet
    case = transition(actor=coordinator, case=case, action="deliver")
    assert authz.can("case.read_report", patient_user, case)
    assert not authz.can("case.read_report", stranger, case)
