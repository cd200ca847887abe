"""The OpenAPI schema and Swagger UI: behind sign-in by default, generated once and safe under threads."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from konsil.core.api import CachedSchemaView

JSON = "application/vnd.oai.openapi+json"


@pytest.fixture(autouse=True)
def _fresh_cache():
    CachedSchemaView._cache.clear()
    yield
    CachedSchemaView._cache.clear()


def test_anonymous_people_get_no_schema_nor_docs(client, db):
    assert client.get("/api/schema/", HTTP_ACCEPT=JSON).status_code in (401, 403)
    response = client.get("/api/docs/")
    assert response.status_code == 302 and "/accounts/login" in response["Location"]


def test_a_setting_opens_them(client, db, settings):
    settings.KONSIL_API_DOCS_PUBLIC = True
    assert client.get("/api/schema/", HTTP_ACCEPT=JSON).status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_the_schema_is_generated_once_per_language(client, login, coordinator):
    login(client, coordinator)
    with mock.patch.object(SchemaGenerator, "get_schema", autospec=True,
                           side_effect=SchemaGenerator.get_schema) as generate:
        first = client.get("/api/schema/", HTTP_ACCEPT=JSON).json()
        second = client.get("/api/schema/", HTTP_ACCEPT=JSON).json()
        client.get("/api/schema/?lang=zz", HTTP_ACCEPT=JSON)  # an unknown language shares the default's entry
        client.get("/api/schema/?lang=es", HTTP_ACCEPT=JSON)
    assert first == second
    assert generate.call_count == 2


def test_first_requests_from_many_threads(transactional_db, coordinator):
    from django.conf import settings

    settings.KONSIL_API_DOCS_PUBLIC = True
    barrier, statuses = threading.Barrier(6), []

    def fetch():
        barrier.wait()
        statuses.append(Client().get("/api/schema/", HTTP_ACCEPT=JSON).status_code)

    try:
        threads = [threading.Thread(target=fetch) for _ in range(6)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    finally:
        settings.KONSIL_API_DOCS_PUBLIC = False
    assert statuses == [200] * 6
