"""Running a task once: claim its run under a lease, do the work, mark it done (in one transaction when atomic).

At-least-once delivery (a broker's redelivery after a worker died, the clock re-sending what a broker lost) meets
this key: a run already done does nothing, a run another live worker holds is retried later, a run whose worker
died is taken over.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import TaskRun
from .queues import route_for

logger = logging.getLogger(__name__)
S = TaskRun.State
DUPLICATE = object()  # what `execute` returns for a run that was already done


class TaskFailed(Exception):
    """A task's failure as the logs see it: the task and the exception's class, never its message."""


class Busy(Exception):
    """Another live worker holds this run; try again after `retry_in` seconds."""

    def __init__(self, retry_in: float):
        super().__init__(f"held by another worker for {retry_in:.0f} s")
        self.retry_in = retry_in


def _start_ticks(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def me() -> str:
    """This process as host:pid:start time (the start time tells a reused pid from the original)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid())}"


def owner_alive(owner: str) -> bool | None:
    """True or False when `owner` ran on this host; None when it is another machine's (only its lease tells)."""
    host, _sep, rest = owner.partition(":")
    pid, _sep, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return _start_ticks(int(pid)) == ticks if ticks else True


def holder_alive(run: TaskRun, now=None) -> bool:
    """Whether the worker holding a running run is still at it (its process lives, or its lease runs)."""
    if run.state != S.RUNNING:
        return False
    alive = owner_alive(run.owner)
    if alive is not None:
        return alive
    return run.lease_until is not None and run.lease_until > (now or timezone.now())


def lease_seconds() -> int:
    return int(getattr(settings, "KONSIL_TASK_LEASE_SECONDS", 1800))


def _claim(key, *, task_path: str, args, kwargs, queue: str, backend: str) -> TaskRun | None:
    run, _created = TaskRun.objects.select_for_update().get_or_create(
        pk=key, defaults={"task_path": task_path, "args": list(args), "kwargs": dict(kwargs), "queue": queue,
                          "backend": backend})
    if run.state == S.DONE:
        return None
    now = timezone.now()
    if run.owner != me() and holder_alive(run, now):
        remaining = (run.lease_until - now).total_seconds() if run.lease_until else lease_seconds()
        raise Busy(max(5.0, min(remaining, 300.0)))
    run.state, run.owner, run.attempts, run.error = S.RUNNING, me(), run.attempts + 1, ""
    run.started_at, run.lease_until = now, now + timedelta(seconds=lease_seconds())
    run.save(update_fields=["state", "owner", "attempts", "error", "started_at", "lease_until"])
    return run


@contextlib.contextmanager
def _heartbeat(run_id):
    """While a long task runs, renew its lease (a third of it at a time) so no other machine takes it over."""
    stop = threading.Event()

    def beat():
        from django.db import connection

        try:
            while not stop.wait(max(1.0, lease_seconds() / 3)):
                TaskRun.objects.filter(pk=run_id, state=S.RUNNING, owner=me()).update(
                    lease_until=timezone.now() + timedelta(seconds=lease_seconds()))
        except Exception as exc:  # a missed beat only shortens the lease
            logger.warning("task run %s: lease not renewed (%s)", run_id, type(exc).__name__)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"lease-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _finish(run: TaskRun) -> None:
    TaskRun.objects.filter(pk=run.pk).update(state=S.DONE, finished_at=timezone.now(), lease_until=None)


def _failed(run_id, exc: BaseException) -> None:
    error = f"{type(exc).__module__}.{type(exc).__qualname__}"[:200]
    TaskRun.objects.filter(pk=run_id).exclude(state=S.DONE).update(
        state=S.FAILED, error=error, finished_at=timezone.now(), lease_until=None)


def execute(key, *, task_path: str, call: Callable[[], Any], args=(), kwargs=None, queue: str = "default",
            backend: str = "default") -> Any:
    """Run `call` for the run `key` unless it is done; DUPLICATE when it was. Raises Busy or what `call` raised."""
    route = route_for(task_path)
    try:
        with transaction.atomic():
            run = _claim(key, task_path=task_path, args=args, kwargs=kwargs or {}, queue=queue, backend=backend)
            if run is None:
                logger.info("task run %s was already done; skipped", key)
                return DUPLICATE
            if route.atomic:
                value = call()
                _finish(run)
                return value
        with _heartbeat(run.pk):
            value = call()
        with transaction.atomic():
            _finish(run)
        return value
    except Busy:
        raise
    except BaseException as exc:
        _failed(key, exc)
        raise
