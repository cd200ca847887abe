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


@pytest.mark.django_db
def test_demo_history_cases_read_in_order():
    """A delivered demo story happened weeks ago as a whole: started, submitted, offered, signed and delivered in
    that order, all before its consult; not submitted today and delivered last month."""
    from datetime import timedelta

    from django.utils import timezone

    from konsil.cases.models import Case
    from konsil.demo import seed_demo

    seed_demo()
    cases = Case.objects.filter(reference__startswith="K-DEMO", consults__isnull=False).distinct()
    assert cases.count() == 2
    for case in cases:
        timeline = [change.created_at for change in case.timeline.order_by("created_at")]
        assert case.created_at <= case.submitted_at <= timeline[0]
        assert timeline[-1] < case.delivered_at + timedelta(days=1) < timezone.now() - timedelta(days=40)
        assert case.submitted_at < case.delivered_at
        assert all(offer.created_at < case.delivered_at for offer in case.offers.all())
        opinion = case.opinions.filter(signed_at__isnull=False).order_by("signed_at").first()  # the first version
        assert opinion is not None and opinion.signed_at <= case.delivered_at
        assert case.consults.get().starts_at > case.delivered_at
