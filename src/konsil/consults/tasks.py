"""Periodic consult work (enqueued by core.schedule): reminders, signalling clean-up."""

from django_tasks import task

from . import services


@task()
def send_consult_reminders() -> int:
    return services.send_due_reminders()


@task()
def purge_room_signals() -> int:
    return services.purge_signals()
