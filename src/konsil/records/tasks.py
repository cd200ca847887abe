"""Background records work: thin, idempotent, keyed by id."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task


@task()
def process_record(attachment_id: str) -> None:
    from .processing import process

    process(attachment_id)


@task()
def retrieve_study(job_id: str) -> None:
    from .retrieve import run

    run(job_id)


@task()
def purge_expired_uploads() -> None:
    from .intake import purge_expired_uploads as purge

    purge()


def enqueue_processing(attachment_id) -> None:
    """Process the record once the storing transaction commits."""
    transaction.on_commit(lambda: process_record.enqueue(str(attachment_id)))


@task()
def send_records_reminders() -> None:
    from .services import send_reminders

    send_reminders()
