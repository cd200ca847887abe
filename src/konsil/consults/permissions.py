"""Named checks for consults (konsil.core.authz)."""

from konsil.cases import relations as rel
from konsil.cases.choices import Status
from konsil.core.authz import rule

BOOKING_STATUSES = frozenset({Status.DELIVERED, Status.CLOSED})


@rule("consult.view")
def can_view_consults(user, case) -> bool:
    return bool(rel.relations(user, case) & (rel.PATIENT_SIDE | {rel.COORDINATOR, rel.SPECIALIST, rel.SIGNER}))


@rule("consult.book")
def can_book(user, case) -> bool:
    """The patient's side (or a coordinator for them) books once the report is delivered."""
    return case.status in BOOKING_STATUSES and bool(rel.relations(user, case) & (rel.PATIENT_SIDE | {rel.COORDINATOR}))


@rule("consult.manage")
def can_manage(user, case) -> bool:
    """Record a no-show, mark a consult held, write notes: the specialist of the case or a coordinator."""
    return bool(rel.relations(user, case) & {rel.SPECIALIST, rel.SIGNER, rel.COORDINATOR})


@rule("consult.notes")
def can_write_notes(user, case) -> bool:
    return bool(rel.relations(user, case) & {rel.SPECIALIST, rel.SIGNER})
