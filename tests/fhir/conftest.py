"""FHIR fixtures: a hospital that refers to the network, backend clients with their keys, tokens."""

from __future__ import annotations

import base64
import gzip
import json
import time
import uuid
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from konsil.accounts.roles import OrganizationKind
from konsil.fhir.services import register_client

from ..factories import OrganizationFactory, make_specialist

TOKEN_URL = "http://testserver/fhir/R4/auth/token"
SYNTHEA = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthea"
ALL_READ = "system/*.rs system/ServiceRequest.c"


def synthea_patient(name: str = "Abdul_Koepp") -> dict:
    path = next(SYNTHEA.glob(f"{name}_*.json.gz"), None)
    if path is None:
        pytest.skip(f"the Synthea sample {name} is not in {SYNTHEA}")
    with gzip.open(path) as fh:
        bundle = json.loads(fh.read())
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")


def referral_bundle(patient: dict | None = None, *, identifier: str = "REF-1", consent: bool = True,
                    codes=("I25.10",), document: bytes | None = b"%PDF-1.4\n% a referral letter\n") -> dict:
    """A transaction Bundle as an EHR sends it: the Synthea patient, the request, conditions, a document."""
    patient = dict(patient or synthea_patient())
    p_url = f"urn:uuid:{uuid.uuid4()}"
    subject = {"reference": p_url}
    entries = [{"fullUrl": p_url, "resource": patient, "request": {"method": "POST", "url": "Patient"}}]
    entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "ServiceRequest"},
                    "resource": {
                        "resourceType": "ServiceRequest", "status": "active", "intent": "order",
                        "identifier": [{"system": "urn:oid:1.2.3.4.hospital.referrals", "value": identifier}],
                        "priority": "urgent", "subject": subject,
                        "code": {"text": "Second opinion"},
                        "requester": {"display": "Dr. Rita Referrer"},
                        "note": [{"text": "Is a stent needed now?"}]}})
    for code in codes:
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "Condition"},
                        "resource": {"resourceType": "Condition", "subject": subject, "code": {
                            "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}],
                            "text": "Coronary artery disease"}}})
    if document is not None:
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST",
                                                                           "url": "DocumentReference"},
                        "resource": {"resourceType": "DocumentReference", "status": "current", "subject": subject,
                                     "content": [{"attachment": {
                                         "contentType": "application/pdf", "title": "letter.pdf",
                                         "data": base64.b64encode(document).decode()}}]}})
    if consent:
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "Consent"},
                        "resource": {
                            "resourceType": "Consent", "status": "active", "patient": subject,
                            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                                  "code": "patient-privacy"}]},
                            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                            "performer": [{"display": "Abdul Koepp"}]}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


@pytest.fixture
def specialist(network):
    """Licensed where the Synthea patients live (Massachusetts) as well as California."""
    return make_specialist(network, specialty="cardiology", states=("CA", "MA"), languages=("en",))


@pytest.fixture
def hospital(db):
    return OrganizationFactory(name="General Hospital", kind=OrganizationKind.HOSPITAL)


@pytest.fixture
def other_hospital(db):
    return OrganizationFactory(name="Other Hospital", kind=OrganizationKind.HOSPITAL)


class Backend:
    """A registered client and its private key: signs assertions, gets tokens, calls the API."""

    def __init__(self, client, key, alg: str):
        self.client, self.key, self.alg = client, key, alg

    def assertion(self, *, exp_in: int = 240, jti: str | None = None, aud: str = TOKEN_URL, iss=None) -> str:
        now = int(time.time())
        claims = {"iss": iss or self.client.client_id, "sub": iss or self.client.client_id, "aud": aud,
                  "exp": now + exp_in, "iat": now, "jti": jti or uuid.uuid4().hex}
        return jwt.encode({"alg": self.alg, "kid": self.key.kid, "typ": "JWT"}, claims, self.key,
                          algorithms=[self.alg])

    def token_response(self, http, *, scope: str = ALL_READ, **kwargs):
        return http.post("/fhir/R4/auth/token", {
            "grant_type": "client_credentials", "scope": scope,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.assertion(**kwargs)})

    def token(self, http, scope: str = ALL_READ) -> str:
        response = self.token_response(http, scope=scope)
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    def headers(self, http, scope: str = ALL_READ) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token(http, scope)}"}


def make_backend(org, *, network=None, alg: str = "ES384", scopes: str = ALL_READ, name: str = "EHR") -> Backend:
    if alg == "ES384":
        key = ECKey.generate_key("P-384", parameters={"kid": f"k-{uuid.uuid4().hex[:8]}"})
    else:
        key = RSAKey.generate_key(2048, parameters={"kid": f"k-{uuid.uuid4().hex[:8]}"})
    jwks = {"keys": [key.as_dict(private=False)]}
    client = register_client(actor="test", name=name, organization=org, jwks=jwks, scopes=scopes, network=network)
    return Backend(client, key, alg)


@pytest.fixture
def ehr(hospital, network):
    return make_backend(hospital, network=network)


@pytest.fixture
def other_ehr(other_hospital, network):
    return make_backend(other_hospital, network=network, name="Other EHR")


@pytest.fixture
def network_client(network):
    return make_backend(network, alg="RS384", name="Network integration")


def post_bundle(http, backend: Backend, bundle: dict, scope: str = ALL_READ):
    return http.post("/fhir/R4/", json.dumps(bundle), content_type="application/fhir+json",
                     **backend.headers(http, scope))


@pytest.fixture(autouse=True)
def loopback_receivers(settings):
    """The tests' webhook receivers listen on 127.0.0.1: trusted here as an operator would trust an internal
    integration engine (tests/fhir/test_egress.py checks the default refuses it)."""
    settings.KONSIL_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
