"""The demo holds past consults and follow-ups so the pages have something to show (and a second seed adds none)."""

from __future__ import annotations

import pytest

from konsil.consults.models import Consult, ConsultNote
from konsil.outcomes.models import CostEntry, FollowUp, Outcome


@pytest.mark.django_db
def test_demo_has_consults_follow_ups_and_outcomes():
    from konsil.demo import seed_demo

    seed_demo()
    assert Consult.objects.filter(status="completed").exists() and ConsultNote.objects.exists()
    assert Consult.objects.filter(status="no_show").exists()
    assert FollowUp.objects.filter(status="answered").exists()
    answered = Outcome.objects.filter(answers__gt=0).first()
    assert answered is not None and answered.plan_changed == "yes" and answered.nps == 9
    assert CostEntry.objects.filter(code="27447").exists()
    counts = (Consult.objects.count(), FollowUp.objects.count(), CostEntry.objects.count())
    seed_demo()
    assert (Consult.objects.count(), FollowUp.objects.count(), CostEntry.objects.count()) == counts
