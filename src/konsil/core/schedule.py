"""Periodic work: a small clock that enqueues tasks on the task backend at fixed intervals.

`konsil run` starts it beside the worker (`konsil schedule`); deployments run that same command as one process, or
call `konsil schedule --once` from cron. Each entry is a django-tasks task path and its interval in seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.utils.module_loading import import_string


@dataclass
class Periodic:
    task: str  # dotted path to a django-tasks task
    every: int  # seconds
    last: float = field(default=0.0)


SCHEDULE = [
    Periodic("konsil.records.tasks.send_records_reminders", 3600),
    Periodic("konsil.records.tasks.purge_expired_uploads", 3600),
    Periodic("konsil.matching.tasks.run_batch_assignments", 900),
    Periodic("konsil.matching.tasks.warn_expiring_credentials", 86400),
    Periodic("konsil.cases.tasks.expire_offers", 60),
    Periodic("konsil.cases.tasks.send_sla_reminders", 300),
]


def due(now: float, schedule=None) -> list[Periodic]:
    return [p for p in (schedule or SCHEDULE) if now - p.last >= p.every]


def tick(now: float | None = None, schedule=None) -> list[str]:
    """Enqueue every task whose interval has passed; returns their paths."""
    now = time.monotonic() if now is None else now
    enqueued = []
    for periodic in due(now, schedule):
        import_string(periodic.task).enqueue()
        periodic.last = now
        enqueued.append(periodic.task)
    return enqueued


def loop(interval: float = 30.0) -> None:  # pragma: no cover - the long-running form of `tick`
    while True:
        tick()
        time.sleep(interval)
