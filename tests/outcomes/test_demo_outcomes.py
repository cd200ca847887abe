"""The demo holds past consults and follow-ups so the pages have something to show (and a second seed adds none)."""

from __future__ import annotations

import pytest
from django.urls import reverse

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


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["es", "ja"])
def test_demo_price_source_reads_in_the_patients_language(client, login, settings, language):
    """The demo's cost table names its (placeholder) source in the reader's language, on the patient's case page
    and on the coordinator's cost table; a source an admin typed is shown as typed."""
    from django.utils import translation

    from konsil.accounts.models import User
    from konsil.cases.models import Case
    from konsil.demo import seed_demo
    from konsil.outcomes.demo import DEMO_SOURCE

    seed_demo()
    case = Case.objects.get(outcome__cost_difference__isnull=False, reference__startswith="K-DEMO")
    with translation.override(language):
        translated = translation.gettext(DEMO_SOURCE)
    assert translated != DEMO_SOURCE
    login(client, case.patient.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert translated in page and DEMO_SOURCE not in page
    CostEntry.objects.filter(code="27447").update(source="Hospital price list 2025")
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Hospital price list 2025" in page
    client.logout()
    login(client, User.objects.get(email="coordinator@konsil.demo"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(reverse("outcomes:costs")).content.decode()
    assert translated in page and "Hospital price list 2025" in page
