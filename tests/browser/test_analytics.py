"""Issue 16 in Chromium: the leader filters the analytics page to oncology over the last 12 months, switches the
map to supply, opens a chart's table view and downloads the CSV; a sponsor sees their program, suppressed. The
page passes axe (no critical or serious finding) and fits 360 px."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from konsil.accounts.roles import OrganizationKind, Role

from ..analytics.builders import make_case
from ..factories import OrganizationFactory, make_specialist, make_user
from .test_a11y import CHROMIUM, axe_violations, browser, context_for, overflow  # noqa: F401 - fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]


def recent(days: int) -> str:
    return (timezone.now() - dt.timedelta(days=days)).strftime("%Y-%m-%d %H:%M")


def signed_in(browser, live_server, user):  # noqa: F811 - the fixture
    from django.conf import settings
    from django.test import Client

    from ..conftest import verified_login

    context = browser.new_context(base_url=live_server.url, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    client = Client()
    verified_login(client, user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
    return context


@pytest.mark.django_db(transaction=True)
def test_leader_and_sponsor_analytics(browser, live_server, network, tmp_path):  # noqa: F811 - the fixture
    from konsil.analytics import rollup

    leader = make_user(Role.ORG_ADMIN, network)
    employer = OrganizationFactory(name="Acme Employer", slug="acme", kind=OrganizationKind.EMPLOYER)
    sponsor_admin = make_user(Role.EMPLOYER_ADMIN, employer)
    make_specialist(network, specialty="medical_oncology", states=("CA", "TX"))
    for days in (5, 40, 100):
        make_case(network, submitted=recent(days), specialty="medical_oncology", state="TX",
                  stages={"triaged": recent(days - 1)})
    make_case(network, submitted=recent(500), specialty="medical_oncology")  # outside the last 12 months
    for days in range(12):
        make_case(network, submitted=recent(days + 2), specialty="cardiology", sponsor=employer, channel="employer")
    make_case(network, submitted=recent(3), specialty="breast_oncology", sponsor=employer, channel="employer")
    rollup.refresh(full=True)

    context = signed_in(browser, live_server, leader)  # the app's own strict CSP applies here
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/analytics/")
    page.select_option("#id_specialty", "medical_oncology")
    page.select_option("#id_period", "12m")
    page.click("form.analytics-filters button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("#total-cases") == "4"  # 3 oncology + 1 breast oncology, not the one 500 days ago
    page.wait_for_function("() => document.querySelector('[data-chart=\"month\"] canvas') !== null")
    page.wait_for_function("() => document.querySelector('[data-chart=\"map\"]').dataset.measure === 'demand'")
    page.check("input[name=map-measure][value=supply]")
    page.wait_for_function("() => document.querySelector('[data-chart=\"map\"]').dataset.measure === 'supply'")
    page.click("#table-map summary")
    assert page.locator("#table-map table").is_visible()
    assert "Texas" in page.inner_text("#table-map table")
    page.click("#table-month summary")
    assert page.locator("#table-month table").is_visible()
    with page.expect_download() as download_info:
        page.click("#download-csv")
    path = tmp_path / "analytics.csv"
    download_info.value.save_as(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("section,breakdown,key,label,count")
    assert "volume,total,,,4," in text
    assert not errors, errors

    small = context_for(browser, live_server, leader).new_page()  # 360 px, axe injected
    small.goto("/analytics/")
    small.wait_for_load_state("load")
    assert overflow(small) <= 0
    assert axe_violations(small) == []
    context.close()

    sponsor = context_for(browser, live_server, sponsor_admin).new_page()
    sponsor.goto("/analytics/")
    assert sponsor.locator("#suppression-note").is_visible()
    assert sponsor.inner_text("#total-cases") == "13"
    assert "fewer than 11" in sponsor.inner_text("main")
    assert axe_violations(sponsor) == []
