"""Webhook deliveries: thin, idempotent, keyed by id."""

from __future__ import annotations

from django_tasks import task


@task()
def deliver_webhook(delivery_id: str) -> None:
    from .webhooks import deliver

    deliver(delivery_id)


@task()
def retry_due_webhooks() -> None:
    from .webhooks import retry_due

    retry_due()
