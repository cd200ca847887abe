"""Never a dead end: from every reachable state of the lifecycle, someone (a person of the case or the system) has a
legal move forward or out. A hypothesis state machine walks random legal moves with the real services on the test
database; every state it reaches must offer at least one legal move, unless the case's life has ended."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from konsil.cases import lifecycle, offers
from konsil.cases import relations as rel
from konsil.cases.choices import Status
from konsil.cases.services import transition
from konsil.core.errors import DomainError
from konsil.opinions import services as opinions

from ..conftest import complete_opinion
from ..factories import make_draft, make_specialist

ENDED = {Status.CANCELLED, Status.WITHDRAWN, Status.CLOSED}  # closed may still be amended, but it has ended
SYSTEM = "matching"
ENDING = {"cancel", "withdraw"}
PROGRESS = {"submit", "triage", "offer", "accept", "start_review", "complete_draft", "sign", "deliver", "close"}


class _Rollback(Exception):
    pass


class Cast:
    """The people around the cases: a patient, a coordinator, two cardiologists who can accept (and the system)."""

    def __init__(self, network, patient, coordinator):
        self.network, self.patient, self.coordinator = network, patient, coordinator
        self.specialists = [make_specialist(network, specialty="cardiology", states=("CA",), capacity=500,
                                            first_name=name) for name in ("Ada", "Ben")]

    def actors(self):
        return [self.patient, self.coordinator, *(s.user for s in self.specialists), SYSTEM]


def _params(case, action: str, cast: Cast) -> dict:
    if action == "triage":
        return {"specialty": "cardiology", "urgency": "routine"}
    if action == "retriage":
        other = "interventional_cardiology" if case.specialty_id != "interventional_cardiology" else "cardiology"
        return {"specialty": other, "reason": "Another specialty fits better"}
    if action == "offer":
        _position, best = offers.proposal(case)
        return {"specialist": str(best.specialist.pk) if best else str(cast.specialists[0].pk),
                "reason": "chosen by the test"}
    if action in ("request_info", "provide_info"):
        return {"message": "Please send the echo report."}
    if action == "amend":
        return {"reason": "Typo", "opinion": {"narrative": "Amended narrative."}}
    if action in ("retract_offer", "decline", "cancel", "withdraw"):
        return {"reason": "Changed plans"}
    return {}


def _move(case, actor, action: str, cast: Cast):
    if action == "complete_draft":
        opinions.save_draft(actor=actor, case=case, data=complete_opinion(case))
    return transition(actor=actor, case=case, action=action, **_params(case, action, cast))


def legal_moves(case, cast: Cast) -> list[tuple[object, str]]:
    """(actor, action) pairs whose transition succeeds now (each tried in a savepoint, then rolled back)."""
    found = []
    for actor in cast.actors():
        relations = {rel.SYSTEM} if isinstance(actor, str) else rel.relations(actor, case)
        for t in lifecycle.allowed_actions(case.status, relations):
            try:
                with transaction.atomic():
                    _move(case, actor, t.action, cast)
                    raise _Rollback
            except _Rollback:
                found.append((actor, t.action))
            except DomainError:
                pass
            case.refresh_from_db()
    return found


class LifecycleWalk(RuleBasedStateMachine):
    cast: Cast = None  # set by the test
    reached: set = set()  # every status any walk reached (the walks must go deep to mean something)

    @initialize()
    def new_case(self):
        self.case = make_draft(self.cast.network, self.cast.patient)
        self.seen = [self.case.status]

    @rule(data=st.data())
    def take_a_legal_move(self, data):
        moves = legal_moves(self.case, self.cast)
        if not moves:
            return
        # Walks go deep before they end: a way out one time in ten, a side move (re-triage, retract, decline,
        # time-out, request information, revise, amend) three in ten, else the next step of the main path.
        kind = data.draw(st.integers(0, 9), label="kind")
        ending = [m for m in moves if m[1] in ENDING]
        side = [m for m in moves if m[1] not in ENDING | PROGRESS]
        forward = [m for m in moves if m[1] in PROGRESS]
        pool = (ending if kind == 0 else side if kind <= 3 else forward) or forward or side or ending
        actor, action = data.draw(st.sampled_from(pool), label="move")
        self.case = _move(self.case, actor, action, self.cast)
        self.case.refresh_from_db()
        self.seen.append(self.case.status)

    def teardown(self):
        LifecycleWalk.reached.update(str(status) for status in getattr(self, "seen", []))

    @invariant()
    def someone_can_move(self):
        if self.case.status in ENDED:
            return
        assert legal_moves(self.case, self.cast), f"stuck in {self.case.status} after {self.seen}"


@pytest.mark.slow
def test_random_walks_never_get_stuck(network, patient_user, coordinator):
    LifecycleWalk.cast = Cast(network, patient_user, coordinator)
    LifecycleWalk.reached = set()
    run_state_machine_as_test(LifecycleWalk, settings=settings(
        max_examples=10, stateful_step_count=16, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck)))
    assert {"offered", "accepted", "in_review", "opinion_drafted", "signed", "delivered"} <= LifecycleWalk.reached


@pytest.mark.parametrize("status", [s for s in Status.values if s not in ENDED])
def test_every_state_has_a_way_forward_or_out(walker, draft_case, network, patient_user, coordinator, status):
    cast = Cast(network, patient_user, coordinator)
    cast.specialists.insert(0, walker.specialist)
    case = walker.walk_to(draft_case, status)
    moves = legal_moves(case, cast)
    assert moves, f"{status}: nobody can move"
    if status not in (Status.DRAFT, Status.DELIVERED):
        assert any(actor == coordinator for actor, _a in moves), f"{status}: the coordinator has no way out"
