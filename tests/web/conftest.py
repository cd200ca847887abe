"""Fixtures of the page tests: the roles the shared conftest does not build, and small helpers."""

from __future__ import annotations

from django.urls import reverse

from konsil.audit.models import AuditEvent


def url(name: str, **kwargs) -> str:
    return reverse(name, kwargs=kwargs or None)


def events(action: str, **filters):
    return AuditEvent.objects.filter(action=action, **filters)
