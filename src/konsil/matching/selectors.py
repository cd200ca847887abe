"""Reads of the specialist directory, and who may receive a case."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Specialist, Specialty

ACTIVE_CASE_STATUSES = ("accepted", "in_review", "info_requested", "opinion_drafted", "signed")


def specialties() -> QuerySet[Specialty]:
    return Specialty.objects.select_related("parent")


def directory(*, network=None, specialty: str | None = None, state: str | None = None,
              language: str | None = None) -> QuerySet[Specialist]:
    """Specialists filtered by specialty (its subspecialties included), valid license in `state`, language."""
    qs = Specialist.objects.select_related("user").prefetch_related("specialties", "licenses").annotate(
        active_cases=Count("cases", filter=Q(cases__status__in=ACTIVE_CASE_STATUSES), distinct=True)
    )
    if network is not None:
        qs = qs.filter(network=network)
    if specialty:
        qs = qs.filter(Q(specialties__code=specialty) | Q(specialties__parent__code=specialty))
    if state:
        qs = qs.filter(licenses__state=state, licenses__expires_on__gte=timezone.localdate())
    if language:
        # JSON containment is not portable to SQLite; languages lists are short, so filter by id.
        ids = [s.pk for s in Specialist.objects.only("id", "languages") if language in (s.languages or [])]
        qs = qs.filter(pk__in=ids)
    return qs.distinct()


def candidates(case) -> QuerySet[Specialist]:
    """Specialists eligible to be offered `case` (specialty, license for the patient's state, accepting)."""
    qs = directory(network=case.network, specialty=case.specialty_id,
                   state=case.patient.state or None).filter(accepting=True)
    declined = case.offers.filter(status="declined").values("specialist")
    return qs.exclude(pk__in=declined)


def ineligibility(case, specialist_id) -> str | None:
    """Why `specialist_id` may not be offered `case`, or None when they may."""
    try:
        specialist = Specialist.objects.get(pk=specialist_id, network=case.network)
    except (Specialist.DoesNotExist, ValueError, DjangoValidationError):
        return _("Unknown specialist.")
    if not specialist.accepting:
        return _("This specialist is not accepting cases.")
    if case.offers.filter(specialist=specialist, status="declined").exists():
        return _("This specialist already declined the case.")
    if case.specialty_id and not specialist.specialties.filter(
        Q(code=case.specialty_id) | Q(parent__code=case.specialty_id)
    ).exists():
        return _("This specialist does not practise the case's specialty.")
    state = case.patient.state
    if state and not specialist.licenses.filter(state=state, expires_on__gte=timezone.localdate()).exists():
        return _("This specialist holds no valid license for %(state)s.") % {"state": state}
    active = specialist.cases.filter(status__in=ACTIVE_CASE_STATUSES).count()
    if active >= specialist.capacity:
        return _("This specialist has no capacity left.")
    return None
