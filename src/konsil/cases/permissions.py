"""Named permission checks for cases, registered in the one registry (konsil.core.authz)."""

from konsil.accounts.roles import Role
from konsil.core.authz import rule

from . import relations as rel
from .choices import Status


@rule("case.view")
def can_view_case(user, case) -> bool:
    """The clinical content; a break-glass grant in force reads it too (and nothing else: no write names it)."""
    return bool(rel.relations(user, case) & (rel.CLINICAL_RELATIONS | {rel.EMERGENCY}))


@rule("case.view_contact")
def can_view_contact(user, case) -> bool:
    """The patient's e-mail and phone and the treating physician's contact: not for a specialist who is only
    offered the case (they see what they need to decide: questions, specialty, urgency, records, summary)."""
    return bool(rel.relations(user, case) & (rel.CLINICAL_RELATIONS - {rel.OFFERED} | {rel.EMERGENCY}))


@rule("case.view_status")
def can_view_case_status(user, case) -> bool:
    """Payer and employer admins see a sponsored case's status, never its clinical content."""
    return bool(rel.relations(user, case) & (rel.CLINICAL_RELATIONS | {rel.SPONSOR_ADMIN}))


@rule("case.edit")
def can_edit_case(user, case) -> bool:
    return case.status == Status.DRAFT and bool(
        rel.relations(user, case) & (rel.PATIENT_SIDE | {rel.COORDINATOR})
    )


@rule("case.create")
def can_create_case(user, _obj=None) -> bool:
    return user.has_role(Role.PATIENT, Role.CAREGIVER, Role.REFERRING_CLINICIAN, Role.COORDINATOR)


@rule("case.message")
def can_message(user, case) -> bool:
    """Who writes in the thread, while it is open: from submission on, not after a cancellation or withdrawal."""
    if case.status in (Status.DRAFT, Status.CANCELLED, Status.WITHDRAWN):
        return False
    return bool(rel.relations(user, case) & (rel.CLINICAL_RELATIONS - {rel.OFFERED, rel.PANEL_MEMBER}))


@rule("case.read_report")
def can_read_report(user, case) -> bool:
    """The patient's side reads a delivered report; the care team reads it once signed."""
    if not case.opinions.filter(signed_at__isnull=False).exists():
        return False
    relations = rel.relations(user, case)
    if case.status in (Status.DELIVERED, Status.CLOSED):
        return bool(relations & rel.CLINICAL_RELATIONS)
    return bool(relations & {rel.SPECIALIST, rel.SIGNER, rel.COORDINATOR})


@rule("case.view_triage")
def can_view_triage(user, case) -> bool:
    return bool(rel.relations(user, case) & {rel.COORDINATOR, rel.SPECIALIST})


@rule("case.match")
def can_match(user, case) -> bool:
    return rel.COORDINATOR in rel.relations(user, case)


@rule("directory.view")
def can_view_directory(user, _obj=None) -> bool:
    return user.has_role(Role.COORDINATOR, Role.SPECIALIST)


@rule("program.view")
def can_view_program(user, _obj=None) -> bool:
    return user.has_role(Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN)


@rule("queue.view")
def can_view_queue(user, _obj=None) -> bool:
    return user.has_role(Role.COORDINATOR)


@rule("audit.view_trail")
def can_view_audit_trail(user, _obj=None) -> bool:
    return user.has_role(Role.AUDITOR)


@rule("case.break_glass")
def can_break_glass(user, case) -> bool:
    """Emergency access: a clinician (referring, coordinator, specialist, panel chair) of the case's network."""
    from konsil.accounts.roles import CLINICAL_ROLES

    return user.memberships.filter(organization_id=case.network_id, role__in=list(CLINICAL_ROLES),
                                   active=True).exists()
