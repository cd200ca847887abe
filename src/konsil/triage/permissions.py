"""Named checks for triage's clarifying questions, registered in the one registry (konsil.core.authz)."""

from konsil.cases import relations as rel
from konsil.core.authz import rule


@rule("case.view_triage_questions")
def can_view_questions(user, case) -> bool:
    """The patient's side (who answers) and the care team (who reads the answers)."""
    return bool(rel.relations(user, case) & (rel.PATIENT_SIDE | {rel.COORDINATOR, rel.SPECIALIST, rel.OFFERED,
                                                                   rel.SIGNER, rel.PANEL_MEMBER}))


@rule("case.answer_triage_questions")
def can_answer_questions(user, case) -> bool:
    """The patient, a caregiver or the referring requester answers; a coordinator may, on the patient's behalf."""
    return bool(rel.relations(user, case) & (rel.PATIENT_SIDE | {rel.COORDINATOR}))


@rule("case.view_triage_understood")
def can_view_understood(user, case) -> bool:
    """The patient's side reads which of their words triage understood (not probabilities or thresholds)."""
    return bool(rel.relations(user, case) & rel.PATIENT_SIDE)
