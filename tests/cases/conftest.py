"""Fixtures for the case domain tests: the people around one case, by name."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from konsil.accounts.roles import Role
from konsil.cases.models import CaregiverAuthorization

from ..factories import make_user


@pytest.fixture
def stranger(other_network):
    """A coordinator of another network: no relation to our cases."""
    return make_user(Role.COORDINATOR, other_network, first_name="Olga")


@pytest.fixture
def caregiver(network, draft_case):
    """A caregiver holding an active authorization for the draft case's patient."""
    user = make_user(Role.CAREGIVER, network, first_name="Carl")
    CaregiverAuthorization.objects.create(caregiver=user, patient=draft_case.patient, relationship="son",
                                          signed_by="Ana García", signed_at=timezone.now(),
                                          expires_on=timezone.localdate() + dt.timedelta(days=30))
    return user


@pytest.fixture
def cast(patient_user, coordinator, specialist, stranger):
    """The actors of a case by the names the tests use."""
    return {"patient": patient_user, "coordinator": coordinator, "specialist": specialist.user,
            "stranger": stranger}
