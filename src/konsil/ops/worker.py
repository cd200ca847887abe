"""`konsil worker`: the task worker for the configured backend, in lanes so urgent work never waits.

Database backend (embedded default): one process, a lane of threads per queue group (`--lanes urgent,bulk`,
`--concurrency N` threads each), each thread a django-tasks-db worker whose tasks run through the run key.
Celery backend: a Celery worker for one lane (`--lanes urgent`), or one child process per lane.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import timedelta

from django.db import close_old_connections, connection
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult, TaskResultStatus

from konsil.core import startup

from . import runner
from .queues import LANES, lane_queues
from .transient import is_transient

logger = logging.getLogger(__name__)


class RunKeyWorker(Worker):
    """A django-tasks-db worker that runs each result through `runner.execute` keyed by the result's id, puts a
    result held elsewhere back for later, and retries transient failures with backoff."""

    max_retries = 5

    def configure_signals(self) -> None:  # the lane process handles signals for all its threads
        return None

    def run_task(self, db_task_result: DBTaskResult) -> None:
        self.running_task = True
        try:
            task = db_task_result.task
            args, kwargs = db_task_result.args_kwargs["args"], db_task_result.args_kwargs["kwargs"]
            value = runner.execute(db_task_result.pk, task_path=db_task_result.task_path, args=args,
                                   kwargs=kwargs, queue=db_task_result.queue_name,
                                   backend=db_task_result.backend_name, call=lambda: task.call(*args, **kwargs))
            db_task_result.set_successful(None if value is runner.DUPLICATE else value)
        except runner.Busy as busy:
            self._later(db_task_result, busy.retry_in)
        except Exception as exc:
            attempts = len(db_task_result.worker_ids)
            if is_transient(exc) and attempts <= self.max_retries:
                self._later(db_task_result, min(300.0, 2.0 * 2**attempts))
            else:
                db_task_result.set_failed(runner.TaskFailed(f"{db_task_result.task_path} raised "
                                                            f"{type(exc).__name__}"))
                logger.error("task %s (%s) failed: %s", db_task_result.pk, db_task_result.task_path,
                             type(exc).__name__)
        finally:
            self.running_task = False
            self._run_tasks += 1

    @staticmethod
    def _later(db_task_result: DBTaskResult, seconds: float) -> None:
        try:
            DBTaskResult.objects.filter(pk=db_task_result.pk).update(
                status=TaskResultStatus.READY, run_after=timezone.now() + timedelta(seconds=seconds))
        except Exception as exc:  # the database is away: recovery puts it back once it returns
            logger.warning("task %s not put back (%s)", db_task_result.pk, type(exc).__name__)


def run_database_lanes(lanes: list[str], *, concurrency: int, interval: float = 1.0, batch: bool = False,
                       backend: str = "default") -> int:
    """Run the lanes' threads until SIGTERM/SIGINT (graceful: running tasks finish) or, with `batch`, until idle."""
    from .recovery import recover

    close_old_connections()
    try:
        recover()  # what a worker killed before us left running
    except Exception as exc:
        logger.warning("task recovery at start failed (%s)", type(exc).__name__)
    finally:
        connection.close()
    startup.warm("worker")  # the first task is not slower than the next (triage's model, the code indexes)
    connection.close()
    workers = []
    for lane in lanes:
        queues = lane_queues(lane)
        for number in range(concurrency):
            workers.append(RunKeyWorker(queue_names=queues, interval=interval, batch=batch, backend_name=backend,
                                        startup_delay=not batch, max_tasks=None, excluded_queue_names=[],
                                        worker_id=f"{runner.me()}|{lane}-{number}"))
    threads = [threading.Thread(target=_loop, args=(worker,), name=worker.worker_id) for worker in workers]

    def stop(signum, _frame):
        if not any(worker.running for worker in workers):
            sys.exit(1)  # a second signal: do not wait
        logger.warning("received %s: finishing the running tasks", signal.strsignal(signum))
        for worker in workers:
            worker.running = False

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)
    return 0


def _loop(worker: RunKeyWorker) -> None:
    try:
        worker.run()
    except Exception:
        logger.exception("worker %s stopped", worker.worker_id)
    finally:
        connection.close()


def celery_argv(lanes: list[str], *, concurrency: int, hostname: str = "") -> list[str]:
    """The Celery worker command line for one lane group (prefork processes, one message prefetched each)."""
    queues = []
    for lane in lanes:
        queues += [name for name in lane_queues(lane) if name not in queues]
    name = hostname or f"konsil-{'-'.join(lanes)}@%h"
    return [sys.executable, "-m", "celery", "-A", "konsil.ops.celery_app", "worker", "--queues", ",".join(queues),
            "--concurrency", str(concurrency), "--prefetch-multiplier", "1", "-O", "fair", "--hostname", name,
            "--without-gossip", "--without-mingle", "--loglevel", "INFO"]


DEFAULT_LANES = list(LANES)
