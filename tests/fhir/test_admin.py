"""Registering a backend client on the admin pages goes through the same service as the CLI."""

from __future__ import annotations

import json

import pytest
from joserfc.jwk import ECKey

from konsil.fhir.models import FhirClient

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def test_admin_registers_a_client(client, login, hospital, network):
    admin = UserFactory(is_staff=True, is_superuser=True)
    login(client, admin)
    jwks = {"keys": [ECKey.generate_key("P-384", parameters={"kid": "a"}).as_dict(private=False)]}
    form = {"name": "Epic", "organization": str(hospital.pk), "network": str(network.pk),
            "jwks_text": json.dumps(jwks), "scopes_text": "system/ServiceRequest.crs"}
    response = client.post("/admin/fhir/fhirclient/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    registered = FhirClient.objects.get()
    assert registered.service_user.memberships.get().organization == hospital
    bad = client.post("/admin/fhir/fhirclient/add/", {**form, "scopes_text": "everything"})
    assert bad.status_code == 200 and FhirClient.objects.count() == 1
    page = client.get(f"/admin/fhir/fhirclient/{registered.pk}/change/")
    assert page.status_code == 200 and registered.client_id in page.content.decode()


def test_admin_subscription_gets_a_secret_and_the_log_replays(client, login, hospital, monkeypatch):
    from konsil.fhir import webhooks
    from konsil.fhir.models import WebhookDelivery, WebhookSubscription

    admin = UserFactory(is_staff=True, is_superuser=True)
    login(client, admin)
    response = client.post("/admin/fhir/webhooksubscription/add/", {
        "organization": str(hospital.pk), "url": "https://ehr.example/hooks", "events": '["case.submitted"]',
        "active": "on"})
    assert response.status_code == 302, response.content.decode()[:1500]
    sub = WebhookSubscription.objects.get()
    assert sub.secret.startswith("whsec_")
    delivery = WebhookDelivery.objects.create(subscription=sub, event="case.submitted", payload={}, state="failed")
    replayed = []
    monkeypatch.setattr(webhooks, "enqueue", lambda pk, when=None: replayed.append(pk))
    client.post("/admin/fhir/webhookdelivery/", {"action": "replay_deliveries", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.state == "pending"
    assert client.get("/admin/fhir/webhookdelivery/").status_code == 200
