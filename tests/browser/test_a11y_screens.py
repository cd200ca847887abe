"""Screenshots of the key pages at desktop width and at 360 px, from the demo data, into docs/screens/.

Run on purpose (it seeds the whole demo): KONSIL_SCREENS=1 .venv/bin/pytest tests/browser/test_a11y_screens.py
Each page is also checked at 360 px while it is there: no horizontal overflow, no serious/critical axe issue.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .test_a11y import CHROMIUM, axe_violations, browser, context_for, overflow  # noqa: F401 - fixture

OUT = Path(__file__).resolve().parents[2] / "docs" / "screens"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium"),
    pytest.mark.skipif(os.environ.get("KONSIL_SCREENS") != "1", reason="screenshots: set KONSIL_SCREENS=1"),
]
SIZES = {"desktop": {"width": 1280, "height": 860}, "mobile": {"width": 360, "height": 740}}


def _pages():
    from django.urls import reverse

    from konsil.accounts.models import User
    from konsil.cases.models import Case
    from konsil.demo import DOMAIN

    def who(key):
        return User.objects.get(email=f"{key}@{DOMAIN}")

    patient = who("patient")
    mine = Case.objects.filter(patient__user=patient)
    delivered = mine.filter(status__in=["delivered", "closed"]).order_by("-updated_at").first()
    reviewing = Case.objects.filter(status__in=["in_review", "accepted"]).order_by("reference").first()
    pages = [("login", None, reverse("accounts:login")),
             ("patient-home", patient, "/"),
             ("access-log", patient, reverse("audit:my_access")),
             ("wizard", patient, reverse("cases:new")),
             ("queue", who("coordinator"), reverse("cases:queue")),
             ("workspace", who("specialist"), reverse("opinions:workspace")),
             ("admin-users", who("admin"), reverse("accounts:manage_users"))]
    if delivered is not None:
        pages += [("case-delivered", patient, reverse("cases:detail", kwargs={"pk": delivered.pk})),
                  ("report", patient, reverse("opinions:report", kwargs={"pk": delivered.pk}))]
    if reviewing is not None and reviewing.assigned_specialist_id:
        pages.append(("review", reviewing.assigned_specialist.user,
                      reverse("opinions:review", kwargs={"pk": reviewing.pk})))
    return pages


def _shrink(path: Path) -> None:
    """Keep the repository light: a 256-colour palette PNG (the pages are flat colours and text)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def test_screenshots(browser, live_server, db):  # noqa: F811 - the fixture
    from konsil.demo import seed_demo

    seed_demo()
    OUT.mkdir(parents=True, exist_ok=True)
    wide = []
    for name, user, path in _pages():
        for size, viewport in SIZES.items():
            context = context_for(browser, live_server, user)
            page = context.new_page()
            page.set_viewport_size(viewport)
            page.goto(path)
            page.wait_for_load_state("load")
            if size == "mobile" and overflow(page) > 0:
                wide.append(f"{name}: {overflow(page)}px")
            if size == "mobile":
                wide += [f"{name}: axe {v['impact']} {v['id']} at {v['nodes']}" for v in axe_violations(page)]
            target = OUT / f"{name}-{size}.png"
            page.screenshot(path=str(target), full_page=True)
            _shrink(target)
            context.close()
    assert not wide, wide
