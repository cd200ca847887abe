"""How a user relates to a case: the case roles that permissions and the lifecycle table name."""

from __future__ import annotations

from django.db.models import Exists, Q
from django.utils import timezone

from konsil.accounts.roles import Role
from konsil.core import context

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
    """Every relation `user` has to `case` (empty when none), read in one query, once per read request
    (core.context.memo: kept while nothing is written)."""
    if user is None or not user.is_authenticated:
        return set()
    found: set[str] = set()
    if case.patient.user_id == user.pk:
        found.add(PATIENT)
    if case.requester_id == user.pk and PATIENT not in found:
        found.add(REQUESTER)
    kept = context.memo()
    key = ("relations", user.pk, case.pk, case.patient_id, case.network_id, case.sponsor_id,
           case.assigned_specialist_id)
    if kept is not None and key in kept:
        return found | kept[key]
    from .models import Case, Patient

    memberships = user.memberships.filter(active=True)
    checks = {
        CAREGIVER: Patient.objects.filter(pk=case.patient_id).filter(active_caregiver_q(user)),
        COORDINATOR: memberships.filter(organization_id=case.network_id, role=Role.COORDINATOR),
        SPECIALIST: Case.objects.filter(pk=case.pk, assigned_specialist__user=user),
        OFFERED: case.offers.filter(specialist__user=user, status="pending"),
        SIGNER: case.opinions.filter(author__user=user, signed_at__isnull=False),
        PANEL_MEMBER: case.panels.filter(status="convened", members__specialist__user=user),
        EMERGENCY: case.emergency_grants.filter(user=user, expires_at__gt=timezone.now()),
    }
    if case.sponsor_id:
        checks[SPONSOR_ADMIN] = memberships.filter(organization_id=case.sponsor_id,
                                                   role__in=[Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN])
    names = list(checks)
    row = Case.objects.filter(pk=case.pk).values_list(
        *[Exists(checks[name].values("pk")) for name in names]).first() or [False] * len(names)
    queried = frozenset(name for name, present in zip(names, row, strict=True) if present)
    if kept is not None:
        kept[key] = queried
    return found | queried


def primary_relation(rels: set[str]) -> str:
    """The relation recorded in the audit trail when a user has several."""
    for name in (SPECIALIST, OFFERED, COORDINATOR, PATIENT, CAREGIVER, REQUESTER, SIGNER, PANEL_MEMBER,
                 EMERGENCY, SPONSOR_ADMIN, SYSTEM):
        if name in rels:
            return name
    return ""
