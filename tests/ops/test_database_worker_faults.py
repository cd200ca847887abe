"""The embedded default's worker (`konsil worker`, database backend) as a real process: lanes keep triage ahead of
imaging, and a kill -9 mid-triage ends with the work done once after the worker restarts."""

from __future__ import annotations

import pytest

from .scenes import CASE_STATE, RECORD_STATE, SUBMIT, UPLOAD_STUDY, VERIFY, with_values
from .stack import wait_for

pytestmark = [pytest.mark.slow]


def test_database_lanes_keep_triage_ahead_of_imaging(make_stack):
    stack = make_stack(KONSIL_TASKS_BACKEND="database")
    stack.start_worker("urgent,bulk", slow="hold")  # one process, a thread per lane; the study is held
    record = stack.py(with_values(UPLOAD_STUDY, N=2))
    wait_for(lambda: stack.py(with_values(RECORD_STATE, RECORD=record))["status"] == "processing", 120,
             what="the study to start")
    case = stack.py(SUBMIT)
    wait_for(lambda: stack.py(with_values(CASE_STATE, CASE=case))["proposals"], 180, what="triage beside the study")
    assert stack.py(with_values(RECORD_STATE, RECORD=record))["status"] == "processing"
    (stack.home / "release").touch()
    wait_for(lambda: stack.py(with_values(RECORD_STATE, RECORD=record))["status"] == "ready", 180,
             what="the study to finish")


def test_database_worker_killed_mid_triage_completes_once(make_stack):
    stack = make_stack(KONSIL_TASKS_BACKEND="database")
    worker = stack.start_worker("urgent", slow="triage")
    case = stack.py(SUBMIT)
    wait_for(stack.marker, 120, what="the worker to be mid-triage")
    stack.kill9(worker)
    assert stack.py(with_values(CASE_STATE, CASE=case))["proposals"] == 0
    stack.start_worker("urgent", log="worker2")  # at start it takes back what the dead worker held
    state = wait_for(lambda: (s := stack.py(with_values(CASE_STATE, CASE=case)))["proposals"] and s, 180,
                     what="triage after restart")
    assert state["proposals"] == 1 and state["actions"].count("triage.propose") == 1
    assert [(path, run) for path, run, _attempts in state["runs"]] == [("konsil.triage.tasks.propose_triage", "done")]
    assert stack.py(VERIFY)["ok"]
