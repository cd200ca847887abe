"""The DICOM application entities each network works with (DicomNode), and the network a caller belongs to.

A calling AE title names a configured node, and the node names its network: what it pushes is routed only to
that network's cases or inbox, and what it queries and retrieves is only that network's imaging. Once any node
is configured, unknown calling AE titles are refused at association. An installation with no node configured
(the embedded default) takes any caller the listener's address rules allow, into the default network
(`KONSIL_DICOM_NETWORK`, or the only provider network).
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from konsil.accounts.models import Organization, Role
from konsil.accounts.roles import OrganizationKind

from .models import DicomNode


def node_for(ae_title: str) -> DicomNode | None:
    ae_title = (ae_title or "").strip()
    if not ae_title:
        return None
    return DicomNode.objects.select_related("network").filter(ae_title=ae_title, active=True).first()


def known_ae_titles() -> frozenset[str]:
    """Active nodes' AE titles, read at every association (from the listener's threads: one small query)."""
    try:
        return frozenset(DicomNode.objects.filter(active=True).values_list("ae_title", flat=True))
    finally:
        if not connection.in_atomic_block:
            connection.close()  # association threads come and go: do not leave their connections open


def default_network() -> Organization | None:
    """Where a caller that is not a configured node belongs: the configured slug, or the only provider network."""
    slug = getattr(settings, "KONSIL_DICOM_NETWORK", "")
    if slug:
        return Organization.objects.filter(slug=slug).first()
    networks = list(Organization.objects.filter(kind=OrganizationKind.PROVIDER_NETWORK, active=True)[:2])
    return networks[0] if len(networks) == 1 else None


def network_of(node: DicomNode | None) -> Organization | None:
    return node.network if node is not None else default_network()


def coordinator_networks(user) -> list:
    """The networks in which `user` is an active coordinator (their imaging inbox and sources)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(user.memberships.filter(role=Role.COORDINATOR, active=True).values_list("organization_id",
                                                                                          flat=True))


def sources_for(user):
    """The PACS this coordinator may query and retrieve from: their networks' active source nodes."""
    return DicomNode.objects.filter(network_id__in=coordinator_networks(user), active=True, is_source=True)
