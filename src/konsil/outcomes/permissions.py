"""Named checks for follow-ups and outcomes (konsil.core.authz)."""

from konsil.accounts.roles import Role
from konsil.cases import relations as rel
from konsil.core.authz import rule


@rule("outcome.view")
def can_view_outcome(user, case) -> bool:
    return bool(rel.relations(user, case) & (rel.PATIENT_SIDE | {rel.COORDINATOR, rel.SPECIALIST, rel.SIGNER}))


@rule("followup.answer")
def can_answer_on_case_page(user, case) -> bool:
    """The patient's side answers its own questionnaire from the case page."""
    return bool(rel.relations(user, case) & rel.PATIENT_SIDE)


@rule("followup.queue")
def can_view_queue(user, _obj=None) -> bool:
    return user.has_role(Role.COORDINATOR)


@rule("outcome.edit_costs")
def can_edit_costs(user, _obj=None) -> bool:
    return user.has_role(Role.COORDINATOR, Role.ORG_ADMIN)


@rule("outcome.my_opinions")
def can_view_my_outcomes(user, _obj=None) -> bool:
    return hasattr(user, "specialist")
