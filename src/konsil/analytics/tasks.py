"""The clock's analytics work: bring the fact table up to date (idempotent; see rollup.py)."""

from __future__ import annotations

from django_tasks import task


@task()
def refresh_facts() -> None:
    from .rollup import refresh
    from .selectors import warm

    if refresh().cases:
        warm()  # the opening views of the page, computed once per change
