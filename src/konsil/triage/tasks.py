"""Background triage: thin, idempotent, keyed by case id."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task


@task()
def propose_triage(case_id: str) -> None:
    from konsil.cases.models import Case

    from .services import propose

    case = Case.objects.filter(pk=case_id, status="submitted").first()
    if case is None or case.triage_proposals.exists():
        return
    propose(case=case)


def enqueue_proposal(case_id) -> None:
    """Ask the worker for a proposal once the submitting transaction commits."""
    transaction.on_commit(lambda: propose_triage.enqueue(str(case_id)))


@task()
def reconsider_triage(case_id: str) -> None:
    """Records that arrive while a case waits for triage are read: a fresh proposal replaces the earlier one."""
    from konsil.cases.models import Case

    from .services import propose

    case = Case.objects.filter(pk=case_id, status="submitted").first()
    if case is not None:
        propose(case=case)


def enqueue_reconsideration(case_id) -> None:
    transaction.on_commit(lambda: reconsider_triage.enqueue(str(case_id)))
