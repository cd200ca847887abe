"""Pages are written in the reader's time zone (the konsil_tz cookie konsil.js sets from the browser), else the
deployment's; a cookie that is not an IANA zone name changes nothing; business dates keep the deployment's zone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from konsil.core.zones import display_zone

pytestmark = pytest.mark.django_db


def test_display_zone_takes_only_known_names(rf, settings):
    settings.TIME_ZONE = "UTC"
    request = rf.get("/")
    assert display_zone(request) == "UTC"
    for asked, expected in (("America/Los_Angeles", "America/Los_Angeles"), ("Asia/Tokyo", "Asia/Tokyo"),
                            ("../../etc/passwd", "UTC"), ("Mars/Olympus", "UTC"), ("x" * 5000, "UTC"),
                            ("America/Los_Angeles\x00", "UTC"), ("", "UTC")):
        request.COOKIES["konsil_tz"] = asked
        assert display_zone(request) == expected, asked


def test_a_page_writes_times_in_the_readers_zone(client, login, patient_user, draft_case):
    from konsil.cases.models import Case

    case = draft_case
    Case.objects.filter(pk=case.pk).update(submitted_at=dt.datetime(2026, 3, 2, 3, 30, tzinfo=dt.UTC))
    login(client, patient_user)
    url = reverse("cases:detail", kwargs={"pk": case.pk})
    utc = client.get(url).content.decode()
    assert 'data-time-zone="UTC"' in utc and "Times in UTC" in utc and "March 2, 2026, 3:30" in utc
    client.cookies["konsil_tz"] = "America/Los_Angeles"  # 3:30 UTC is 19:30 the day before in Los Angeles
    local = client.get(url).content.decode()
    assert 'data-time-zone="America/Los_Angeles"' in local and "Times in America/Los_Angeles" in local
    assert "March 1, 2026, 7:30" in local and "March 2, 2026, 3:30" not in local
    client.cookies["konsil_tz"] = "<script>"
    assert 'data-time-zone="UTC"' in client.get(url).content.decode()


def test_the_zone_is_only_the_display(client, login, coordinator, settings):
    """A request in another zone leaves the deployment's zone active for the code after it."""
    from django.utils import timezone

    login(client, coordinator)
    client.cookies["konsil_tz"] = "Pacific/Kiritimati"
    client.get(reverse("cases:queue"))
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE
