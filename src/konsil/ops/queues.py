"""Which queue each background task runs on, at what priority, and whether its work commits as one transaction.

Urgent work (triage, red flags, routing, offers) has its own queue and its own worker lane, so it never waits
behind imaging or bulk work however long those queues grow. Within a queue, higher priority runs first.
`atomic` tasks run inside one transaction together with their run's "done" mark: a worker killed half-way leaves
nothing, and a redelivery finds either nothing (runs) or "done" (skips). Long tasks (a CT study) are not atomic;
they are idempotent by their own state (records processing starts a half-processed record again from nothing).
`inline` tasks are run by whoever enqueues them (the clock): they repair the queues, so they must not depend on
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django_tasks import DEFAULT_TASK_QUEUE_NAME
from django_tasks.base import DEFAULT_TASK_PRIORITY, Task

URGENT, DEFAULT, IMAGING, BULK = "urgent", "default", "imaging", "bulk"
QUEUES = [URGENT, DEFAULT, IMAGING, BULK]
# Worker lanes: each lane has its own processes or threads, so a busy lane never holds up another.
LANES = {"urgent": [URGENT, DEFAULT], "bulk": [IMAGING, BULK]}


@dataclass(frozen=True)
class Route:
    queue: str = DEFAULT
    priority: int = 0  # django-tasks' scale, -100 (last) .. 100 (first)
    atomic: bool = False
    inline: bool = False


ROUTES: dict[str, Route] = {
    # triage and red flags: a patient may be waiting on a coordinator's call
    "konsil.triage.tasks.propose_triage": Route(URGENT, 50, atomic=True),
    "konsil.triage.tasks.reconsider_triage": Route(URGENT, 40, atomic=True),
    "konsil.matching.tasks.triage_and_route": Route(URGENT, 50, atomic=True),
    "konsil.matching.tasks.route_case": Route(URGENT, 40, atomic=True),
    "konsil.matching.tasks.route_triaged_case": Route(URGENT, 40, atomic=True),
    "konsil.cases.tasks.advance_case": Route(URGENT, 30, atomic=True),
    "konsil.cases.tasks.expire_offers": Route(URGENT, 20),
    # everyday work
    "konsil.cases.tasks.send_sla_reminders": Route(DEFAULT, 10),
    "konsil.records.tasks.send_records_reminders": Route(DEFAULT),
    "konsil.audit.tasks.write_checkpoint": Route(DEFAULT, 10),
    "konsil.fhir.tasks.deliver_webhook": Route(DEFAULT),
    "konsil.fhir.tasks.retry_due_webhooks": Route(DEFAULT),
    "konsil.fhir.tasks.retry_due_remote_documents": Route(DEFAULT),
    "konsil.fhir.tasks.fetch_remote_document": Route(DEFAULT),
    "konsil.fhir.tasks.purge_expired_tokens": Route(DEFAULT, -10),
    "konsil.matching.tasks.warn_expiring_credentials": Route(DEFAULT, -10),
    "konsil.consults.tasks.send_consult_reminders": Route(DEFAULT, 10),
    "konsil.outcomes.tasks.run_follow_ups": Route(DEFAULT),
    # imaging and documents: minutes for a CD, never in the way of the above
    "konsil.records.tasks.process_record": Route(IMAGING),
    "konsil.records.tasks.retrieve_study": Route(IMAGING),
    # bulk
    "konsil.matching.tasks.run_batch_assignment": Route(BULK, 10),
    "konsil.matching.tasks.run_batch_assignments": Route(BULK),
    "konsil.records.tasks.purge_expired_uploads": Route(BULK, -10),
    "konsil.consults.tasks.purge_room_signals": Route(BULK, -10),
    "konsil.analytics.tasks.refresh_facts": Route(BULK),
    # the queues' own repair: run by the clock itself
    "konsil.ops.tasks.recover_tasks": Route(DEFAULT, inline=True),
}


def route_for(task_path: str) -> Route:
    return ROUTES.get(task_path, Route())


def routed(task: Task) -> Task:
    """`task` on its queue and priority, unless the task itself says otherwise (`@task(queue_name=...)`)."""
    route = route_for(task.module_path)
    changes = {}
    if task.queue_name == DEFAULT_TASK_QUEUE_NAME and route.queue != DEFAULT_TASK_QUEUE_NAME:
        changes["queue_name"] = route.queue
    if task.priority == DEFAULT_TASK_PRIORITY and route.priority != DEFAULT_TASK_PRIORITY:
        changes["priority"] = route.priority
    return task.using(**changes) if changes else task


def lane_queues(spec: str) -> list[str]:
    """`urgent`, `bulk` (lanes) or a comma-separated list of queues -> the queues; ValueError for unknown names."""
    names = []
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        found = LANES.get(item) or ([item] if item in QUEUES else None)
        if found is None:
            raise ValueError(f"unknown queue or lane {item!r} (queues: {', '.join(QUEUES)}; "
                             f"lanes: {', '.join(LANES)})")
        names += [name for name in found if name not in names]
    return names
