"""The lifecycle table, exhaustively: every status x every action, allowed and refused."""

from __future__ import annotations

import pytest

from konsil.audit.models import AuditEvent
from konsil.cases import lifecycle
from konsil.cases import relations as rel
from konsil.cases.choices import Status
from konsil.cases.models import Notification, StatusChange
from konsil.cases.services import transition
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.opinions import services as opinions

from ..conftest import complete_opinion

STATUSES = list(Status.values)
PRE_DELIVERY = {"submitted", "triaged", "offered", "accepted", "in_review", "info_requested",
                "opinion_drafted", "signed"}
# The specification of the table: action -> (sources, target). The table must say exactly this.
SPEC = {
    "submit": ({"draft"}, "submitted"),
    "triage": ({"submitted"}, "triaged"),
    "retriage": ({"triaged", "offered"}, "triaged"),
    "offer": ({"triaged"}, "offered"),
    "retract_offer": ({"offered"}, "triaged"),
    "expire_offer": ({"offered"}, "triaged"),  # the system's only (tests/cases/test_offers.py)
    "accept": ({"offered"}, "accepted"),
    "decline": ({"offered"}, "triaged"),
    "start_review": ({"accepted"}, "in_review"),
    "request_info": ({"in_review"}, "info_requested"),
    "provide_info": ({"info_requested"}, "in_review"),
    "complete_draft": ({"in_review"}, "opinion_drafted"),
    "revise_draft": ({"opinion_drafted"}, "in_review"),
    "sign": ({"opinion_drafted"}, "signed"),
    "deliver": ({"signed"}, "delivered"),
    "close": ({"delivered"}, "closed"),
    "amend": ({"delivered", "closed"}, "delivered"),
    "cancel": (PRE_DELIVERY, "cancelled"),
    "withdraw": ({"draft"} | PRE_DELIVERY - {"signed"}, "withdrawn"),
}
# Who may take each action, and people around the case who may not (names from the `cast` fixture).
ALLOWED = {
    "submit": ["patient", "coordinator"], "triage": ["coordinator"], "retriage": ["coordinator"],
    "offer": ["coordinator"],
    "retract_offer": ["coordinator"], "expire_offer": [], "accept": ["specialist"], "decline": ["specialist"],
    "start_review": ["specialist"], "request_info": ["specialist", "coordinator"],
    "provide_info": ["patient", "coordinator"], "complete_draft": ["specialist"],
    "revise_draft": ["specialist"],
    "sign": ["specialist"], "deliver": ["coordinator", "specialist"], "close": ["patient", "coordinator"],
    "amend": ["specialist"], "cancel": ["coordinator"], "withdraw": ["patient"],
}
REFUSED = {
    "submit": ["stranger"], "triage": ["patient"], "retriage": ["patient", "specialist"], "offer": ["patient"],
    "retract_offer": ["specialist"],
    "expire_offer": ["coordinator", "specialist", "patient"],
    "accept": ["coordinator"], "decline": ["patient"], "start_review": ["coordinator"],
    "request_info": ["patient"], "provide_info": ["specialist"], "complete_draft": ["coordinator"],
    "revise_draft": ["patient"], "sign": ["coordinator"], "deliver": ["patient"], "close": ["specialist"],
    "amend": ["coordinator"], "cancel": ["patient"], "withdraw": ["coordinator"],
}
# Who is notified of a successful action (the actor never is).
NOTIFIED = {
    "submit": {"coordinator", "patient"}, "triage": {"patient"}, "retriage": {"specialist"}, "offer": {"specialist"},
    "retract_offer": {"specialist"}, "expire_offer": {"specialist"}, "accept": {"coordinator", "patient"},
    "decline": {"coordinator"},
    "start_review": {"patient"}, "request_info": {"patient"}, "provide_info": {"specialist"},
    "complete_draft": set(), "revise_draft": set(), "sign": {"coordinator"}, "deliver": {"patient"},
    "close": {"coordinator", "patient", "specialist"}, "amend": {"patient", "coordinator"},
    "cancel": {"patient", "specialist"}, "withdraw": {"coordinator", "specialist"},
}
# Statuses in which a specialist is offered or assigned (cancel and withdraw notify them only then).
SPECIALIST_ON_CASE = {"offered", "accepted", "in_review", "info_requested", "opinion_drafted", "signed"}


def params_for(action: str, specialist) -> dict:
    return {
        "triage": {"specialty": "cardiology", "urgency": "urgent"},
        "retriage": {"specialty": "neurology", "reason": "A neurological question."},
        "offer": {"specialist": str(specialist.pk)},
        "retract_offer": {"reason": "Wrong subspecialty."},
        "decline": {"reason": "On leave."},
        "request_info": {"message": "Please upload the echo report."},
        "provide_info": {"message": "Uploaded it."},
        "amend": {"reason": "Typo in the narrative.", "opinion": {"narrative": "Amended narrative."}},
        "cancel": {"reason": "Duplicate case."},
        "withdraw": {"reason": "Changed my mind."},
    }.get(action, {})


def _cells(kind: str):
    for status in STATUSES:
        for action in SPEC:
            legal = status in SPEC[action][0]
            if kind == "illegal" and not legal:
                yield pytest.param(status, action, id=f"{status}-{action}")
            if kind in ("allowed", "refused") and legal:
                for who in (ALLOWED if kind == "allowed" else REFUSED)[action]:
                    yield pytest.param(status, action, who, id=f"{status}-{action}-by-{who}")


@pytest.fixture
def at(walker, draft_case):
    """`at(status)`: the draft case walked to `status` through the real services."""
    return lambda status: walker.walk_to(draft_case, status)


def _denied_event(case, action: str) -> AuditEvent | None:
    return AuditEvent.objects.filter(object_id=str(case.pk), action=f"case.{action}", outcome="denied").last()


def test_table_is_the_specification():
    table = lifecycle.table()
    assert set(table) == set(SPEC)
    for action, (sources, target) in SPEC.items():
        assert set(table[action].sources) == sources, action
        assert {table[action].target_from(s) for s in sources} == {target}, action
    assert set(ALLOWED) == set(REFUSED) == set(NOTIFIED) == set(SPEC)


def test_every_status_is_reached_by_the_table():
    reachable = {"draft"} | {SPEC[a][1] for a in SPEC}
    assert reachable == set(STATUSES)


@pytest.mark.parametrize(("status", "action", "who"), list(_cells("allowed")))
def test_allowed_transition(status, action, who, at, cast, specialist):
    case = at(status)
    assert case.status == status
    if action == "complete_draft":
        opinions.save_draft(actor=specialist.user, case=case, data=complete_opinion(case))
    actor = cast[who]
    timeline_before = case.timeline.count()

    result = transition(actor=actor, case=case, action=action, **params_for(action, specialist))

    target = SPEC[action][1]
    assert result.status == target
    case.refresh_from_db()
    assert case.status == target
    assert case.timeline.count() == timeline_before + 1
    change = StatusChange.objects.filter(case=case).order_by("-created_at").first()
    assert (change.action, change.from_status, change.to_status) == (action, status, target)
    assert change.actor == actor
    event = AuditEvent.objects.filter(object_id=str(case.pk), action=f"case.{action}").last()
    assert event.outcome == "success" and event.actor == actor
    assert event.detail == {"from": status, "to": target}
    assert event.patient_id == case.patient_id
    expected = set(NOTIFIED[action])
    if action in ("cancel", "withdraw", "retriage") and status not in SPECIALIST_ON_CASE:
        expected.discard("specialist")
    expected.discard(who)
    notified = set(Notification.objects.filter(case=case, kind=action).values_list("user", flat=True))
    assert notified == {cast[name].pk for name in expected}


@pytest.mark.parametrize(("status", "action", "who"), list(_cells("refused")))
def test_refused_relation(status, action, who, at, cast, specialist):
    case = at(status)
    timeline_before = case.timeline.count()
    with pytest.raises(PermissionDenied):
        transition(actor=cast[who], case=case, action=action, **params_for(action, specialist))
    case.refresh_from_db()
    assert case.status == status
    assert case.timeline.count() == timeline_before
    event = _denied_event(case, action)
    assert event is not None and event.actor == cast[who]
    assert event.detail == {"code": "forbidden", "status": status}


@pytest.mark.parametrize(("status", "action"), list(_cells("illegal")))
def test_illegal_transition(status, action, at, cast, specialist):
    case = at(status)
    # One who may take the action where it is legal, if they are on the case now; else the coordinator.
    who = next((w for w in ALLOWED[action] if rel.relations(cast[w], case) & rel.CLINICAL_RELATIONS),
               "coordinator")
    timeline_before = case.timeline.count()
    with pytest.raises(Conflict) as exc:
        transition(actor=cast[who], case=case, action=action, **params_for(action, specialist))
    assert exc.value.code == "illegal_transition"
    assert exc.value.status == 409
    assert str(Status(status).label).lower() in str(exc.value)
    case.refresh_from_db()
    assert case.status == status
    assert case.timeline.count() == timeline_before
    assert _denied_event(case, action).detail == {"code": "illegal_transition", "status": status}


@pytest.mark.parametrize("status", ["draft", "offered", "delivered", "cancelled"])
def test_stranger_is_refused_everything(status, at, cast, specialist):
    case = at(status)
    for action in SPEC:
        with pytest.raises(PermissionDenied):
            transition(actor=cast["stranger"], case=case, action=action, **params_for(action, specialist))
    case.refresh_from_db()
    assert case.status == status


def test_unknown_action(draft_case, patient_user):
    with pytest.raises(ValidationFailed) as exc:
        transition(actor=patient_user, case=draft_case, action="teleport")
    assert exc.value.code == "unknown_action"
    assert exc.value.as_dict()["errors"] == {"action": ["Unknown action."]}
    event = AuditEvent.objects.get(action="case.unknown_action")
    assert event.outcome == "denied" and event.object_id == str(draft_case.pk)
    draft_case.refresh_from_db()
    assert draft_case.status == "draft"


def test_unknown_action_with_a_huge_name_is_refused_cleanly(draft_case, patient_user):
    with pytest.raises(ValidationFailed):
        transition(actor=patient_user, case=draft_case, action="x" * 500)
    assert AuditEvent.objects.filter(action="case.unknown_action").count() == 1


def test_an_automatic_step_reads_as_konsil_in_the_reader_s_language(client, walker, draft_case, coordinator):
    """Auto-routing triages and offers as itself: the timeline names it "Konsil (automatic)", not "system"."""
    from django.conf import settings
    from django.urls import reverse

    from konsil.cases.services import transition as move
    from konsil.matching.routing import SYSTEM_ACTOR

    case = walker.walk_to(draft_case, "submitted")
    move(actor=SYSTEM_ACTOR, case=case, action="triage", specialty="cardiology", urgency="routine")
    client.force_login(case.patient.user)
    page = client.get(reverse("cases:detail", kwargs={"pk": case.pk})).content.decode()
    timeline = page[page.index('id="timeline-h"'):]
    assert "Konsil (automatic)" in timeline and ">system<" not in timeline
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    page = client.get(reverse("cases:detail", kwargs={"pk": case.pk})).content.decode()
    assert "Konsil (automático)" in page[page.index('id="timeline-h"'):]
