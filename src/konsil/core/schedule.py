"""Periodic work: a small clock that enqueues tasks on the task backend at fixed intervals.

`konsil run` starts it beside the worker (`konsil schedule`); deployments run that same command as one process, or
call `konsil schedule --once` from cron. Each entry is a django-tasks task path and its interval in seconds. The
time each task last ran is kept in KONSIL_HOME/schedule.json, so a cron call or a restart enqueues only what is due.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
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
    Periodic("konsil.audit.tasks.write_checkpoint", 300),  # signed audit chain head, outside the database
    Periodic("konsil.fhir.tasks.retry_due_webhooks", 60),  # webhook retries that are due
    Periodic("konsil.fhir.tasks.retry_due_remote_documents", 60),  # referral documents by URL to fetch again
    Periodic("konsil.fhir.tasks.purge_expired_tokens", 3600),
    Periodic("konsil.analytics.tasks.refresh_facts", 300),  # analytics facts, exact as of each refresh
    Periodic("konsil.consults.tasks.send_consult_reminders", 300),  # consult reminders with the invitation
    Periodic("konsil.consults.tasks.purge_room_signals", 3600),
    Periodic("konsil.outcomes.tasks.run_follow_ups", 3600),  # plan, send, remind, record non-responses
    Periodic("konsil.ops.tasks.recover_tasks", 60),  # work a dead worker or a lost broker left: queued again
]


def due(now: float, schedule=None) -> list[Periodic]:
    return [p for p in (schedule or SCHEDULE) if now - p.last >= p.every]


def tick(now: float | None = None, schedule=None, state: Path | None = None) -> list[str]:
    """Enqueue every task whose interval has passed; returns their paths. `state` keeps the last runs on disk."""
    now = time.time() if now is None else now
    schedule = schedule or SCHEDULE
    last = _load(state)
    for periodic in schedule:
        periodic.last = max(periodic.last, last.get(periodic.task, 0.0))
    enqueued = []
    for periodic in due(now, schedule):
        import_string(periodic.task).enqueue()
        periodic.last = now
        enqueued.append(periodic.task)
    if state is not None and enqueued:
        state.write_text(json.dumps({p.task: p.last for p in schedule}))
    return enqueued


def state_file() -> Path:
    return settings.HOME / "schedule.json"


def _load(state: Path | None) -> dict:
    try:
        return json.loads(state.read_text()) if state is not None and state.exists() else {}
    except (OSError, ValueError):
        return {}  # an unreadable record: everything counts as due once


def loop(interval: float = 30.0) -> None:  # pragma: no cover - the long-running form of `tick`
    while True:
        tick(state=state_file())
        time.sleep(interval)
