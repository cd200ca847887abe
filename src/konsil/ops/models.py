"""A task run: one row per enqueued task, the key that makes a redelivered task run its work once."""

from __future__ import annotations

import uuid

from django.db import models


class TaskRun(models.Model):
    """The outbox and the ledger of background work. The broker carries only this row's id (no arguments, no PHI).

    `queued` until a worker claims it, `running` under a lease held by `owner`, `done` once its work committed
    (a redelivery of a done run does nothing), `failed` after an attempt raised (it may be claimed again).
    """

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task_path = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    queue = models.CharField(max_length=32, default="default")
    priority = models.IntegerField(default=0)
    backend = models.CharField(max_length=32, default="default")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    owner = models.CharField(max_length=200, blank=True, default="")  # host:pid:start of the worker holding it
    error = models.CharField(max_length=200, blank=True, default="")  # the exception's class only: messages hold PHI
    run_after = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)  # last handed to the broker
    started_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "sent_at"], name="ops_taskrun_state_sent")]

    def __str__(self) -> str:
        return f"{self.task_path} {self.state}"
