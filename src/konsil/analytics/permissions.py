"""Named checks: network leaders (coordinators, org admins) see their network's analytics; payer and employer
admins see their own programs' aggregates, with small cells suppressed."""

from konsil.accounts.roles import Role
from konsil.core.authz import rule

LEADER_ROLES = (Role.COORDINATOR, Role.ORG_ADMIN)
SPONSOR_ROLES = (Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN)


@rule("analytics.view_network")
def can_view_network(user, network=None) -> bool:
    if network is None:
        return user.has_role(*LEADER_ROLES)
    return user.organizations_for(*LEADER_ROLES).filter(pk=network.pk, kind="provider_network").exists()


@rule("analytics.view_sponsor")
def can_view_sponsor(user, sponsor=None) -> bool:
    if sponsor is None:
        return user.has_role(*SPONSOR_ROLES)
    return user.organizations_for(*SPONSOR_ROLES).filter(pk=sponsor.pk).exists()
