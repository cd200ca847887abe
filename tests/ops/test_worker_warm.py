"""Start-up warm-ups (issue #11): what requests and tasks read lazily is built when a process starts, so the first
create, submit or triage is not slower than the next one."""

from __future__ import annotations

import gc
import logging

import pytest

from konsil.core import icd10, startup
from konsil.triage import model


@pytest.fixture(autouse=True)
def _unfreeze():
    """Warming freezes the test process's objects too (gc.freeze): give them back to the collector."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_worker_start_loads_the_triage_model_and_the_code_indexes():
    model._load.cache_clear()
    icd10._build_suggest_index.cache_clear()
    startup.warm("worker")
    assert model._load.cache_info().currsize == 1
    assert icd10._build_suggest_index.cache_info().currsize == 1


def test_the_web_builds_the_code_indexes_in_the_background_but_not_the_triage_model():
    model._load.cache_clear()
    icd10._build_suggest_index.cache_clear()
    startup.warm_in_background("web").join(timeout=120)
    assert icd10._build_suggest_index.cache_info().currsize == 1
    assert model._load.cache_info().currsize == 0  # the web does not triage: no model in its memory


def test_a_failing_warm_up_is_logged_by_class_and_the_process_goes_on(caplog):
    ran = []

    def broken():
        raise ValueError("Ana García, 1970-05-17")

    startup.on_start("test broken", broken)
    startup.on_start("test after", lambda: ran.append(True), where=("worker",))
    try:
        with caplog.at_level(logging.DEBUG):
            startup.warm("worker")
    finally:
        startup._warmups.pop("test broken")
        startup._warmups.pop("test after")
    assert "start-up warm-up test broken failed (ValueError)" in caplog.text
    assert "García" not in caplog.text
    assert ran == [True]


@pytest.mark.django_db
def test_the_database_lanes_warm_before_their_first_task(monkeypatch):
    from konsil.ops import worker

    seen = []
    monkeypatch.setattr(startup, "warm", lambda kind: seen.append(kind))
    assert worker.run_database_lanes(["urgent"], concurrency=1, batch=True) == 0
    assert seen == ["worker"]


def test_the_celery_worker_warms_before_it_forks(monkeypatch):
    from celery.signals import worker_init

    import konsil.ops.celery_app  # noqa: F401 (the worker's -A module: connects the warm-up)

    seen = []
    monkeypatch.setattr(startup, "warm", lambda kind: seen.append(kind))
    worker_init.send(sender=None)
    assert seen == ["worker"]


def test_warming_moves_what_the_process_keeps_out_of_the_collectors_reach():
    startup.warm("worker")
    assert gc.get_freeze_count() > 100_000  # the model, the code indexes, the app's code
    assert not gc.garbage


def test_the_freeze_can_be_turned_off(settings):
    settings.KONSIL_GC_FREEZE = False
    startup.warm("worker")
    assert gc.get_freeze_count() == 0
