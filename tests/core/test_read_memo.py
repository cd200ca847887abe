"""A read request asks how a user relates to a case once (core.context memo); a write in between, or a write
request, reads afresh."""

from __future__ import annotations

from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from konsil.accounts.models import Membership
from konsil.accounts.roles import Role
from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.core import context
from konsil.core.middleware import RequestContextMiddleware

from ..factories import UserFactory


def queries(fn) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as captured:
        result = fn()
    return result, len(captured)


def test_only_read_requests_keep_a_memo(rf: RequestFactory):
    seen = {}
    middleware = RequestContextMiddleware(lambda request: seen.setdefault(request.method, context.memo()))
    for method in ("get", "head", "post", "put", "patch", "delete"):
        middleware(getattr(rf, method)("/cases/"))
    assert seen["GET"] == {} and seen["HEAD"] == {}
    assert all(seen[m] is None for m in ("POST", "PUT", "PATCH", "DELETE"))
    assert context.memo() is None  # nothing outlives the request


def test_relations_are_read_once_per_read_request(draft_case, patient_user, coordinator):
    assert queries(lambda: rel.relations(coordinator, draft_case))[1] == 1  # no memo: every call asks
    assert queries(lambda: rel.relations(coordinator, draft_case))[1] == 1
    token = context.start_memo()
    try:
        first, asked = queries(lambda: rel.relations(patient_user, draft_case))
        again, asked_again = queries(lambda: rel.relations(patient_user, draft_case))
        assert first == again == {rel.PATIENT} and (asked, asked_again) == (1, 0)
        again.add("mutated")  # a caller's copy, not the memo
        assert rel.relations(patient_user, draft_case) == {rel.PATIENT}
        assert rel.relations(coordinator, draft_case) == {rel.COORDINATOR}  # per user
        emit(actor="test", action="test.read")  # the audit trail's own writes keep the memo
        assert queries(lambda: rel.relations(coordinator, draft_case))[1] == 0
    finally:
        context.end_memo(token)


def test_a_write_empties_the_memo(network, draft_case):
    stranger = UserFactory()
    token = context.start_memo()
    try:
        assert rel.relations(stranger, draft_case) == set()
        Membership.objects.create(user=stranger, organization=network, role=Role.COORDINATOR)
        assert rel.relations(stranger, draft_case) == {rel.COORDINATOR}
        Membership.objects.filter(user=stranger).delete()
        assert rel.relations(stranger, draft_case) == set()
    finally:
        context.end_memo(token)


def test_reading_keeps_a_memo_for_a_stretch_of_reads(draft_case, patient_user):
    assert context.memo() is None
    with context.reading():
        assert queries(lambda: rel.relations(patient_user, draft_case))[1] == 1
        assert queries(lambda: rel.relations(patient_user, draft_case))[1] == 0
    assert context.memo() is None
    token = context.start_memo()
    try:
        rel.relations(patient_user, draft_case)
        with context.reading():  # inside a read request: that request's memo
            assert queries(lambda: rel.relations(patient_user, draft_case))[1] == 0
        assert context.memo()
    finally:
        context.end_memo(token)


def test_the_latest_triage_proposal_is_read_once_per_read_request(draft_case):
    from konsil.triage.models import TriageProposal
    from konsil.triage.services import latest_proposal

    assert queries(lambda: latest_proposal(draft_case)) == (None, 1)
    assert queries(lambda: latest_proposal(draft_case))[1] == 1  # no memo: every call asks
    token = context.start_memo()
    try:
        assert queries(lambda: latest_proposal(draft_case)) == (None, 1)
        assert queries(lambda: latest_proposal(draft_case)) == (None, 0)
        made = TriageProposal.objects.create(case=draft_case, engine="test", model_version="1", urgency="routine")
        found, asked = queries(lambda: latest_proposal(draft_case))  # a write in between: read afresh
        assert (found, asked) == (made, 1)
        assert queries(lambda: latest_proposal(draft_case)) == (made, 0)
    finally:
        context.end_memo(token)
