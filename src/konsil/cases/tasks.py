"""Background case work: thin, idempotent, keyed by id."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task


@task()
def expire_offers() -> None:
    """Periodic, every minute: offers past their acceptance window time out and move on."""
    from .offers import expire_offers as expire

    expire()


@task()
def advance_case(case_id: str) -> None:
    """After a decline: offer the next specialist or escalate (does nothing when the case moved on)."""
    from .offers import advance

    advance(case_id=case_id)


def enqueue_advance(case_id) -> None:
    transaction.on_commit(lambda: advance_case.enqueue(str(case_id)))


@task()
def send_sla_reminders() -> None:
    """Periodic, every five minutes: review reminders to specialists, breach alerts to coordinators."""
    from .sla import sla_reminders

    sla_reminders()
