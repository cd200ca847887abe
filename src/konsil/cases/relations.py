"""How a user relates to a case: the case roles that permissions and the lifecycle table name."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from konsil.accounts.roles import Role

# Case roles (relations), distinct from membership roles.
PATIENT = "patient"
CAREGIVER = "caregiver"
REQUESTER = "requester"
COORDINATOR = "coordinator"
SPECIALIST = "specialist"  # the assigned specialist
OFFERED = "offered_specialist"  # a specialist with a pending offer
SIGNER = "signer"  # a specialist who signed an opinion on the case (keeps read access)
SPONSOR_ADMIN = "sponsor_admin"  # payer/employer admin of the sponsoring program: status only
SYSTEM = "system"  # an automatic process (matching, SLA clock) acting as itself, never a user
PANEL_MEMBER = "panel_member"  # a seat on the case's convened multidisciplinary panel: reads the record
EMERGENCY = "emergency_access"  # a break-glass grant in force (cases.emergency): reads the case, writes nothing

CLINICAL_RELATIONS = frozenset({PATIENT, CAREGIVER, REQUESTER, COORDINATOR, SPECIALIST, OFFERED, SIGNER,
                                PANEL_MEMBER})
PATIENT_SIDE = frozenset({PATIENT, CAREGIVER, REQUESTER})


def active_caregiver_q(user, prefix: str = "") -> Q:
    today = timezone.localdate()
    return Q(**{
        f"{prefix}caregiver_authorizations__caregiver": user,
        f"{prefix}caregiver_authorizations__revoked_at__isnull": True,
    }) & (
        Q(**{f"{prefix}caregiver_authorizations__expires_on__isnull": True})
        | Q(**{f"{prefix}caregiver_authorizations__expires_on__gte": today})
    )


def relations(user, case) -> set[str]:
    """Every relation `user` has to `case` (empty when none)."""
    if user is None or not user.is_authenticated:
        return set()
    found: set[str] = set()
    if case.patient.user_id == user.pk:
        found.add(PATIENT)
    if case.requester_id == user.pk and PATIENT not in found:
        found.add(REQUESTER)
    from .models import Patient

    if Patient.objects.filter(pk=case.patient_id).filter(active_caregiver_q(user)).exists():
        found.add(CAREGIVER)
    if user.memberships.filter(organization_id=case.network_id, role=Role.COORDINATOR, active=True).exists():
        found.add(COORDINATOR)
    specialist = getattr(user, "specialist", None) if hasattr(user, "specialist") else None
    if specialist is not None:
        if case.assigned_specialist_id == specialist.pk:
            found.add(SPECIALIST)
        if case.offers.filter(specialist=specialist, status="pending").exists():
            found.add(OFFERED)
        if case.opinions.filter(author=specialist, signed_at__isnull=False).exists():
            found.add(SIGNER)
        if case.panels.filter(status="convened", members__specialist=specialist).exists():
            found.add(PANEL_MEMBER)
    if case.emergency_grants.filter(user=user, expires_at__gt=timezone.now()).exists():
        found.add(EMERGENCY)
    if case.sponsor_id and user.memberships.filter(
        organization_id=case.sponsor_id, role__in=[Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN], active=True
    ).exists():
        found.add(SPONSOR_ADMIN)
    return found


def primary_relation(rels: set[str]) -> str:
    """The relation recorded in the audit trail when a user has several."""
    for name in (SPECIALIST, OFFERED, COORDINATOR, PATIENT, CAREGIVER, REQUESTER, SIGNER, PANEL_MEMBER,
                 EMERGENCY, SPONSOR_ADMIN, SYSTEM):
        if name in rels:
            return name
    return ""
