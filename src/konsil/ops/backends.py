"""django-tasks backends: the database (embedded default) and Celery on Redis, both with queues and priorities.

Every `.enqueue()` in the code base goes through one of these, so routing (queues.py) and the run key
(runner.py) apply everywhere without touching the tasks themselves. Select with KONSIL_TASKS_BACKEND
(`database`, `celery`, or a dotted path).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task, TaskResult, TaskResultStatus
from django_tasks.exceptions import TaskResultDoesNotExist
from django_tasks.signals import task_enqueued
from django_tasks.utils import normalize_json
from django_tasks_db.backend import DatabaseBackend as BaseDatabaseBackend

from .queues import QUEUES, route_for, routed

logger = logging.getLogger(__name__)
ALIASES = {"database": "konsil.ops.backends.DatabaseBackend", "celery": "konsil.ops.backends.CeleryBackend"}


def _with_queues(params: dict) -> dict:
    return {**params, "QUEUES": params.get("QUEUES") or QUEUES}


def _inline(backend: BaseTaskBackend, task: Task, args, kwargs) -> TaskResult:
    """Run a queue-repair task in the enqueuing process (the clock): it must work while the queues do not."""
    started = timezone.now()
    value = task.call(*args, **kwargs)
    result = TaskResult(task=task, id=f"inline-{started.timestamp()}", status=TaskResultStatus.SUCCESSFUL,
                        enqueued_at=started, started_at=started, finished_at=timezone.now(),
                        last_attempted_at=started, args=list(args), kwargs=dict(kwargs), backend=backend.alias,
                        errors=[], worker_ids=[])
    object.__setattr__(result, "_return_value", value)
    return result


class DatabaseBackend(BaseDatabaseBackend):
    """django-tasks-db with Konsil's queues and priorities; run by `konsil worker` (lanes of threads)."""

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, _with_queues(params))

    def enqueue(self, task, args, kwargs):
        if route_for(task.module_path).inline:
            return _inline(self, task, args, kwargs)
        return super().enqueue(routed(task), args, kwargs)


STATUS = {"queued": TaskResultStatus.READY, "running": TaskResultStatus.RUNNING,
          "done": TaskResultStatus.SUCCESSFUL, "failed": TaskResultStatus.FAILED}


def celery_priority(priority: int) -> int:
    """django-tasks' -100 (last) .. 100 (first) to Redis' 9 (last) .. 0 (first)."""
    return max(0, min(9, round((100 - priority) * 9 / 200)))


class CeleryBackend(BaseTaskBackend):
    """Each enqueue writes a TaskRun (the outbox, in the caller's transaction) and, once that commits, sends its
    id to Celery on the run's queue. A broker that is away loses nothing: the clock (`recover_tasks`) sends
    again what was never delivered or whose worker died."""

    supports_defer = True
    supports_priority = True
    supports_get_result = True

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, _with_queues(params))

    def enqueue(self, task, args, kwargs):
        self.validate_task(task)
        if route_for(task.module_path).inline:
            return _inline(self, task, args, kwargs)
        from .models import TaskRun

        task = routed(task)
        run = TaskRun.objects.create(task_path=task.module_path, args=normalize_json(list(args)),
                                     kwargs=normalize_json(dict(kwargs)), queue=task.queue_name,
                                     priority=task.priority, backend=self.alias, run_after=task.run_after)
        transaction.on_commit(lambda: send(run))
        result = self._result(run, task)
        task_enqueued.send(type(self), task_result=result)
        return result

    def _result(self, run, task=None) -> TaskResult:
        from django.utils.module_loading import import_string

        task = task or import_string(run.task_path).using(queue_name=run.queue, priority=run.priority,
                                                          backend=self.alias)
        return TaskResult(task=task, id=str(run.pk), status=STATUS[run.state], enqueued_at=run.enqueued_at,
                          started_at=run.started_at, finished_at=run.finished_at, last_attempted_at=run.started_at,
                          args=run.args, kwargs=run.kwargs, backend=self.alias,
                          errors=[], worker_ids=[run.owner] if run.owner else [])

    def get_result(self, result_id: str) -> TaskResult:
        from django.core.exceptions import ValidationError

        from .models import TaskRun

        try:
            return self._result(TaskRun.objects.get(pk=result_id))
        except (TaskRun.DoesNotExist, ValidationError) as exc:
            raise TaskResultDoesNotExist(result_id) from exc


def send(run) -> bool:
    """Hand a run's id to the broker; False (and the run stays queued for the clock) when the broker is away."""
    from .celery_app import app
    from .models import TaskRun

    eta = run.run_after if run.run_after and run.run_after > timezone.now() else None
    try:
        app.send_task("konsil.run", args=[str(run.pk)], task_id=str(run.pk), queue=run.queue,
                      priority=celery_priority(run.priority), eta=eta, retry=True,
                      retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})
    except Exception as exc:  # the broker is away: the clock sends it again from the database
        logger.warning("task run %s not sent (%s); the clock will send it again", run.pk, type(exc).__name__)
        return False
    TaskRun.objects.filter(pk=run.pk).update(sent_at=timezone.now())
    return True


def resend_due(now=None) -> int:
    """Queued runs the broker may have lost (never sent, or sent long ago): send them again; a duplicate is
    harmless, the run key skips it."""
    from django.db.models import Q

    from .models import TaskRun

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.KONSIL_TASK_REQUEUE_SECONDS)
    due = TaskRun.objects.filter(state=TaskRun.State.QUEUED).filter(
        Q(sent_at__isnull=True) | Q(sent_at__lt=stale)).filter(Q(run_after__isnull=True) | Q(run_after__lte=now))
    sent = 0
    for run in due.order_by("-priority", "enqueued_at")[:1000]:
        sent += send(run)
    return sent
