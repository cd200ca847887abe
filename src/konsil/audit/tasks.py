"""Periodic audit work: a signed checkpoint of the chain head outside the database."""

from __future__ import annotations

from django_tasks import task


@task()
def write_checkpoint() -> None:
    """Every few minutes (core/schedule.py): chain what is still pending, then append a signed checkpoint when
    the chain moved."""
    from .checkpoints import write
    from .services import seal

    seal()
    write()
