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


@task()
def purge_expired_tokens() -> None:
    """Expired bearer tokens and used assertions past their expiry are no longer needed (replay is impossible)."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import AccessToken, UsedAssertion

    # kept an hour past their expiry: well beyond the leeway an assertion's exp is given
    cutoff = timezone.now() - timedelta(hours=1)
    AccessToken.objects.filter(expires_at__lt=cutoff).delete()
    UsedAssertion.objects.filter(expires_at__lt=cutoff).delete()


@task()
def fetch_remote_document(doc_id: str) -> None:
    """A referral's document sent by URL: one fetch attempt (retried with backoff)."""
    from .remote_docs import fetch

    fetch(doc_id)


@task()
def retry_due_remote_documents() -> None:
    from .remote_docs import retry_due

    retry_due()
