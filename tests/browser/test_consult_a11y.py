"""Issue 15's pages at 360 px with axe-core: booking, the consult, the room, the follow-up link and questions, the
case page's panels, the follow-up queue, the cost table and the specialist's outcomes."""

from __future__ import annotations

import datetime as dt

import pytest

from .test_a11y import CHROMIUM, browser, check, context_for  # noqa: F401 - the fixture is used by name

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]


@pytest.mark.django_db(transaction=True)
def test_consult_and_outcome_pages_fit_360px_and_pass_axe(browser, live_server, network, patient_user,  # noqa: F811
                                                          coordinator, specialist, walker):
    from django.urls import reverse
    from django.utils import timezone

    from konsil.accounts.roles import Role
    from konsil.consults import services as consults
    from konsil.consults.models import Consult
    from konsil.outcomes import services as followups
    from konsil.outcomes.models import FollowUp

    from ..factories import make_draft, make_user

    specialist.availability = [{"day": d, "start": "00:00", "end": "23:30"} for d in range(7)]
    specialist.delivery_modes = ["written", "video", "phone", "in_person"]
    specialist.in_person_location = "Heart Center, 1 Main St"
    specialist.save()
    case = walker.walk_to(make_draft(network, patient_user, treating_physician_email="doc@example.org"),
                          "delivered")
    start = consults.open_slots(specialist)[0].starts_at
    consult = consults.book(actor=patient_user, case=case, mode="video", starts_at=start.isoformat(),
                            patient_time_zone="America/Chicago")
    now = timezone.now()
    Consult.objects.filter(pk=consult.pk).update(starts_at=now, ends_at=now + dt.timedelta(minutes=30))
    followups.plan(case)
    FollowUp.objects.filter(case=case).update(due_at=now - dt.timedelta(days=1))
    follow_up = FollowUp.objects.get(case=case, respondent="patient", day=30)
    admin = make_user(Role.ORG_ADMIN, network)
    pages = {
        None: [reverse("outcomes:open")],
        patient_user: [reverse("cases:detail", kwargs={"pk": case.pk}),
                       reverse("consults:detail", kwargs={"pk": consult.pk}),
                       reverse("consults:room", kwargs={"pk": consult.pk}),
                       reverse("outcomes:answer_on_case", kwargs={"pk": follow_up.pk})],
        specialist.user: [reverse("consults:detail", kwargs={"pk": consult.pk}), reverse("outcomes:mine")],
        coordinator: [reverse("outcomes:queue"), reverse("outcomes:costs")],
        admin: [reverse("outcomes:costs")],
    }
    problems: list[str] = []
    for user, paths in pages.items():
        context = context_for(browser, live_server, user)
        page = context.new_page()
        for path in paths:
            check(page, path, problems)
        context.close()
    Consult.objects.filter(pk=consult.pk).update(status="cancelled")
    context = context_for(browser, live_server, patient_user)
    page = context.new_page()
    check(page, reverse("consults:book", kwargs={"pk": case.pk}) + "?tz=Asia/Tokyo", problems)
    context.close()
    assert not problems, "\n".join(problems)
