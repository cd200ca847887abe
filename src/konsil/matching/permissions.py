"""Named permission checks of the matching pages, in the one registry (konsil.core.authz)."""

from konsil.accounts.roles import OrganizationKind, Role
from konsil.core.authz import rule


def managed_networks(user):
    """Provider networks where `user` coordinates or administers."""
    return user.organizations_for(Role.COORDINATOR, Role.ORG_ADMIN).filter(kind=OrganizationKind.PROVIDER_NETWORK)


@rule("matching.import")
def can_import(user, network=None) -> bool:
    networks = managed_networks(user)
    return networks.filter(pk=network.pk).exists() if network is not None else networks.exists()


@rule("matching.batch")
def can_run_batch(user, network=None) -> bool:
    networks = user.organizations_for(Role.COORDINATOR).filter(kind=OrganizationKind.PROVIDER_NETWORK)
    return networks.filter(pk=network.pk).exists() if network is not None else networks.exists()
