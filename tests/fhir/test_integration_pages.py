"""Integrations on Konsil's own pages: an organization admin registers FHIR clients and webhooks, switches them
off, sends a delivery again; errors on the field; other organizations' rows stay out of reach; audited."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from joserfc.jwk import ECKey

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.fhir.models import FhirClient, WebhookDelivery, WebhookSubscription

from ..conftest import verified_login
from ..factories import make_user
from .conftest import make_backend


@pytest.fixture
def admin(client, hospital):
    user = make_user(Role.ORG_ADMIN, hospital, first_name="Ada", last_name="Admin")
    verified_login(client, user)
    return user


def jwks() -> str:
    return json.dumps({"keys": [ECKey.generate_key("P-384", parameters={"kid": "k1"}).as_dict(private=False)]})


def test_admin_registers_a_client_and_sees_it(client, admin, hospital):
    page = client.get(reverse("integrations:page"))
    assert page.status_code == 200 and b"/fhir/R4/auth/token" in page.content
    response = client.post(reverse("integrations:client_new"), {
        "organization": str(hospital.pk), "name": "Hospital EHR", "jwks": jwks(), "scopes": "system/*.rs",
        "origins": "https://portal.hospital.example", "source_base": "https://ehr.hospital.example/fhir"},
        follow=True)
    assert response.status_code == 200
    registered = FhirClient.objects.get(name="Hospital EHR")
    assert registered.organization == hospital and registered.allowed_origins == ["https://portal.hospital.example"]
    assert registered.source_base == "https://ehr.hospital.example/fhir"
    assert registered.client_id.encode() in response.content
    assert AuditEvent.objects.filter(action="fhir.client.create").exists()
    assert AuditEvent.objects.filter(action="fhir.integrations.view", actor_id=admin.pk).exists()


@pytest.mark.parametrize("field, value, words", [("jwks", "{not json", "JSON"),
                                                 ("jwks", '{"keys": []}', "JWKS"),
                                                 ("scopes", "patient/*.read", "scopes"),
                                                 ("origins", "http://portal.example/app", "origin")])
def test_bad_client_input_is_shown_on_the_field(client, admin, hospital, field, value, words):
    data = {"organization": str(hospital.pk), "name": "EHR", "jwks": jwks(), "scopes": "system/*.rs", "origins": ""}
    data[field] = value
    response = client.post(reverse("integrations:client_new"), data)
    assert response.status_code == 200 and words in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert not FhirClient.objects.exists()


def test_webhook_secret_shown_once_and_bad_receivers_refused(client, admin, hospital, settings):
    settings.KONSIL_WEBHOOK_ALLOWED_NETWORKS = []
    response = client.post(reverse("integrations:subscription_new"), {
        "organization": str(hospital.pk), "url": "http://169.254.169.254/latest", "events": ["*"]})
    assert response.status_code == 200 and "private or internal" in response.content.decode()
    assert not WebhookSubscription.objects.exists()
    response = client.post(reverse("integrations:subscription_new"), {
        "organization": str(hospital.pk), "url": "https://93.184.215.14/hook", "events": ["case.submitted"]})
    sub = WebhookSubscription.objects.get()
    assert sub.secret in response.content.decode()
    assert sub.secret not in client.get(reverse("integrations:page")).content.decode()


def test_switch_off_and_replay_only_for_own_organization(client, admin, hospital, other_hospital):
    own = make_backend(hospital, name="Own").client
    other = make_backend(other_hospital, name="Theirs").client
    client.post(reverse("integrations:client_toggle", kwargs={"pk": own.pk}))
    own.refresh_from_db()
    assert own.active is False
    assert client.post(reverse("integrations:client_toggle", kwargs={"pk": other.pk})).status_code == 404
    other.refresh_from_db()
    assert other.active is True
    theirs = WebhookSubscription.objects.create(organization=other_hospital, url="https://93.184.215.14/h",
                                                events=["*"], secret="whsec_x")
    delivery = WebhookDelivery.objects.create(subscription=theirs, event="case.submitted", payload={})
    assert client.post(reverse("integrations:delivery_replay", kwargs={"pk": delivery.pk})).status_code == 404
    assert "Theirs" not in client.get(reverse("integrations:page")).content.decode()


def test_only_org_admins(client, hospital):
    clinician = make_user(Role.REFERRING_CLINICIAN, hospital)
    verified_login(client, clinician)
    assert client.get(reverse("integrations:page")).status_code == 403
    assert client.post(reverse("integrations:client_new"), {}).status_code == 403
