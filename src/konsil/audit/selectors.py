"""Reads of the audit trail: a patient's own access log, and the auditor's filtered trail (itself audited)."""

from __future__ import annotations

from django.db.models import QuerySet

from konsil.core import authz

from .models import AuditEvent
from .services import emit


def access_log_for_patient_user(user) -> QuerySet[AuditEvent]:
    """Events about the patient records linked to `user` (Patient.user), newest first."""
    from konsil.cases.models import Patient

    if not user.is_authenticated:
        return AuditEvent.objects.none()
    patients = Patient.objects.filter(user=user).values("pk")
    return AuditEvent.objects.filter(patient_id__in=patients).order_by("-seq")


def trail_for_auditor(user, filters: dict) -> QuerySet[AuditEvent]:
    """The trail for an auditor, filtered by action (prefix), actor, dates and outcome; records the read."""
    authz.require("audit.view_trail", user)
    qs = AuditEvent.objects.order_by("-seq")
    if filters.get("action"):
        qs = qs.filter(action__startswith=filters["action"])
    if filters.get("actor"):
        qs = qs.filter(actor_label__icontains=filters["actor"])
    if filters.get("date_from"):
        qs = qs.filter(occurred_at__date__gte=filters["date_from"])
    if filters.get("date_to"):
        qs = qs.filter(occurred_at__date__lte=filters["date_to"])
    if filters.get("outcome"):
        qs = qs.filter(outcome=filters["outcome"])
    shown = {k: str(v) for k, v in filters.items() if v and k != "actor"}
    emit(actor=user, action="audit.read", role="auditor", purpose="compliance",
         detail={"filters": shown, "actor_filter": bool(filters.get("actor"))})
    return qs
