"""Reads of consults, scoped through the case (cases.selectors.get_case) and audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import prefetch_related_objects
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.selectors import cases_for
from konsil.core import authz
from konsil.core.errors import NotFound
from konsil.core.prepared import ID, Prepared

from .models import Consult, Party

ROOM_FIELDS = ("id", "case_id", "specialist_id", "mode", "status", "video_engine", "starts_at", "ends_at",
               "specialist__user_id", "case__id", "case__patient_id", "case__requester_id", "case__network_id",
               "case__sponsor_id", "case__patient__user_id")


def room_party(user, pk) -> tuple[Consult, str] | None:
    """The room's hot path (a poll every second or so from each side): the consult and the caller's side in one
    narrow query, or None when the caller is not plainly one of the two sides (the caller then takes the full,
    audited `get_consult` path, which answers 404 to strangers and 403 to others who see the consult).

    Plainly a side: the consult's specialist, the patient, the case's requester; a caregiver's standing
    authorization is checked by `cases.relations` (one more query)."""
    user_id = getattr(user, "pk", None)
    if user_id is None:
        return None
    try:
        consult = Consult.objects.select_related("case__patient", "specialist").only(*ROOM_FIELDS).get(pk=pk)
    except (Consult.DoesNotExist, ValueError, DjangoValidationError):
        return None
    if consult.specialist.user_id == user_id:
        return consult, Party.SPECIALIST
    case = consult.case
    if case.patient.user_id == user_id or case.requester_id == user_id or rel.CAREGIVER in rel.relations(user, case):
        return consult, Party.PATIENT
    return None


def consults_of(user, case):
    """A case's consults for a user who holds the case (caller already read it through get_case)."""
    if not authz.can("consult.view", user, case):
        return Consult.objects.none()
    return _consults_query(case).prefetch_related("notes__author")


def _consults_query(case):
    return Consult.objects.filter(case=case).select_related("specialist__user")


_CONSULTS = Prepared(Consult, _consults_query, case=ID)


def consult_list(user, case) -> list[Consult]:
    """`consults_of` read for a page that shows them all (compiled once; the notes read only where there are
    consults)."""
    if not authz.can("consult.view", user, case):
        return []
    consults = _CONSULTS(case=case.pk, known={"case": case})
    prefetch_related_objects(consults, "notes__author")
    return consults


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

