"""Periodic follow-up work (enqueued by core.schedule): plan, send, remind, record non-responses."""

from django_tasks import task

from . import services


@task()
def run_follow_ups() -> dict:
    return {"planned": services.plan_delivered(), "sent": services.send_due(), "reminded": services.send_reminders(),
            "no_response": services.close_unanswered()}
