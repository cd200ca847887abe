"""The Celery application (KONSIL_TASKS_BACKEND=celery): one task, `konsil.run`, that runs a TaskRun by id.

Late acknowledgement (a message is acknowledged after its work, so a worker killed mid-task leaves it to be
delivered again), one message prefetched per process, retries with backoff for engines that are briefly away.
Start workers with `konsil worker --lane urgent` and `konsil worker --lane bulk` (docs/deployment.md).
"""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konsil.settings")
logger = logging.getLogger(__name__)

app = Celery("konsil")


def configure(celery: Celery) -> None:
    from django.conf import settings

    celery.conf.update(
        broker_url=settings.KONSIL_CELERY_BROKER_URL,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.KONSIL_CELERY_VISIBILITY_TIMEOUT,  # unacknowledged -> delivered again
            "queue_order_strategy": "priority", "priority_steps": list(range(10)), "sep": ":",
            "socket_connect_timeout": 3, "socket_timeout": 10,
        },
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # the outcome lives in TaskRun
        task_default_queue="default",
        task_create_missing_queues=True,
        task_default_priority=5,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        accept_content=["json"], task_serializer="json",
    )


configure(app)


@worker_init.connect
def _warm(**_kwargs) -> None:
    """The worker warms what its tasks read lazily (core/startup.py) before it forks its processes, which share
    it (Celery's Django fix-up sets Django up first; set up here when it has not)."""
    import django
    from django.apps import apps
    from django.db import connection

    if not apps.ready:
        django.setup()
    from konsil.core import startup

    startup.warm("worker")
    connection.close()  # no connection made before the fork survives into the children


@app.task(name="konsil.run", bind=True, max_retries=None)
def run(self, run_id: str) -> None:
    """Run the TaskRun `run_id` once (runner.execute), retrying transient failures with backoff."""
    from django.conf import settings
    from django.db import close_old_connections
    from django.utils import timezone
    from django.utils.module_loading import import_string

    from . import runner
    from .models import TaskRun
    from .transient import is_transient

    close_old_connections()
    try:
        found = TaskRun.objects.filter(pk=run_id).first()
    except Exception as exc:
        if is_transient(exc):  # the database is away: this message comes back later
            raise self.retry(countdown=_backoff(self.request.retries), max_retries=None) from exc
        raise
    if found is None:
        logger.warning("task run %s is not in the database (rolled back); dropped", run_id)
        return
    task = import_string(found.task_path)
    try:
        runner.execute(found.pk, task_path=found.task_path, args=found.args, kwargs=found.kwargs,
                       queue=found.queue, backend=found.backend,
                       call=lambda: task.call(*found.args, **found.kwargs))
    except runner.Busy as busy:
        raise self.retry(countdown=busy.retry_in, max_retries=None) from busy
    except Exception as exc:
        if is_transient(exc) and self.request.retries < settings.KONSIL_TASK_MAX_RETRIES:
            countdown = _backoff(self.request.retries)
            TaskRun.objects.filter(pk=found.pk).exclude(state=TaskRun.State.DONE).update(
                state=TaskRun.State.QUEUED, sent_at=timezone.now())
            raise self.retry(countdown=countdown, max_retries=None) from exc
        # the exception's text may quote patient data: Celery logs only its class and the task
        raise runner.TaskFailed(f"{found.task_path} raised {type(exc).__name__}") from None
    finally:
        close_old_connections()


def _backoff(retries: int) -> float:
    return min(300.0, 2.0 * 2**retries)
