"""SMART Backend Services: a JWT assertion signed with the client's key buys a short-lived bearer token."""

from __future__ import annotations

import pytest

from konsil.audit.models import AuditEvent
from konsil.fhir.models import AccessToken

from .conftest import make_backend

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_signed_assertion_gets_a_short_lived_token(client, hospital, network, alg):
    backend = make_backend(hospital, network=network, alg=alg)
    response = backend.token_response(client, scope="system/Patient.rs")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] <= 300 and body["scope"] == "system/Patient.rs"
    assert response["Cache-Control"] == "no-store"
    token = AccessToken.objects.get()
    assert token.scopes == ["system/Patient.rs"] and body["access_token"] not in token.digest
    search = client.get("/fhir/R4/Patient", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert search.status_code == 200 and search["Content-Type"] == "application/fhir+json"


def test_replayed_assertion_is_refused(client, ehr):
    assertion = ehr.assertion(jti="same")
    form = {"grant_type": "client_credentials", "scope": "system/Patient.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion}
    assert client.post("/fhir/R4/auth/token", form).status_code == 200
    again = client.post("/fhir/R4/auth/token", form)
    assert again.status_code == 401 and "already used" in again.json()["error_description"]
    assert AccessToken.objects.count() == 1
    assert AuditEvent.objects.filter(action="fhir.token", outcome="denied").exists()


@pytest.mark.parametrize("kwargs, words", [
    ({"exp_in": -120}, "expired"),
    ({"exp_in": 3600}, "five minutes"),
    ({"aud": "https://elsewhere.example/token"}, "aud"),
])
def test_bad_claims_are_refused(client, ehr, kwargs, words):
    response = ehr.token_response(client, **kwargs)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client" and words in response.json()["error_description"]
    assert not AccessToken.objects.exists()


def test_assertion_signed_by_another_key_is_refused(client, ehr, other_ehr):
    other_ehr.client = ehr.client  # the other client's key, this client's id
    response = other_ehr.token_response(client)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_unknown_client_and_wrong_grant(client, ehr):
    assert ehr.token_response(client, iss="nobody").status_code == 401
    response = client.post("/fhir/R4/auth/token", {"grant_type": "password"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    assert client.get("/fhir/R4/auth/token").status_code == 405


def test_scopes_beyond_the_registration_are_refused(client, hospital, network):
    backend = make_backend(hospital, network=network, scopes="system/Patient.rs")
    response = backend.token_response(client, scope="system/Patient.rs system/ServiceRequest.c")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"
    assert backend.token_response(client, scope="system/Patient.r").status_code == 200


def test_the_api_wants_a_token_with_the_right_scope(client, ehr):
    anonymous = client.get("/fhir/R4/Patient")
    assert anonymous.status_code == 401 and anonymous.json()["resourceType"] == "OperationOutcome"
    bogus = client.get("/fhir/R4/Patient", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert bogus.status_code == 401
    headers = ehr.headers(client, scope="system/Patient.rs")
    refused = client.get("/fhir/R4/ServiceRequest", **headers)
    assert refused.status_code == 403 and refused.json()["issue"][0]["code"] == "forbidden"


def test_expired_token_is_refused(client, ehr):
    headers = ehr.headers(client)
    AccessToken.objects.update(expires_at="2000-01-01T00:00:00Z")
    assert client.get("/fhir/R4/Patient", **headers).status_code == 401


def test_cli_registers_a_client_and_prints_its_id(tmp_path, hospital, network, capsys):
    import json

    from joserfc.jwk import ECKey

    from konsil.cli import main
    from konsil.fhir.models import FhirClient

    key = ECKey.generate_key("P-384", parameters={"kid": "cli"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    code = main(["fhir", "client", "add", "Epic", "--org", hospital.slug, "--network", network.slug,
                 "--jwks", str(path), "--scope", "system/ServiceRequest.crs"])
    assert code == 0
    client = FhirClient.objects.get(client_id=capsys.readouterr().out.strip())
    assert client.network == network and client.scopes == ["system/ServiceRequest.crs"]
    path.write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    assert main(["fhir", "client", "add", "Bad", "--org", hospital.slug, "--jwks", str(path),
                 "--scope", "system/ServiceRequest.crs"]) == 1
    assert "public" in capsys.readouterr().err
    assert main(["fhir", "client", "add", "Bad", "--org", "nope", "--jwks", str(path), "--scope", "x"]) == 1
    assert FhirClient.objects.count() == 1


def test_expired_tokens_and_old_assertions_are_purged(client, ehr):
    from datetime import timedelta

    from django.utils import timezone

    from konsil.core import schedule
    from konsil.fhir.models import UsedAssertion
    from konsil.fhir.tasks import purge_expired_tokens

    ehr.token(client)
    ehr.token(client)
    AccessToken.objects.filter(pk=AccessToken.objects.first().pk).update(
        expires_at=timezone.now() - timedelta(hours=2))
    UsedAssertion.objects.filter(pk=UsedAssertion.objects.first().pk).update(
        expires_at=timezone.now() - timedelta(hours=2))
    purge_expired_tokens.call()
    assert AccessToken.objects.count() == 1 and UsedAssertion.objects.count() == 1
    assert "konsil.fhir.tasks.purge_expired_tokens" in {p.task for p in schedule.SCHEDULE}
    assert "konsil.fhir.tasks.retry_due_webhooks" in {p.task for p in schedule.SCHEDULE}
