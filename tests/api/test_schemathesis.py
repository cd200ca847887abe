"""Schemathesis against the app's own WSGI application: every operation of the OpenAPI schema, a bounded number
of generated requests each (valid and invalid), signed in as a patient with an API token: no server error, and
every response conforms to the document (a documented status, content type, headers and body schema; error bodies
included)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from konsil.wsgi import application

from ..factories import api_token

pytestmark = [pytest.mark.slow]


@schemathesis.serializer("application/offset+octet-stream")
def _octets(ctx, value) -> bytes:  # tus upload chunks
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture
def api_schema(db):
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections
    from drf_spectacular.generators import SchemaGenerator

    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    loaded.app = application
    # like Django's test client: the request must not close the test's connection (its transaction)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield loaded
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
               response_schema_conformance]


@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
def test_no_server_errors_and_responses_conform(case, patient_user, draft_case):
    if case.path_parameters and "id" in case.path_parameters:
        case.path_parameters["id"] = str(draft_case.pk)
    response = case.call(headers={"Authorization": f"Token {api_token(patient_user)}"})
    case.validate_response(response, checks=CONFORMANCE)
