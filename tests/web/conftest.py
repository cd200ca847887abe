"""Fixtures of the page tests: the roles the shared conftest does not build, and small helpers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from konsil.accounts.roles import OrganizationKind, Role
from konsil.audit.models import AuditEvent

from ..factories import OrganizationFactory, make_draft, make_user


@pytest.fixture
def other_patient(network):
    return make_user(Role.PATIENT, network, first_name="Otto", last_name="Other")


@pytest.fixture
def other_case(network, other_patient):
    """A draft of another patient in the same network."""
    return make_draft(network, other_patient)


@pytest.fixture
def payer(db):
    return OrganizationFactory(name="Acme Health Plan", kind=OrganizationKind.PAYER)


@pytest.fixture
def payer_admin(payer):
    return make_user(Role.PAYER_ADMIN, payer)


@pytest.fixture
def auditor(network):
    return make_user(Role.AUDITOR, network)


@pytest.fixture
def other_coordinator(other_network):
    return make_user(Role.COORDINATOR, other_network)


def url(name: str, **kwargs) -> str:
    return reverse(name, kwargs=kwargs or None)


def events(action: str, **filters):
    return AuditEvent.objects.filter(action=action, **filters)
