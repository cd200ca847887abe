"""The browser's time zone reaches the pages: konsil.js keeps it in the konsil_tz cookie and, from the next page
on, the server writes its dates in it (core/zones.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from .test_a11y import CHROMIUM, browser  # noqa: F401 - browser is a fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]


@pytest.mark.django_db(transaction=True)
def test_pages_follow_the_browsers_zone(browser, live_server, patient_user, draft_case):  # noqa: F811
    from django.conf import settings
    from django.test import Client

    from konsil.cases.models import Case

    from ..conftest import verified_login

    Case.objects.filter(pk=draft_case.pk).update(submitted_at=dt.datetime(2026, 3, 2, 18, 30, tzinfo=dt.UTC))
    client = Client()
    verified_login(client, patient_user)
    context = browser.new_context(base_url=live_server.url, timezone_id="Asia/Tokyo")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live_server.url,
                          "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
    page = context.new_page()
    url = reverse("cases:detail", kwargs={"pk": draft_case.pk})
    page.goto(url)  # the first page: the deployment's zone, while konsil.js notes the browser's
    assert page.locator("html").get_attribute("data-time-zone") == "UTC"
    assert [c["value"] for c in context.cookies() if c["name"] == "konsil_tz"] == ["Asia/Tokyo"]
    page.goto(url)
    assert page.locator("html").get_attribute("data-time-zone") == "Asia/Tokyo"
    body = page.locator("body").inner_text()
    assert "March 3, 2026, 3:30" in body and "Times in Asia/Tokyo" in body  # 18:30 UTC is 3:30 the next day there
    context.close()
