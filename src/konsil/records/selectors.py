"""Reads of records requests, scoped through the case selectors."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from konsil.accounts.roles import Role

from .models import RecordsRequest, RequestStatus


def overdue_for_coordinator(user) -> QuerySet[RecordsRequest]:
    """Open requests past their due date in the coordinator's networks (for the queue)."""
    networks = user.organizations_for(Role.COORDINATOR).values("pk")
    return RecordsRequest.objects.filter(
        case__network__in=networks, status=RequestStatus.REQUESTED, due_on__lt=timezone.localdate()
    ).select_related("case")
