"""The case lifecycle: one explicit transition table. Nothing else changes a case's status.

Each transition names the states it leaves from, the state it reaches, the case relations allowed to take
it, a guard (raises a DomainError when the case or the parameters are not ready), an effect (the domain work
done in the same transaction) and who is notified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from . import relations as rel
from .choices import Status as S

Guard = Callable[..., None]
Effect = Callable[..., None]


def _noop(**_kwargs) -> None:
    return None


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str | None  # None: stays in the state it left (amend)
    roles: frozenset[str]
    label: object
    guard: Guard = _noop
    effect: Effect = _noop
    notify: frozenset[str] = field(default_factory=frozenset)  # relations to notify (never the actor)
    params: tuple[str, ...] = ()

    def target_from(self, source: str) -> str:
        return self.target or source


PRE_DELIVERY = frozenset({S.SUBMITTED, S.TRIAGED, S.OFFERED, S.ACCEPTED, S.IN_REVIEW, S.INFO_REQUESTED,
                          S.OPINION_DRAFTED, S.SIGNED})
WITHDRAWABLE = frozenset({S.DRAFT}) | PRE_DELIVERY - {S.SIGNED}
REQUEST_SIDE = frozenset({rel.PATIENT, rel.CAREGIVER, rel.REQUESTER})
COORD = frozenset({rel.COORDINATOR})
ASSIGNED = frozenset({rel.SPECIALIST})
OFFERED = frozenset({rel.OFFERED})
SYSTEM = frozenset({rel.SYSTEM})


def _table() -> dict[str, Transition]:
    from . import effects as fx

    transitions = [
        Transition("submit", frozenset({S.DRAFT}), S.SUBMITTED, REQUEST_SIDE | COORD, _("Submit"),
                   guard=fx.guard_submit, effect=fx.on_submit, notify=COORD | REQUEST_SIDE),
        Transition("triage", frozenset({S.SUBMITTED}), S.TRIAGED, COORD | SYSTEM, _("Confirm triage"),
                   guard=fx.guard_triage, effect=fx.on_triage, notify=REQUEST_SIDE,
                   params=("specialty", "urgency", "reason")),
        Transition("retriage", frozenset({S.TRIAGED, S.OFFERED}), S.TRIAGED, COORD, _("Change specialty"),
                   guard=fx.guard_retriage, effect=fx.on_retriage, notify=OFFERED, params=("specialty", "reason")),
        Transition("offer", frozenset({S.TRIAGED}), S.OFFERED, COORD | SYSTEM, _("Offer to specialist"),
                   guard=fx.guard_offer, effect=fx.on_offer, notify=OFFERED,
                   params=("specialist", "reason")),
        Transition("retract_offer", frozenset({S.OFFERED}), S.TRIAGED, COORD, _("Retract offer"),
                   effect=fx.on_retract_offer, notify=OFFERED, params=("reason",)),
        Transition("expire_offer", frozenset({S.OFFERED}), S.TRIAGED, SYSTEM, _("Offer timed out"),
                   effect=fx.on_expire_offer, notify=OFFERED),
        Transition("accept", frozenset({S.OFFERED}), S.ACCEPTED, OFFERED, _("Accept case"),
                   effect=fx.on_accept, notify=COORD | REQUEST_SIDE),
        Transition("decline", frozenset({S.OFFERED}), S.TRIAGED, OFFERED, _("Decline case"),
                   guard=fx.guard_reason, effect=fx.on_decline, notify=COORD, params=("reason",)),
        Transition("start_review", frozenset({S.ACCEPTED}), S.IN_REVIEW, ASSIGNED, _("Start review"),
                   notify=REQUEST_SIDE),
        Transition("request_info", frozenset({S.IN_REVIEW}), S.INFO_REQUESTED, ASSIGNED | COORD,
                   _("Request information"), guard=fx.guard_message, effect=fx.on_request_info,
                   notify=REQUEST_SIDE, params=("message",)),
        Transition("provide_info", frozenset({S.INFO_REQUESTED}), S.IN_REVIEW, REQUEST_SIDE | COORD,
                   _("Provide information"), guard=fx.guard_message, effect=fx.on_provide_info,
                   notify=ASSIGNED, params=("message",)),
        Transition("complete_draft", frozenset({S.IN_REVIEW}), S.OPINION_DRAFTED, ASSIGNED,
                   _("Mark opinion ready to sign"), guard=fx.guard_opinion_complete),
        Transition("revise_draft", frozenset({S.OPINION_DRAFTED}), S.IN_REVIEW, ASSIGNED, _("Revise draft")),
        Transition("sign", frozenset({S.OPINION_DRAFTED}), S.SIGNED, ASSIGNED, _("Sign opinion"),
                   guard=fx.guard_opinion_complete, effect=fx.on_sign, notify=COORD),
        Transition("deliver", frozenset({S.SIGNED}), S.DELIVERED, COORD | ASSIGNED, _("Deliver report"),
                   effect=fx.on_deliver, notify=REQUEST_SIDE),
        Transition("close", frozenset({S.DELIVERED}), S.CLOSED, REQUEST_SIDE | COORD, _("Close case"),
                   effect=fx.on_close, notify=COORD | REQUEST_SIDE | ASSIGNED),
        Transition("amend", frozenset({S.DELIVERED, S.CLOSED}), S.DELIVERED, frozenset({rel.SPECIALIST}),
                   _("Amend opinion"), guard=fx.guard_amend, effect=fx.on_amend, notify=REQUEST_SIDE | COORD,
                   params=("reason", "opinion")),
        Transition("cancel", PRE_DELIVERY, S.CANCELLED, COORD, _("Cancel case"), guard=fx.guard_reason,
                   effect=fx.on_end, notify=REQUEST_SIDE | ASSIGNED | OFFERED, params=("reason",)),
        Transition("withdraw", WITHDRAWABLE, S.WITHDRAWN, REQUEST_SIDE, _("Withdraw case"),
                   effect=fx.on_end, notify=COORD | ASSIGNED | OFFERED, params=("reason",)),
    ]
    return {t.action: t for t in transitions}


_TABLE: dict[str, Transition] | None = None


def table() -> dict[str, Transition]:
    global _TABLE
    if _TABLE is None:
        _TABLE = _table()
    return _TABLE


def allowed_actions(status: str, relations: set[str]) -> list[Transition]:
    """Transitions a user with `relations` may attempt from `status` (guards not yet checked)."""
    return [t for t in table().values() if status in t.sources and t.roles & relations]
