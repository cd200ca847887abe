"""Fixtures for the operations tests: a migrated template home, our own Redis, stacks that clean up."""

from __future__ import annotations

import os
import shutil

import pytest

from .stack import Redis, Stack, migrated_template


def need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed (.ci/run installs it)")


def _once() -> None:
    if os.environ.get("DATABASE_URL", "").startswith("postgres") and not os.environ.get("KONSIL_OPS_BOTH_PASSES"):
        pytest.skip("process-level operations tests run in the SQLite pass of .ci/run")


@pytest.fixture(scope="session")
def template_home(tmp_path_factory):
    _once()
    return migrated_template(tmp_path_factory.getbasetemp() / "ops-template")


@pytest.fixture
def redis(tmp_path):
    need("redis-server")
    server = Redis(tmp_path / "redis").start()
    yield server
    server.stop(hard=True)


@pytest.fixture
def make_stack(tmp_path, template_home):
    """Stacks start their own engines whatever DATABASE_URL says: .ci/run's PostgreSQL pass would repeat the SQLite
    pass's runs exactly, so they run once (the PostgreSQL cases start their own databases in either pass)."""
    _once()
    made = []

    def make(name: str = "stack", **env: str) -> Stack:
        stack = Stack(tmp_path / name, template_home, **env)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()


@pytest.fixture
def case(draft_case):
    """A case waiting for triage (set directly: submitting would already triage it under the test backend)."""
    type(draft_case).objects.filter(pk=draft_case.pk).update(status="submitted")
    draft_case.refresh_from_db()
    return draft_case
