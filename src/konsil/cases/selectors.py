"""Every read of case data, scoped to what the actor may see, and audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.roles import Role
from konsil.audit.services import emit, emit_many
from konsil.core.errors import NotFound

from . import relations as rel
from .models import Attachment, Case, Message, Notification


def _clinical_q(user) -> Q:
    """What the user may see: own, cared-for, requested, coordinated, offered, assigned, signed."""
    q = Q(patient__user=user) | Q(requester=user) | Q(
        patient__in=_caregiver_patients(user)
    )
    coordinated = user.organizations_for(Role.COORDINATOR).values("pk")
    q |= Q(network__in=coordinated)
    q |= Q(emergency_grants__user=user, emergency_grants__expires_at__gt=timezone.now())  # break-glass, read only
    specialist = getattr(user, "specialist", None) if hasattr(user, "specialist") else None
    if specialist is not None:
        q |= Q(assigned_specialist=specialist)
        q |= Q(offers__specialist=specialist, offers__status="pending")
        q |= Q(opinions__author=specialist, opinions__signed_at__isnull=False)
        q |= Q(panels__status="convened", panels__members__specialist=specialist)
    return q


def _caregiver_patients(user):
    from .models import Patient

    return Patient.objects.filter(rel.active_caregiver_q(user)).values("pk")


def cases_for(user) -> QuerySet[Case]:
    """The cases whose clinical content `user` may read. Not audited: call `audit_list` for what is shown."""
    if not user.is_authenticated:
        return Case.objects.none()
    return (
        Case.objects.filter(_clinical_q(user))
        .distinct()
        .select_related("patient", "identity", "specialty", "assigned_specialist__user", "network")
    )


def sponsored_cases_for(user) -> QuerySet[Case]:
    """Payer and employer admins: the cases of their programs, for status and counts only."""
    orgs = user.organizations_for(Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN).values("pk")
    return Case.objects.filter(sponsor__in=orgs).only(
        "id", "reference", "status", "channel", "urgency", "created_at", "submitted_at", "delivered_at",
        "sponsor", "patient",
    )


def audit_list(user, cases, *, action: str = "case.list") -> None:
    """Record that these cases were shown to `user` (one event per case)."""
    emit_many(
        actor=user,
        events=[
            {"action": action, "object_type": "cases.case", "object_id": str(c.pk),
             "patient_id": c.patient_id}
            for c in cases
        ],
    )


def get_case(user, case_id, *, action: str = "case.read", audit: bool = True) -> Case:
    """One case the user may see, or NotFound (also for cases that exist but are not theirs)."""
    try:
        case = cases_for(user).get(pk=case_id)
    except (Case.DoesNotExist, ValueError, DjangoValidationError):
        emit(actor=user, action=action, object_type="cases.case", object_id=str(case_id)[:64],
             outcome="denied")
        raise NotFound(_("Case not found.")) from None
    if audit:
        role = rel.primary_relation(rel.relations(user, case))
        emit(actor=user, action=action, obj=case, patient_id=case.patient_id, role=role,
             purpose="emergency" if role == rel.EMERGENCY else "treatment")
    return case


def queue_counts(user) -> dict[str, int]:
    """Coordinator queue: open cases per status in the user's networks."""
    networks = user.organizations_for(Role.COORDINATOR).values("pk")
    rows = Case.objects.filter(network__in=networks).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def messages_for(user, case) -> QuerySet[Message]:
    """A case's thread; the caller already holds the case through `get_case`."""
    return case.messages.select_related("author")


def attachments_for(user, case) -> QuerySet[Attachment]:
    """The records sent to a case (files inside an archive are listed under their archive)."""
    return case.attachments.filter(parent__isnull=True).select_related("uploaded_by")


def notifications_for(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("case")
