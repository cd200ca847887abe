"""Reads of records requests, scoped through the case selectors."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from konsil.accounts.models import organizations_of
from konsil.accounts.roles import Role
from konsil.cases.models import clinical_text
from konsil.cases.selectors import attachment_list
from konsil.core.files import get_for
from konsil.core.prepared import ID, Prepared

from .models import Derivative, RecordsRequest, RequestStatus

OVERDUE_SHOWN = 20  # overdue requests the queue lists


def _overdue_query(user, today):
    networks = organizations_of(user, Role.COORDINATOR).values("pk")
    return RecordsRequest.objects.filter(
        case__network__in=networks, status=RequestStatus.REQUESTED, due_on__lt=today
    ).select_related("case").defer(*clinical_text("case")).order_by("due_on", "created_at")[:OVERDUE_SHOWN]


_OVERDUE = Prepared(RecordsRequest, _overdue_query, user=ID, today=models.DateField())


def overdue_for_coordinator(user) -> list[RecordsRequest]:
    """Open requests past their due date in the coordinator's networks, the longest overdue first (the queue
    lists them on every load: compiled once)."""
    return _OVERDUE(user=user.pk, today=timezone.localdate())


# --- what Konsil read out of a case's records ----------------------------------------------------------------

MAX_TEXT_PER_RECORD = 20_000


def record_texts(case) -> list[tuple[str, str]]:
    """Text extracted from the case's records (PDF text, FHIR summaries, notes) with a reference to each record.

    For triage (a system reader): not audited per read, the proposal it feeds is.
    """
    out = []
    derivatives = Derivative.objects.filter(attachment__case=case, kind=Derivative.Kind.TEXT,
                                            attachment__status="ready").order_by("created_at")
    for derivative in derivatives:
        try:
            text = get_for(derivative).decode("utf-8", "replace")[:MAX_TEXT_PER_RECORD]
        except Exception:  # noqa: S112 - an unreadable derivative is skipped, the record's page shows the error
            continue
        out.append((text, f"attachment:{derivative.attachment_id}"))
    return out


def clinical_summaries(case) -> list[dict]:
    """The FHIR clinical summaries of a case, newest record first (each with its record id)."""
    import json

    return [{"attachment_id": str(d.attachment_id), **json.loads(get_for(d))} for d in _SUMMARIES(case=case.pk)]


def _summaries(case):
    return Derivative.objects.filter(attachment__case=case, kind=Derivative.Kind.SUMMARY,
                                     attachment__status="ready").order_by("-created_at")


_SUMMARIES = Prepared(Derivative, _summaries, case=ID)


# --- scoped reads for files and imaging (audited by the views that show them) ---------------------------------


def records_for(user, case) -> list:
    """A case's top-level records with their processing state; the caller holds `case` through `get_case`."""
    return attachment_list(user, case)


def _first_thumbnails(case):
    return Derivative.objects.filter(attachment__case=case, attachment__parent__isnull=True,
                                     kind=Derivative.Kind.THUMBNAIL, index=0).values_list("attachment_id", "pk")


_THUMBNAILS = Prepared(Derivative, _first_thumbnails, case=ID)


def first_thumbnails(case) -> dict:
    """{record id: its first thumbnail's id} for the case's top-level records (the upload widget polls them)."""
    return dict(_THUMBNAILS(case=case.pk))


def studies_for(user, case):
    """The case's imaging index, ready for the viewer."""
    from django.db.models import Prefetch

    from .models import Series, Study

    return Study.objects.filter(case=case).prefetch_related(
        Prefetch("series", queryset=Series.objects.prefetch_related("instances")))


def visible_instances(user):
    """DICOM instances of the cases `user` may see clinically."""
    from konsil.cases.selectors import cases_for

    from .models import Instance

    return Instance.objects.filter(series__study__case__in=cases_for(user).values("pk")).select_related(
        "attachment", "series__study__case")


def visible_series(user):
    from konsil.cases.selectors import cases_for

    from .models import Series

    return Series.objects.filter(study__case__in=cases_for(user).values("pk")).select_related(
        "thumbnail", "study__case")


def visible_derivatives(user):
    from konsil.cases.selectors import cases_for

    return Derivative.objects.filter(attachment__case__in=cases_for(user).values("pk")).select_related(
        "attachment__case")
