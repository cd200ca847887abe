"""Fixtures of the program side: an employer program with a roster, a payer program with mandated reviews."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from konsil.accounts.roles import OrganizationKind, Role
from konsil.programs.models import BillingProfile, MandatedProcedure, Member, Program
from konsil.programs.roster import fingerprint

from ..factories import OrganizationFactory, make_user, valid_npi


@pytest.fixture
def employer(db):
    return OrganizationFactory(name="Acme Corp", kind=OrganizationKind.EMPLOYER, slug="acme")


@pytest.fixture
def employer_admin(employer):
    return make_user(Role.EMPLOYER_ADMIN, employer)


@pytest.fixture
def network_admin(network):
    return make_user(Role.ORG_ADMIN, network)


def add_member(program, member_id="E100", **kw) -> Member:
    values = {"member_id": member_id, "subscriber_id": kw.pop("subscriber_id", member_id),
              "relationship": "subscriber", "given_name": "Jane", "family_name": "Doe",
              "birth_date": dt.date(1980, 1, 1), "sex": "female",
              "coverage_start": timezone.localdate() - dt.timedelta(days=60),
              "coverage_end": None, "address": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701"}
    values.update(kw)
    return Member.objects.create(program=program, fingerprint=fingerprint(values), **values)


@pytest.fixture
def employer_program(employer, network):
    return Program.objects.create(
        sponsor=employer, network=network, name="Acme Second Opinions", slug="acme-so",
        services=["written", "video"], languages=["en", "es"], pricing="case_rate",
        case_rates={"written": 75000, "video": 90000}, self_pay_cents=45000)


@pytest.fixture
def payer_program(payer, network):
    program = Program.objects.create(
        sponsor=payer, network=network, name="Acme Health Plan Mandated Reviews", slug="ahp-mandates",
        services=["written"], pricing="case_rate", case_rates={"written": 60000}, payer_id="AHP01",
        self_pay_cents=50000)
    MandatedProcedure.objects.create(program=program, cpt="22630", description="Lumbar spinal fusion",
                                     decision_days=14)
    MandatedProcedure.objects.create(program=program, cpt="43644", description="Gastric bypass",
                                     decision_days=21)
    return program


@pytest.fixture
def billing_profile(network):
    return BillingProfile.objects.create(network=network, npi=valid_npi(990), tax_id="123456789",
                                         address="1 Market St", city="San Francisco", state="CA",
                                         postal_code="94105", phone="4155550100", submitter_id="KONSIL")


@pytest.fixture
def member(employer_program):
    return add_member(employer_program)
