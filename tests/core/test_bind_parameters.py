"""PostgreSQL with server-side binding (KONSIL_DB_PREPARED, the default) takes at most 65,535 bind parameters per
statement: bulk writes and `in_bulk` are split under that limit instead of failing (core/dbbackends)."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.db import connection

from konsil.accounts.roles import Role
from konsil.cases.models import Notification
from konsil.core.dbbackends.postgresql.base import MAX_BIND_PARAMETERS

from ..factories import OrganizationFactory, make_user

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
                       reason="PostgreSQL's bind parameter limit"),
]


def test_the_postgresql_settings_bind_on_the_server_through_konsils_backend():
    assert settings.DATABASES["default"]["ENGINE"] == "konsil.core.dbbackends.postgresql"
    assert connection.features.max_query_params == MAX_BIND_PARAMETERS


def test_a_bulk_insert_past_the_limit_is_written_in_batches():
    user = make_user(Role.PATIENT, OrganizationFactory())
    width = len(Notification._meta.concrete_fields)
    rows = MAX_BIND_PARAMETERS // width + 500  # one statement would need more than 65,535 values
    Notification.objects.bulk_create([Notification(user=user, kind="case.update") for _ in range(rows)])
    assert Notification.objects.filter(user=user).count() == rows
    made = list(Notification.objects.filter(user=user))
    for row in made:
        row.kind = "case.delivered"
    Notification.objects.bulk_update(made, ["kind"])
    assert Notification.objects.filter(user=user, kind="case.delivered").count() == rows


def test_in_bulk_past_the_limit_is_asked_in_batches():
    user = make_user(Role.PATIENT, OrganizationFactory())
    kept = Notification.objects.create(user=user, kind="case.update")
    ids = [uuid.uuid4() for _ in range(MAX_BIND_PARAMETERS + 10)] + [kept.pk]
    assert list(Notification.objects.in_bulk(ids)) == [kept.pk]
