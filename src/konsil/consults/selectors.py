"""Reads of consults, scoped through the case (cases.selectors.get_case) and audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.selectors import cases_for
from konsil.core import authz
from konsil.core.errors import NotFound

from .models import Consult


def consults_of(user, case):
    """A case's consults for a user who holds the case (caller already read it through get_case)."""
    if not authz.can("consult.view", user, case):
        return Consult.objects.none()
    return case.consults.select_related("specialist__user").prefetch_related("notes__author")


def get_consult(user, pk, *, action: str = "consult.read", audit: bool = True) -> Consult:
    """One consult of a case the user may see and whose consults they may see, or NotFound."""
    try:
        consult = Consult.objects.select_related("case__patient", "case__identity", "specialist__user").get(
            pk=pk, case__in=cases_for(user).values("pk"))
    except (Consult.DoesNotExist, ValueError, DjangoValidationError):
        emit(actor=user, action=action, object_type="consults.consult", object_id=str(pk)[:64], outcome="denied")
        raise NotFound(_("Consult not found.")) from None
    if not authz.can("consult.view", user, consult.case):
        emit(actor=user, action=action, obj=consult, patient_id=consult.case.patient_id, outcome="denied")
        raise NotFound(_("Consult not found."))
    if audit:
        emit(actor=user, action=action, obj=consult, patient_id=consult.case.patient_id,
             role=rel.primary_relation(rel.relations(user, consult.case)), detail={"case": str(consult.case_id)})
    return consult

