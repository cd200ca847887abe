"""Named checks of the program side (core.authz): who edits a program, refers, bills and reads the dashboard."""

from __future__ import annotations

from konsil.accounts.roles import Role
from konsil.core.authz import rule

SPONSOR_ROLES = (Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN)


def _holds(user, org_id, *roles) -> bool:
    return user.memberships.filter(organization_id=org_id, role__in=roles, active=True).exists()


def is_sponsor_admin(user, program) -> bool:
    return _holds(user, program.sponsor_id, *SPONSOR_ROLES)


def is_network_admin(user, program) -> bool:
    return _holds(user, program.network_id, Role.ORG_ADMIN)


@rule("programs.view")
def can_view_program(user, program) -> bool:
    """The sponsor's admins, the network's admins and coordinators."""
    return is_sponsor_admin(user, program) or _holds(user, program.network_id, Role.ORG_ADMIN, Role.COORDINATOR)


@rule("programs.edit")
def can_edit_program(user, program) -> bool:
    return is_sponsor_admin(user, program) or is_network_admin(user, program)


@rule("programs.price")
def can_set_prices(user, program) -> bool:
    """The price terms the network bills by (case rates, per member per month, self-pay, currency): the
    network's admins set them; the sponsor's admins read them and edit the rest of the program."""
    return is_network_admin(user, program)


@rule("programs.roster")
def can_import_roster(user, program) -> bool:
    return is_sponsor_admin(user, program) or is_network_admin(user, program)


@rule("programs.refer")
def can_refer(user, program) -> bool:
    """A payer's care manager (payer admin) refers mandated reviews."""
    return _holds(user, program.sponsor_id, Role.PAYER_ADMIN) and program.sponsor.kind == "payer"


@rule("programs.bill")
def can_bill(user, program) -> bool:
    """Invoices and claims: the network's admins issue them; the sponsor's admins read them."""
    return is_network_admin(user, program) or is_sponsor_admin(user, program)


@rule("programs.issue_invoice")
def can_issue_invoice(user, program) -> bool:
    return is_network_admin(user, program) or _holds(user, program.network_id, Role.COORDINATOR)


@rule("programs.eligibility")
def can_check_eligibility(user, program) -> bool:
    """Coordinators of the network see eligibility on cases; sponsors and network admins too."""
    return can_view_program(user, program)
