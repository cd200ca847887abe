"""The REST API accepts the FHIR API's SMART bearer tokens, bounded by their scopes; browsers on an origin a client
registered may call the APIs (CORS), others may not, and never with cookies."""

from __future__ import annotations

import io
import json
from argparse import Namespace

import pytest

from konsil.audit.models import AuditEvent
from konsil.fhir.commands import client_add
from konsil.fhir.errors import FhirError
from konsil.fhir.services import clean_origins

from .conftest import ALL_READ, make_backend, post_bundle, referral_bundle


def test_api_v1_lists_the_clients_cases_with_its_smart_token(client, ehr, specialist):
    assert post_bundle(client, ehr, referral_bundle()).status_code == 201
    response = client.get("/api/v1/cases/", **ehr.headers(client))
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert len(rows) == 1


def test_api_v1_refuses_unknown_expired_or_unscoped_tokens(client, ehr, hospital):
    assert client.get("/api/v1/cases/", HTTP_AUTHORIZATION="Bearer not-a-token").status_code == 401
    narrow = make_backend(hospital, scopes="system/Patient.rs", name="Narrow")
    response = client.get("/api/v1/cases/", **narrow.headers(client, "system/Patient.rs"))
    assert response.status_code == 403 and "scope" in response.json()["detail"]
    assert AuditEvent.objects.filter(action="fhir.scope", outcome="denied").exists()
    # a read-only token cannot write through /api/v1
    response = client.post("/api/v1/cases/", data=json.dumps({}), content_type="application/json",
                           **ehr.headers(client, "system/*.rs"))
    assert response.status_code == 403


def test_konsil_api_tokens_still_work_beside(client, patient_user):
    from ..factories import api_token

    raw = api_token(patient_user)
    assert client.get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_cors_only_for_registered_origins_and_without_credentials(client, hospital):
    backend = make_backend(hospital, name="Portal")
    backend.client.allowed_origins = ["https://portal.hospital.example"]
    backend.client.save()
    preflight = {"HTTP_ORIGIN": "https://portal.hospital.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET",
                 "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization"}
    response = client.options("/fhir/R4/ServiceRequest", **preflight)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://portal.hospital.example"
    assert "authorization" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response
    response = client.get("/api/v1/cases/", HTTP_ORIGIN="https://portal.hospital.example",
                          **backend.headers(client))
    assert response["Access-Control-Allow-Origin"] == "https://portal.hospital.example"
    for origin in ("https://evil.example", "https://portal.hospital.example.evil.example"):
        response = client.options("/fhir/R4/ServiceRequest", **{**preflight, "HTTP_ORIGIN": origin})
        assert "Access-Control-Allow-Origin" not in response
    # pages are never opened to other origins
    response = client.get("/", HTTP_ORIGIN="https://portal.hospital.example")
    assert "Access-Control-Allow-Origin" not in response
    backend.client.active = False
    backend.client.save()
    response = client.options("/fhir/R4/ServiceRequest", **preflight)
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize("bad", ["http://portal.example", "https://portal.example/app", "ftp://x.example",
                                 "https://", "https://u:p@x.example", "https://x.example:99999", "x" * 300])
def test_bad_origins_are_refused(bad):
    with pytest.raises(FhirError) as err:
        clean_origins([bad])
    assert err.value.expression == "origins"


def test_origins_are_normalised():
    assert clean_origins(["https://App.Example/", "http://localhost:3000", "https://app.example"]) == [
        "http://localhost:3000", "https://app.example"]


def test_cli_registers_origins(hospital, tmp_path):
    key = make_backend(hospital).client.jwks
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(key))
    out, err = io.StringIO(), io.StringIO()
    args = Namespace(name="Portal", org=hospital.slug, jwks=str(path), scope=ALL_READ, network=None,
                     origins=["https://portal.example"])
    assert client_add(args, out=out, err=err) == 0, err.getvalue()
    from konsil.fhir.models import FhirClient

    assert FhirClient.objects.get(client_id=out.getvalue().strip()).allowed_origins == ["https://portal.example"]
    args.origins = ["https://portal.example/path"]
    assert client_add(args, out=io.StringIO(), err=err) == 1 and "origin" in err.getvalue()
