"""The integrations pages (org admins): no critical or serious axe violations, no overflow at 360 px."""

from __future__ import annotations

import pytest

from konsil.accounts.roles import OrganizationKind, Role

from ..factories import OrganizationFactory, make_user
from .test_a11y import CHROMIUM, axe_violations, browser, context_for, overflow  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped")]


def test_integrations_pages_are_accessible(browser, live_server):  # noqa: F811
    hospital = OrganizationFactory(name="General Hospital", kind=OrganizationKind.HOSPITAL)
    admin = make_user(Role.ORG_ADMIN, hospital)
    context = context_for(browser, live_server, admin)
    page = context.new_page()
    for path in ("/integrations/", "/integrations/clients/new/", "/integrations/webhooks/new/"):
        page.goto(path)
        assert page.locator("h1").count() == 1, path
        assert overflow(page) <= 0, path
        assert axe_violations(page) == [], path
    page.goto("/integrations/clients/new/")
    page.get_by_role("button", name="Register the client").click()
    assert page.locator("[aria-invalid=true]").count() >= 2  # name and JWKS are required
    assert axe_violations(page) == []
    context.close()
