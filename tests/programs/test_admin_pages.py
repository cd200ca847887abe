"""An org admin creates a program and edits the network's billing profile on Konsil's pages (and the API):
field-level errors, nothing half-saved, every change audited, outsiders refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from konsil.accounts.roles import OrganizationKind, Role
from konsil.audit.models import AuditEvent
from konsil.core.errors import PermissionDenied, ValidationFailed
from konsil.programs import services
from konsil.programs.models import BillingProfile, MandatedProcedure, Program

from ..factories import OrganizationFactory, make_user, valid_npi

pytestmark = pytest.mark.django_db


def program_post(employer, network, **kw):
    return {"sponsor": employer.slug, "network": network.slug, "name": "Acme Spine Benefit", "slug": "",
            "services": ["written", "video"], "eligibility": "roster", "pricing": "case_rate", "rate_written": "750",
            "pmpm": "", "self_pay": "450.00", "languages": ["en", "es"], "payer_id": "",
            "mandated": "22630 | Lumbar fusion | 14", "contacts": "Ann Lee | ann@acme.example | | benefits",
            "active": "on", **kw}


def test_network_admin_creates_a_program(client, login, employer, network, network_admin):
    login(client, network_admin)
    assert reverse("programs:new") in client.get(reverse("programs:list")).content.decode()
    assert client.get(reverse("programs:new")).status_code == 200
    response = client.post(reverse("programs:new"), program_post(employer, network))
    assert response.status_code == 302, response.content.decode()[:3000]
    program = Program.objects.get(slug="acme-spine-benefit")
    assert (program.sponsor, program.network, program.case_rates, program.self_pay_cents) == (
        employer, network, {"written": 75000}, 45000)
    assert list(program.mandated_procedures.values_list("cpt", "decision_days")) == [("22630", 14)]
    assert program.contacts[0]["email"] == "ann@acme.example"
    assert AuditEvent.objects.filter(action="program.create", object_id=str(program.pk)).exists()


def test_sponsor_admin_creates_a_program_with_a_network(client, login, employer, network, employer_admin):
    login(client, employer_admin)
    response = client.post(reverse("programs:new"), program_post(employer, network, slug="acme-own"))
    assert response.status_code == 302
    assert Program.objects.get(slug="acme-own").sponsor == employer


@pytest.mark.parametrize("change, field", [
    ({"name": ""}, "name"), ({"accent": "blue"}, "accent"), ({"rate_written": "lots"}, "rate_written"),
    ({"self_pay": "-5"}, "self_pay"), ({"mandated": "2263 | Fusion | 14"}, "mandated"),
    ({"mandated": "22630 | Fusion | 400"}, "mandated"), ({"contacts": "Ann | not-an-email"}, "contacts"),
    ({"sponsor": "nobody"}, "sponsor"), ({"services": []}, "services"), ({"slug": "bad slug!"}, "slug"),
])
def test_bad_input_names_the_field_and_saves_nothing(client, login, employer, network, network_admin, change,
                                                     field):
    login(client, network_admin)
    response = client.post(reverse("programs:new"), program_post(employer, network, **change))
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_{field}"' in html and "error-summary" in html and f'href="#id_{field}"' in html, field
    assert not Program.objects.exists() and not MandatedProcedure.objects.exists()


def test_taken_address_is_a_field_error(client, login, employer, network, network_admin, employer_program):
    login(client, network_admin)
    response = client.post(reverse("programs:new"), program_post(employer, network, slug=employer_program.slug))
    assert response.status_code == 400 and "This address is taken" in response.content.decode()
    assert Program.objects.count() == 1


def test_people_without_an_admin_role_cannot_create(client, login, employer, network, coordinator):
    login(client, coordinator)
    assert client.get(reverse("programs:new")).status_code == 403
    assert client.post(reverse("programs:new"), program_post(employer, network)).status_code == 403
    assert not Program.objects.exists()


def test_api_creates_a_program_with_field_errors(client, login, employer, network, network_admin):
    login(client, network_admin)
    url = "/api/v1/programs/"
    bad = client.post(url, {"sponsor": employer.slug, "network": network.slug, "name": "",
                            "services": ["teleport"]}, content_type="application/json")
    assert bad.status_code == 400 and {"name", "services"} <= set(bad.json()["errors"])
    assert not Program.objects.exists()
    bad_rate = client.post(url, {"sponsor": employer.slug, "network": network.slug, "name": "Acme API",
                                 "case_rates": {"video": "lots"}}, content_type="application/json")
    assert bad_rate.status_code == 400 and "case_rates.video" in bad_rate.json()["errors"]
    ok = client.post(url, {"sponsor": employer.slug, "network": network.slug, "name": "Acme API",
                           "services": ["written"], "case_rates": {"written": 70000}},
                     content_type="application/json")
    assert ok.status_code == 201, ok.content
    assert ok.json()["slug"] == "acme-api" and Program.objects.get(slug="acme-api").case_rates == {"written": 70000}
    taken = client.post(url, {"sponsor": employer.slug, "network": network.slug, "name": "Acme API"},
                        content_type="application/json")
    assert taken.status_code == 409


# --- billing profile -------------------------------------------------------------------------------------------

def profile_post(**kw):
    return {"npi": valid_npi(990), "tax_id": "12-3456789", "address": "1 Market St", "city": "San Francisco",
            "state": "CA", "postal_code": "94105", "phone": "(415) 555-0100", "submitter_id": "KONSIL", **kw}


def test_network_admin_saves_and_edits_the_billing_profile(client, login, network, network_admin):
    login(client, network_admin)
    url = reverse("programs:billing_profile", args=[network.pk])
    assert url in client.get(reverse("programs:list")).content.decode()
    assert client.get(url).status_code == 200
    assert client.post(url, profile_post()).status_code == 302
    profile = BillingProfile.objects.get(network=network)
    assert (profile.tax_id, profile.phone) == ("123456789", "4155550100")
    assert client.post(url, profile_post(city="Oakland")).status_code == 302
    profile.refresh_from_db()
    assert profile.city == "Oakland"
    changes = AuditEvent.objects.filter(action="program.billing_profile").order_by("seq")
    assert [e.detail["fields"] for e in changes][-1] == ["city"]
    assert 'value="Oakland"' in client.get(url).content.decode()


@pytest.mark.parametrize("change, field", [
    ({"npi": "1234567890"}, "npi"), ({"tax_id": "12345"}, "tax_id"), ({"state": "ZZ"}, "state"),
    ({"postal_code": "9410"}, "postal_code"), ({"phone": "555"}, "phone"), ({"address": ""}, "address"),
    ({"submitter_id": ""}, "submitter_id"),
])
def test_bad_billing_profile_names_the_field_and_keeps_the_old_one(client, login, network, network_admin,
                                                                   billing_profile, change, field):
    login(client, network_admin)
    before = BillingProfile.objects.values().get(pk=billing_profile.pk)
    response = client.post(reverse("programs:billing_profile", args=[network.pk]), profile_post(**change))
    assert response.status_code == 400
    assert f'href="#id_{field}"' in response.content.decode()
    assert BillingProfile.objects.values().get(pk=billing_profile.pk) == before


def test_service_checks_every_field_at_once(network, network_admin):
    with pytest.raises(ValidationFailed) as exc:
        services.save_billing_profile(actor=network_admin, network=network,
                                      data=profile_post(npi="1", tax_id="x", phone="1"))
    assert {"npi", "tax_id", "phone"} <= set(exc.value.as_dict()["errors"])
    assert not BillingProfile.objects.exists()


def test_only_the_networks_admins_edit_the_billing_profile(client, login, network, coordinator, employer_admin):
    elsewhere = OrganizationFactory(kind=OrganizationKind.PROVIDER_NETWORK)
    for user in (coordinator, employer_admin, make_user(Role.ORG_ADMIN, elsewhere)):
        login(client, user)
        assert client.get(reverse("programs:billing_profile", args=[network.pk])).status_code == 404
        assert client.post(reverse("programs:billing_profile", args=[network.pk]), profile_post()).status_code == 404
        with pytest.raises(PermissionDenied):
            services.save_billing_profile(actor=user, network=network, data=profile_post())
    assert not BillingProfile.objects.exists()
