"""Background matching work: thin, idempotent, keyed by id."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task


@task()
def run_batch_assignment(run_id: str) -> None:
    """Execute a queued AssignmentRun (a coordinator's on-demand request); a finished run is left alone."""
    from .models import AssignmentRun
    from .services import execute_run

    run = AssignmentRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    try:
        execute_run(run=run)
    except Exception as exc:  # recorded so that the page says so and a new run may be requested
        AssignmentRun.objects.filter(pk=run.pk, state=AssignmentRun.State.QUEUED).update(
            state=AssignmentRun.State.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now())
        raise


@task()
def run_batch_assignments() -> None:
    """The schedule's entry: a batch assignment for every network with triaged, unoffered cases."""
    from .services import run_scheduled

    run_scheduled()


@task()
def warn_expiring_credentials() -> None:
    """The schedule's entry: warn of licences and board certifications expiring within 30 days."""
    from .services import warn_expiring

    warn_expiring()


@task()
def triage_and_route(case_id: str) -> None:
    """After a submission in a network that routes automatically: triage, then the routing task."""
    from .routing import triage_and_route as run

    run(case_id=case_id)


@task()
def route_case(case_id: str) -> None:
    """Offer a confidently triaged case to its top-ranked specialist, or give it to the coordinators."""
    from .routing import route

    route(case_id=case_id)


@task()
def route_triaged_case(case_id: str) -> None:
    """After a re-triage or a referral to another network that routes automatically: offer the case afresh."""
    from .routing import route_triaged

    route_triaged(case_id=case_id)
