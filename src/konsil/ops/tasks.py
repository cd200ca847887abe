"""The queues' own upkeep (run by the clock itself: see queues.py `inline`)."""

from __future__ import annotations

from django_tasks import task


@task()
def recover_tasks() -> dict:
    """Every minute: work whose worker died or whose broker lost it is queued again (recovery.py)."""
    from .recovery import recover

    return recover()
