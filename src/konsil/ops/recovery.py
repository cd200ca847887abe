"""Putting back work whose worker died or whose broker lost it, from the database's state (run by the clock)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import TaskRun
from .runner import holder_alive, owner_alive

logger = logging.getLogger(__name__)


def release_dead_runs(now=None) -> list:
    """Running runs whose worker is gone (its process died, or its lease ran out) go back to `queued`."""
    now = now or timezone.now()
    released = []
    for run in TaskRun.objects.filter(state=TaskRun.State.RUNNING).only("id", "state", "owner", "lease_until"):
        if not holder_alive(run, now) and TaskRun.objects.filter(
                pk=run.pk, state=TaskRun.State.RUNNING, owner=run.owner).update(
                state=TaskRun.State.QUEUED, sent_at=None, lease_until=None):
            released.append(run.pk)
    return released


def requeue_database_tasks(backend_alias: str = "default", now=None) -> int:
    """Database backend: results left RUNNING by a dead worker are READY again. Who held one is in its TaskRun,
    or (an atomic task's claim rolls back with it) in the worker id, "host:pid:start|lane"; a holder on another
    machine is given the lease."""
    from django_tasks_db.models import DBTaskResult, TaskResultStatus

    now = now or timezone.now()
    stuck = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, backend_name=backend_alias)
    runs = {run.pk: run for run in TaskRun.objects.filter(pk__in=stuck.values("id"))}
    cutoff = now - timedelta(seconds=settings.KONSIL_TASK_LEASE_SECONDS)
    ready = []
    for result in stuck.only("id", "started_at", "worker_ids"):
        run = runs.get(result.id)
        if run is not None:  # released above, finished, or held: its run says
            dead = run.state != TaskRun.State.RUNNING or not holder_alive(run, now)
        else:
            alive = owner_alive((result.worker_ids or [""])[-1].split("|")[0])
            dead = not alive if alive is not None else (result.started_at or now) < cutoff
        if dead:
            ready.append(result.id)
    return DBTaskResult.objects.filter(pk__in=ready, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.READY)


def recover() -> dict:
    """One pass: release dead runs, then put them back on the queue of whichever backend is configured."""
    from django_tasks import task_backends

    from .backends import CeleryBackend, DatabaseBackend, resend_due

    backend = task_backends["default"]
    released = release_dead_runs()
    report = {"released": len(released), "requeued": 0, "resent": 0}
    if isinstance(backend, DatabaseBackend):
        report["requeued"] = requeue_database_tasks(backend.alias)
    elif isinstance(backend, CeleryBackend):
        report["resent"] = resend_due()
    cutoff = timezone.now() - timedelta(days=7)  # the run key only has to outlive redeliveries
    report["pruned"] = TaskRun.objects.filter(state=TaskRun.State.DONE, finished_at__lt=cutoff).delete()[0]
    if any(report.values()):
        logger.info("task recovery: %s", report)
    return report
