"""A delivered case with a treating physician and a price for the proposed procedure."""

from __future__ import annotations

import pytest

from ..conftest import Walker


@pytest.fixture
def delivered_case(network, patient_user, coordinator, specialist):
    from ..factories import make_draft, set_identity

    case = make_draft(network, patient_user, treating_physician="Dr. Local",
                      treating_physician_email="local.doctor@example.org", proposed_cpt="92928")
    set_identity(case, email="ana@example.org", language="es")
    return Walker(coordinator, specialist).walk_to(case, "delivered")


@pytest.fixture
def stent_price(db):
    from konsil.outcomes.models import CostEntry

    return CostEntry.objects.create(code="92928", description="Coronary stent", amount="15000.00",
                                    source="Test fee schedule", year=2025)


@pytest.fixture(autouse=True)
def _mail_at_once(monkeypatch):
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda fn, using=None, robust=False: fn())
