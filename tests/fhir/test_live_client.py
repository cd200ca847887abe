"""The whole integration against a live server with a real FHIR client (fhirpy): a backend client gets a token
with a JWT assertion, refers a Synthea patient, the case appears; once the opinion is delivered the client reads
the DiagnosticReport and the $document Bundle, and a signed webhook arrives at a test receiver and verifies."""

from __future__ import annotations

import pytest
import requests

from konsil.cases.models import Case
from konsil.fhir import webhooks
from konsil.fhir.resources import validate

from .conftest import referral_bundle, synthea_patient
from .test_webhooks import Receiver

fhirpy = pytest.importorskip("fhirpy")

pytestmark = pytest.mark.django_db(transaction=True)


def test_referral_to_opinion_through_a_real_fhir_client(live_server, ehr, hospital, walker):
    receiver = Receiver()
    try:
        sub = webhooks.subscribe(actor="test", organization=hospital, url=receiver.url,
                                 events=["opinion.delivered"])
        base = f"{live_server.url}/fhir/R4/"
        smart = requests.get(f"{base}.well-known/smart-configuration", timeout=10).json()
        token = requests.post(smart["token_endpoint"], timeout=10, data={
            "grant_type": "client_credentials", "scope": "system/*.rs system/ServiceRequest.c",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": ehr.assertion(aud=smart["token_endpoint"])}).json()["access_token"]
        fhir = fhirpy.SyncFHIRClient(base, authorization=f"Bearer {token}")

        response = fhir.execute("", method="post", data=referral_bundle(synthea_patient("Abdul_Koepp")))
        assert response["type"] == "transaction-response"
        requests_found = fhir.resources("ServiceRequest").search(
            identifier="urn:oid:1.2.3.4.hospital.referrals|REF-1").fetch()
        assert len(requests_found) == 1 and requests_found[0]["status"] == "active"
        case = Case.objects.get(pk=requests_found[0]["id"])

        walker.walk_to(case, "delivered")
        task = fhir.reference("Task", str(case.pk)).to_resource()
        assert task["status"] == "completed"
        report_ref = task["output"][0]["valueReference"]["reference"]
        report = fhir.reference(*report_ref.split("/")).to_resource()
        validate(report.serialize())
        document = fhir.execute(f"{report_ref}/$document", method="get")
        validate(document)
        assert document["entry"][0]["resource"]["resourceType"] == "Composition"

        assert [json_type for json_type in receiver.events()] == ["opinion.delivered"]
        headers, body = receiver.received[0]
        assert webhooks.verify(sub.secret, headers, body)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
