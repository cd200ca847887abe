"""A delivered case whose specialist offers live consults all week."""

from __future__ import annotations

import pytest

from ..conftest import Walker


@pytest.fixture
def consult_specialist(specialist):
    specialist.availability = [{"day": d, "start": "08:00", "end": "18:00"} for d in range(7)]
    specialist.time_zone = "America/New_York"
    specialist.delivery_modes = ["written", "video", "phone", "in_person"]
    specialist.in_person_location = "Heart Center, 1 Main St, Boston"
    specialist.save()
    return specialist


@pytest.fixture
def delivered_case(network, patient_user, coordinator, consult_specialist):
    from ..factories import make_draft

    case = make_draft(network, patient_user, treating_physician="Dr. Local",
                      treating_physician_email="local.doctor@example.org", proposed_cpt="92928")
    return Walker(coordinator, consult_specialist).walk_to(case, "delivered")


@pytest.fixture(autouse=True)
def _mail_at_once(monkeypatch):
    """E-mails go out on commit; these tests run inside one transaction, so send them at once."""
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda fn, using=None, robust=False: fn())
