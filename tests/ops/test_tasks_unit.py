"""Queues, priorities, the run key and recovery, in process (the worker-process tests are test_*_faults.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from konsil.ops import queues, recovery, runner
from konsil.ops.backends import celery_priority
from konsil.ops.models import TaskRun
from konsil.ops.worker import RunKeyWorker, run_database_lanes
from konsil.triage import tasks as triage_tasks

pytestmark = pytest.mark.django_db
DB = {"BACKEND": "konsil.ops.backends.DatabaseBackend"}


@pytest.fixture
def database_backend(settings):
    settings.TASKS = {"default": DB}


def test_routes_put_triage_first_and_imaging_apart(database_backend):
    triage = queues.routed(triage_tasks.propose_triage.using(backend="default"))
    assert (triage.queue_name, triage.priority) == ("urgent", 50)
    assert queues.route_for("konsil.records.tasks.process_record").queue == "imaging"
    assert queues.route_for("somewhere.else").queue == "default"
    assert queues.lane_queues("urgent") == ["urgent", "default"]
    assert queues.lane_queues("bulk,urgent") == ["imaging", "bulk", "urgent", "default"]
    with pytest.raises(ValueError, match="unknown queue or lane 'fast'"):
        queues.lane_queues("fast")


def test_every_routed_task_exists():
    from django.utils.module_loading import import_string

    for path in queues.ROUTES:
        assert import_string(path).module_path == path


def test_celery_priorities_keep_the_order():
    assert celery_priority(100) == 0 and celery_priority(-100) == 9
    assert celery_priority(50) < celery_priority(0) < celery_priority(-10)


def test_database_backend_enqueues_on_the_routed_queue(database_backend, case):
    triage_tasks.propose_triage.enqueue(str(case.pk))
    row = DBTaskResult.objects.get()
    assert (row.queue_name, row.priority) == ("urgent", 50)


def test_urgent_lane_runs_urgent_work_only_and_runs_it_once(database_backend, case, transactional_db):
    from konsil.records.tasks import purge_expired_uploads

    triage_tasks.propose_triage.enqueue(str(case.pk))
    purge_expired_uploads.enqueue()
    worker = RunKeyWorker(queue_names=queues.lane_queues("urgent"), interval=0, batch=True, backend_name="default",
                          startup_delay=False, max_tasks=None, worker_id="t", excluded_queue_names=[])
    worker.run()
    done = DBTaskResult.objects.get(queue_name="urgent")
    assert done.status == "SUCCESSFUL" and DBTaskResult.objects.get(queue_name="bulk").status == "READY"
    assert TaskRun.objects.get(pk=done.pk).state == "done"
    assert case.triage_proposals.count() == 1
    # the same result delivered again (a worker died after the work but before marking the result): skipped
    DBTaskResult.objects.filter(pk=done.pk).update(status="READY")
    worker.run()
    assert case.triage_proposals.count() == 1 and TaskRun.objects.get(pk=done.pk).attempts == 1


def test_run_database_lanes_in_batch_mode(database_backend, case, transactional_db):
    triage_tasks.propose_triage.enqueue(str(case.pk))
    assert run_database_lanes(["urgent", "bulk"], concurrency=2, interval=0, batch=True) == 0
    assert case.triage_proposals.count() == 1


def test_atomic_work_is_undone_when_the_task_fails(case):
    def work():
        case.triage_proposals.model.objects.create(case=case, engine="x", model_version="1")
        raise ValueError("boom with patient words")

    with pytest.raises(ValueError):
        runner.execute("00000000-0000-0000-0000-000000000001", task_path="konsil.triage.tasks.propose_triage",
                       call=work)
    assert case.triage_proposals.count() == 0


def test_a_run_done_is_skipped(case):
    calls = []
    key = "00000000-0000-0000-0000-000000000002"
    runner.execute(key, task_path="konsil.cases.tasks.expire_offers", call=lambda: calls.append(1))
    assert runner.execute(key, task_path="konsil.cases.tasks.expire_offers",
                          call=lambda: calls.append(2)) is runner.DUPLICATE
    assert calls == [1]


def test_a_live_holder_makes_it_busy_and_a_dead_one_is_taken_over():
    now = timezone.now()
    live = TaskRun.objects.create(task_path="x", state="running", owner="other-machine:1:1",
                                  lease_until=now + timedelta(minutes=5))
    with pytest.raises(runner.Busy):
        runner.execute(live.pk, task_path="x", call=lambda: None)
    expired = TaskRun.objects.create(task_path="x", state="running", owner="other-machine:1:1",
                                     lease_until=now - timedelta(seconds=1))
    runner.execute(expired.pk, task_path="x", call=lambda: None)
    expired.refresh_from_db()
    assert expired.state == "done" and expired.attempts == 1
    import socket

    dead = TaskRun.objects.create(task_path="x", state="running", owner=f"{socket.gethostname()}:999999:5",
                                  lease_until=now + timedelta(minutes=5))
    assert runner.holder_alive(dead) is False
    assert runner.holder_alive(TaskRun(state="running", owner=runner.me())) is True


def test_failures_keep_the_exception_class_only():
    run = TaskRun.objects.create(task_path="x")

    def fail():
        raise KeyError("Ana Garcia")

    with pytest.raises(KeyError):
        runner.execute(run.pk, task_path="x", call=fail)
    run.refresh_from_db()
    assert run.state == "failed" and run.error == "builtins.KeyError"


def test_recovery_puts_back_what_a_dead_worker_held(database_backend, case):
    import socket

    triage_tasks.propose_triage.enqueue(str(case.pk))
    row = DBTaskResult.objects.get()
    DBTaskResult.objects.filter(pk=row.pk).update(status="RUNNING", started_at=timezone.now())
    TaskRun.objects.create(pk=row.pk, task_path=row.task_path, state="running",
                           owner=f"{socket.gethostname()}:999999:5", lease_until=timezone.now() + timedelta(hours=1))
    report = recovery.recover()
    assert report == {"released": 1, "requeued": 1, "resent": 0, "pruned": 0}
    assert DBTaskResult.objects.get().status == "READY" and TaskRun.objects.get().state == "queued"


def test_recovery_prunes_old_done_runs():
    old = TaskRun.objects.create(task_path="x", state="done", finished_at=timezone.now() - timedelta(days=8))
    recent = TaskRun.objects.create(task_path="x", state="done", finished_at=timezone.now())
    assert recovery.recover()["pruned"] == 1
    assert list(TaskRun.objects.values_list("pk", flat=True)) == [recent.pk] and old.pk


def test_the_clock_runs_recovery_itself(database_backend):
    from konsil.ops.tasks import recover_tasks

    result = recover_tasks.enqueue()
    assert result.status == "SUCCESSFUL" and DBTaskResult.objects.count() == 0


def test_celery_enqueue_keeps_the_run_when_the_broker_is_away(settings, case, django_capture_on_commit_callbacks):
    settings.TASKS = {"default": {"BACKEND": "konsil.ops.backends.CeleryBackend"}}
    from konsil.ops import celery_app

    celery_app.app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = triage_tasks.propose_triage.enqueue(str(case.pk))
    finally:
        celery_app.configure(celery_app.app)
    run = TaskRun.objects.get(pk=result.id)
    assert (run.state, run.queue, run.priority, run.sent_at) == ("queued", "urgent", 50, None)
    assert run.args == [str(case.pk)]


def test_worker_command_refuses_unknown_lanes_and_bad_concurrency(capsys):
    from konsil import cli

    assert cli.main(["worker", "--lanes", "fast"]) == 2
    assert "unknown queue or lane" in capsys.readouterr().err
    assert cli.main(["worker", "--concurrency", "0"]) == 2


def test_transient_errors_answer_503_with_retry_after(client, monkeypatch, patient_user):
    from konsil.ops import middleware

    response = middleware.unavailable_response(client.get("/healthz").wsgi_request)
    assert response.status_code == 503 and response["Retry-After"] == "5"

    def broken(*args, **kwargs):
        raise OperationalError("the database system is shutting down")

    client.force_login(patient_user)
    client.raise_request_exception = False  # as a real server: the exception becomes a response
    monkeypatch.setattr(connection, "cursor", broken)  # the session and the user are read in middleware
    api = client.get("/api/v1/cases/", HTTP_ACCEPT="application/json")
    assert api.status_code == 503 and api.json()["code"] == "unavailable" and api["Retry-After"]
    page = client.get("/")
    assert page.status_code == 503 and b"Briefly unavailable" in page.content


def test_recovery_reads_the_worker_id_when_the_claim_rolled_back(database_backend, case):
    import socket

    triage_tasks.propose_triage.enqueue(str(case.pk))
    row = DBTaskResult.objects.get()
    DBTaskResult.objects.filter(pk=row.pk).update(status="RUNNING", started_at=timezone.now(),
                                                  worker_ids=[f"{socket.gethostname()}:999999:5|urgent-0"])
    assert recovery.requeue_database_tasks() == 1
    DBTaskResult.objects.filter(pk=row.pk).update(status="RUNNING", worker_ids=[f"{runner.me()}|urgent-0"])
    assert recovery.requeue_database_tasks() == 0  # its worker (this process) is alive
    DBTaskResult.objects.filter(pk=row.pk).update(worker_ids=["elsewhere:1:1|urgent-0"])
    assert recovery.requeue_database_tasks() == 0  # another machine's: its lease runs
