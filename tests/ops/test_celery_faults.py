"""Celery on a real Redis with real worker processes: lanes, at-least-once delivery met by the run key, kill -9
of a worker mid-triage and mid-study, and a Redis restart that loses its queue."""

from __future__ import annotations

import pytest

from .scenes import CASE_STATE, RECORD_STATE, SUBMIT, UPLOAD_STUDY, VERIFY, with_values
from .stack import wait_for

pytestmark = [pytest.mark.slow]


def celery_stack(make_stack, redis, name="stack", **env):
    return make_stack(name, KONSIL_TASKS_BACKEND="celery", KONSIL_CELERY_BROKER_URL=redis.url,
                      KONSIL_CELERY_VISIBILITY_TIMEOUT="4", KONSIL_TASK_LEASE_SECONDS="30", **env)


def case_state(stack, case_id):
    return stack.py(with_values(CASE_STATE, CASE=case_id))


def record_state(stack, record_id):
    return stack.py(with_values(RECORD_STATE, RECORD=record_id))


def test_triage_runs_on_a_celery_worker_once(make_stack, redis):
    stack = celery_stack(make_stack, redis)
    stack.start_worker("urgent")
    case = stack.py(SUBMIT)
    state = wait_for(lambda: (s := case_state(stack, case))["proposals"] and s, 90, what="a triage proposal")
    assert state["runs"] == [["konsil.triage.tasks.propose_triage", "done", 1]]
    assert state["actions"].count("triage.propose") == 1
    assert stack.py(VERIFY)["ok"]


def test_urgent_work_does_not_wait_behind_imaging(make_stack, redis):
    stack = celery_stack(make_stack, redis)
    stack.start_worker("urgent", log="urgent")
    stack.start_worker("bulk", slow="hold", log="bulk")  # the study stays on the imaging lane until released
    record = stack.py(with_values(UPLOAD_STUDY, N=2))
    wait_for(lambda: record_state(stack, record)["status"] == "processing", 120, what="the study to start")
    case = stack.py(SUBMIT)
    wait_for(lambda: case_state(stack, case)["proposals"], 180, what="triage while the study is processed")
    assert record_state(stack, record)["status"] == "processing"  # the study is still on the imaging lane
    (stack.home / "release").touch()
    wait_for(lambda: record_state(stack, record)["status"] == "ready", 180, what="the study to finish")


def test_kill_9_mid_triage_completes_once_after_restart(make_stack, redis):
    stack = celery_stack(make_stack, redis)
    worker = stack.start_worker("urgent", slow="triage")
    case = stack.py(SUBMIT)
    wait_for(stack.marker, 90, what="the worker to be mid-triage")
    stack.kill9(worker)
    halfway = case_state(stack, case)
    assert halfway["proposals"] == 0 and "triage.propose" not in halfway["actions"]  # the transaction died with it
    stack.start_worker("urgent", log="worker2")
    state = wait_for(lambda: (s := case_state(stack, case))["proposals"] and s, 90, what="triage after restart")
    assert state["proposals"] == 1 and state["actions"].count("triage.propose") == 1
    [(path, run_state, attempts)] = state["runs"]
    # the killed attempt's claim rolled back with its work (one transaction): one attempt is on record
    assert (path, run_state, attempts) == ("konsil.triage.tasks.propose_triage", "done", 1)
    assert stack.py(VERIFY)["ok"]


def test_kill_9_mid_study_completes_once_after_restart(make_stack, redis):
    stack = celery_stack(make_stack, redis)
    worker = stack.start_worker("bulk", slow="imaging")
    record = stack.py(with_values(UPLOAD_STUDY, N=4))
    wait_for(stack.marker, 90, what="the worker to be mid-study")
    halfway = record_state(stack, record)
    assert halfway["status"] == "processing" and halfway["instances"] == 4  # written, not yet marked ready
    stack.kill9(worker)
    stack.start_worker("bulk", log="worker2")
    # the record turns ready inside the task; its run is marked done as the task returns, a moment later
    state = wait_for(lambda: (s := record_state(stack, record))["status"] == "ready"
                     and all(run[0] != "running" for run in s["runs"]) and s, 120, what="the study after restart")
    assert state["instances"] == 4 and state["entries"] == 4  # started again from nothing: no duplicates
    assert state["processed"] == 1 and state["runs"] == [["done", 2]]
    assert stack.py(VERIFY)["ok"]


def test_redis_restarted_empty_loses_nothing(make_stack, redis):
    """Redis killed and restarted without its data: the clock sends again, from the database, what was queued."""
    stack = celery_stack(make_stack, redis, KONSIL_TASK_REQUEUE_SECONDS="1")
    case = stack.py(SUBMIT)  # queued in Redis; no worker yet
    redis.stop(hard=True)
    redis.start()  # empty: the message is gone
    stack.start_worker("urgent")
    assert stack.konsil("schedule", "--once").returncode == 0  # the clock: recover_tasks re-sends queued runs
    state = wait_for(lambda: (s := case_state(stack, case))["proposals"] and s, 90, what="triage after Redis restart")
    assert state["proposals"] == 1 and state["actions"].count("triage.propose") == 1


def test_enqueue_while_redis_is_down_is_kept_and_sent_later(make_stack, redis):
    stack = celery_stack(make_stack, redis, KONSIL_TASK_REQUEUE_SECONDS="1")
    redis.stop(hard=True)
    case = stack.py(SUBMIT)  # the submission succeeds; its triage waits in the database
    assert case_state(stack, case)["runs"] == [["konsil.triage.tasks.propose_triage", "queued", 0]]
    redis.start()
    stack.start_worker("urgent")
    assert stack.konsil("schedule", "--once").returncode == 0
    state = wait_for(lambda: (s := case_state(stack, case))["proposals"] and s, 90, what="triage once Redis is back")
    assert state["runs"] == [["konsil.triage.tasks.propose_triage", "done", 1]]


def test_a_redelivered_run_does_nothing(make_stack, redis):
    """At-least-once: the same message delivered again after its work committed is skipped by the run key."""
    stack = celery_stack(make_stack, redis)
    stack.start_worker("urgent", KONSIL_LOG_LEVEL="INFO")
    case = stack.py(SUBMIT)
    wait_for(lambda: case_state(stack, case)["proposals"], 90, what="triage")
    stack.py(with_values("""
from konsil.ops.backends import send
from konsil.ops.models import TaskRun
for run in TaskRun.objects.filter(args=[CASE]):
    send(run); send(run)
print(json.dumps(1))
""", CASE=case))
    wait_for(lambda: stack.log().count("already done") >= 2, 60, what="the duplicates to be skipped")
    state = case_state(stack, case)
    assert state["proposals"] == 1 and state["actions"].count("triage.propose") == 1
