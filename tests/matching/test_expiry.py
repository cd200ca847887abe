"""Expiring licenses and board certifications warn the specialist and the coordinators, once per window."""

from __future__ import annotations

import datetime as dt

from konsil.cases.models import Notification
from konsil.matching import tasks
from konsil.matching.models import License
from konsil.matching.services import warn_expiring

TODAY = dt.date(2026, 6, 1)


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(user=user).values_list("kind", flat=True))


def test_an_expiring_license_warns_once(network, coordinator, specialist, other_coordinator):
    License.objects.filter(specialist=specialist).update(expires_on=TODAY + dt.timedelta(days=10))
    assert warn_expiring(today=TODAY) == 1
    assert kinds(specialist.user) == ["license_expiring"] and kinds(coordinator) == ["license_expiring"]
    assert kinds(other_coordinator) == []  # another network's coordinator hears nothing
    assert warn_expiring(today=TODAY + dt.timedelta(days=1)) == 0  # once per item per window
    License.objects.filter(specialist=specialist).update(expires_on=TODAY + dt.timedelta(days=20))  # renewed
    assert warn_expiring(today=TODAY) == 1


def test_outside_the_window_nothing_is_sent(specialist, coordinator):
    License.objects.filter(specialist=specialist).update(expires_on=TODAY + dt.timedelta(days=31))
    assert warn_expiring(today=TODAY) == 0
    License.objects.filter(specialist=specialist).update(expires_on=TODAY - dt.timedelta(days=1))
    assert warn_expiring(today=TODAY) == 0
    assert warn_expiring(today=TODAY, days=60) == 0 and kinds(coordinator) == []


def test_board_certifications_warn_and_bad_dates_are_skipped(specialist, coordinator):
    License.objects.filter(specialist=specialist).update(expires_on=TODAY + dt.timedelta(days=400))
    specialist.board_certifications = [
        {"board": "ABIM", "specialty": "cardiology", "expires_on": (TODAY + dt.timedelta(days=5)).isoformat()},
        {"board": "ABIM", "specialty": "internal_medicine", "expires_on": "2040-01-01"},
        {"board": "Old", "specialty": "x", "expires_on": "garbage"},
    ]
    specialist.save()
    assert warn_expiring(today=TODAY) == 1
    assert kinds(specialist.user) == ["license_expiring"]
    assert specialist.expiry_warnings.get().kind == "board"


def test_the_scheduled_task_runs_the_service(specialist):
    from django.utils import timezone

    License.objects.filter(specialist=specialist).update(expires_on=timezone.localdate() + dt.timedelta(days=3))
    tasks.warn_expiring_credentials.enqueue()
    assert kinds(specialist.user) == ["license_expiring"]
