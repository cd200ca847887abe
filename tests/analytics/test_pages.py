"""The page, the API (JSON, CSV, PDF), scopes, suppression and bad input."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from konsil.accounts.roles import OrganizationKind, Role
from konsil.analytics import rollup
from konsil.audit.models import AuditEvent

from ..conftest import verified_login
from ..factories import OrganizationFactory, make_user
from .builders import make_case

pytestmark = pytest.mark.django_db


def recent(days=10) -> str:
    return (timezone.now() - dt.timedelta(days=days)).strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def leader(network):
    return make_user(Role.ORG_ADMIN, network)


@pytest.fixture
def sponsor_org(db):
    return OrganizationFactory(name="Acme Employer", kind=OrganizationKind.EMPLOYER, slug="acme")


@pytest.fixture
def sponsor_admin(sponsor_org):
    return make_user(Role.EMPLOYER_ADMIN, sponsor_org)


def test_leader_page_shows_figures_and_audits(client, leader, network):
    make_case(network, submitted=recent(), specialty="medical_oncology")
    rollup.refresh(full=True)
    verified_login(client, leader)
    response = client.get(reverse("analytics:page"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="analytics-data"' in body and "echarts.min.js" in body and "<script>" not in body
    assert response.context["s"]["volume"]["total"] == 1
    assert AuditEvent.objects.filter(action="analytics.read", actor=leader).exists()


def test_api_json_csv_and_bad_filters(client, leader, network):
    make_case(network, submitted=recent(), specialty="medical_oncology")
    make_case(network, submitted=recent(), specialty="cardiology")
    rollup.refresh(full=True)
    verified_login(client, leader)
    body = client.get("/api/v1/analytics/summary/", {"specialty": "medical_oncology"}).json()
    assert body["volume"]["total"] == 1 and body["filters"]["specialty"] == "medical_oncology"
    csv = client.get("/api/v1/analytics/summary.csv", {"period": "12m"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode().splitlines()[0].startswith("section,breakdown,key,label,count")
    bad = client.get("/api/v1/analytics/summary/", {"from": "2026-05-01", "to": "2026-01-01", "state": "ZZ",
                                                    "specialty": "x" * 5000, "extra": "1"})
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert {"to", "state", "specialty", "extra"} <= set(errors)
    assert client.get("/api/v1/analytics/summary/", {"from": "99999-01-01"}).status_code == 400
    assert client.get("/api/v1/analytics/summary/", {"from": "\x00"}).status_code == 400
    for name in ("network", "sponsor", "program", "period", "\x00"):
        odd = client.get("/api/v1/analytics/summary/", {name: "\x00\u202e" + "9" * 300})
        assert odd.status_code in (400, 404), (name, odd.status_code)
    assert client.get(reverse("analytics:page"), {"network": "\x00"}).status_code == 400


def test_page_bad_filter_shows_the_message(client, leader):
    verified_login(client, leader)
    response = client.get(reverse("analytics:page"), {"period": "custom", "from": "2026-05-01", "to": "2026-01-01"})
    assert response.status_code == 400
    assert "must not be before its start" in response.content.decode()


def test_every_period_of_the_menu_reads_its_cases(client, leader, network):
    """"Between the dates below" (it ends in "m" like "12m") and "Any time" each read their own cases."""
    make_case(network, submitted="2024-03-05 09:00")
    make_case(network, submitted=recent())
    rollup.refresh(full=True)
    verified_login(client, leader)
    page = reverse("analytics:page")
    for params, total in ((None, 1), ({"period": "12m"}, 1), ({"period": "all"}, 2),
                          ({"period": "custom", "from": "2024-01-01", "to": "2024-12-31"}, 1),
                          ({"period": "custom", "start": "2024-01-01", "end": "2024-12-31"}, 1)):
        response = client.get(page, params or {})
        assert response.status_code == 200, (params, response.status_code)
        assert response.context["s"]["volume"]["total"] == total, params
        if params and params.get("period") == "custom":  # the range in the reader's date format
            assert "Cases submitted from Jan. 1, 2024 to Dec. 31, 2024" in response.content.decode()
    body = client.get(page, {"period": "12m"}).content.decode()
    freshness = body.split('id="freshness">')[1].split("</p>")[0]
    assert "(UTC)" in freshness and "T" not in freshness.split("as of")[1].split("(")[0]  # not ISO
    assert "Last 12 calendar months" in body
    quarter = body.split('id="download-pdf">')[1].split("</a>")[0]
    assert re.search(r"Report for \d{4}-Q[1-4] \(PDF\)", quarter)
    client.cookies["konsil_tz"] = "Asia/Tokyo"  # the cached figures are kept per zone too
    assert "(Asia/Tokyo)" in client.get(page, {"period": "12m"}).content.decode().split('id="freshness">')[1][:300]
    chosen = client.get(page, {"period": "all"}).content.decode()
    assert '<option value="all" selected>' in chosen  # the menu keeps "Any time"


def test_quarterly_pdf(client, leader, network):
    make_case(network, submitted="2026-02-10 08:00")
    rollup.refresh(full=True)
    verified_login(client, leader)
    response = client.get("/api/v1/analytics/report.pdf", {"quarter": "2026-Q1"})
    assert response.status_code == 200 and response.content[:5] == b"%PDF-"
    import io

    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    text = " ".join(text.split())
    # words and the reader's date format, not the figures' keys and ISO dates
    assert "Jan. 1, 2026 – March 31, 2026" in text and "2026-01-01" not in text
    assert "submitted → triaged" in text and "Submitted" not in text.split("Turnaround")[1][:40]
    assert "Diagnosis confirmed" in text and "Diagnosis: " not in text and "confirmed 0 0" in text
    assert client.get("/api/v1/analytics/report.pdf", {"quarter": "2026-Q9"}).json()["errors"]["quarter"]


def test_sponsor_sees_only_their_cases_with_small_cells_suppressed(client, network, sponsor_org, sponsor_admin):
    for _ in range(12):
        make_case(network, submitted=recent(), sponsor=sponsor_org, specialty="cardiology", channel="employer")
    for _ in range(3):
        make_case(network, submitted=recent(), sponsor=sponsor_org, specialty="medical_oncology",
                  channel="employer")
    make_case(network, submitted=recent(), specialty="cardiology")  # not theirs
    rollup.refresh(full=True)
    verified_login(client, sponsor_admin)
    body = client.get("/api/v1/analytics/summary/").json()
    assert body["scope"] == {"kind": "sponsor", "name": "Acme Employer", "suppressed_below": 11}
    assert body["volume"]["total"] == 15
    specialties = {row["key"]: row for row in body["volume"]["by_specialty"]}
    assert specialties["medical_oncology"]["count"] is None and specialties["medical_oncology"]["suppressed"]
    # the only other cell is hidden too, or the total would give the small one away
    assert specialties["cardiology"]["count"] is None
    states = {row["state"]: row for row in body["access"]["states"]}
    assert states["CA"]["cases"] == 15 and states["NY"]["cases"] == 0
    page = client.get(reverse("analytics:page"))
    assert page.status_code == 200 and "fewer than 11" in page.content.decode()


def test_a_month_chart_with_every_month_hidden_says_why(client, network, sponsor_org, sponsor_admin, leader):
    """Three cases of a sponsor: every month is "fewer than 11", so the chart would be empty without a word."""
    for _ in range(3):
        make_case(network, submitted=recent(), sponsor=sponsor_org, specialty="cardiology", channel="employer")
    rollup.refresh(full=True)
    verified_login(client, sponsor_admin)
    body = client.get(reverse("analytics:page")).content.decode()
    assert 'id="month-hidden"' in body and "Every month has fewer than 11 cases" in body
    client.logout()
    verified_login(client, leader)  # the network's leaders see the counts: nothing hidden, no note
    assert 'id="month-hidden"' not in client.get(reverse("analytics:page")).content.decode()


def test_people_without_an_analytics_role_are_refused(client, patient_user):
    verified_login(client, patient_user)
    assert client.get("/api/v1/analytics/summary/").status_code == 403
    assert client.get(reverse("analytics:page")).status_code == 403


def test_the_figures_markup_is_cached_per_figures_and_language(client, leader, network, settings):
    from django.core.cache import cache

    cache.clear()
    make_case(network, submitted=recent(), specialty="medical_oncology")
    rollup.refresh(full=True)
    verified_login(client, leader)
    first = client.get(reverse("analytics:page")).content.decode()
    assert 'id="total-cases">1<' in first and "Turnaround" in first
    again = client.get(reverse("analytics:page")).content.decode()
    assert again.count('id="total-cases"') == 1 and 'id="total-cases">1<' in again
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    spanish = client.get(reverse("analytics:page")).content.decode()
    assert "Tiempo de respuesta" in spanish  # not the English fragment cached for the same figures
    make_case(network, submitted=recent(), specialty="cardiology")
    rollup.refresh()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert 'id="total-cases">2<' in client.get(reverse("analytics:page")).content.decode()


def test_the_cached_figures_speak_each_reader_s_language(client, leader, network, settings):
    """The summary's labels (specialty names, "Not recorded") are worded when it is computed: a summary cached
    for an English reader showed English names to a Spanish one."""
    from django.core.cache import cache

    cache.clear()
    make_case(network, submitted=recent(), specialty="medical_oncology")
    rollup.refresh(full=True)
    verified_login(client, leader)
    english = client.get("/api/v1/analytics/summary/", {"period": "12m"}).json()
    assert "Medical Oncology" in str(english)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    spanish = client.get("/api/v1/analytics/summary/", {"period": "12m"}, HTTP_ACCEPT_LANGUAGE="es").json()
    assert "Oncología Médica" in str(spanish) and "Medical Oncology" not in str(spanish)


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-03-31", dt.date(2026, 3, 31)), ("2026-03-31T04:58:00+00:00", dt.datetime(2026, 3, 31, 4, 58, tzinfo=dt.UTC)),
    ("2026-13-45", "2026-13-45"), ("", ""), (None, None), ("2026-01", "2026-01")])
def test_isodate_reads_figures_dates_and_leaves_anything_else(value, expected):
    from konsil.analytics.templatetags.analytics_tags import isodate

    assert isodate(value) == expected
