"""Small helpers shared by the apps' own HTML pages (records, fhir, ...); core imports none of those apps."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404

from konsil.audit.services import emit


def toggle_active(actor, queryset, pk, *, on: str, off: str):
    """Switch the row `pk` of `queryset` on or off, locked, and audit it as `on` or `off` in the same transaction.

    A row outside `queryset` (another organization's, or none) is a 404. Returns the row as saved.
    """
    with transaction.atomic():
        obj = queryset.select_for_update().filter(pk=pk).first()
        if obj is None:
            raise Http404
        obj.active = not obj.active
        obj.save(update_fields=["active", "updated_at"])
        emit(actor=actor, action=on if obj.active else off, obj=obj)
    return obj
