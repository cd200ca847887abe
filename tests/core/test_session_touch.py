"""The idle timeout: activity keeps a session alive, but a session is written at most once a touch interval, so a
page that polls every second costs no session write per poll."""

import datetime as dt
import time

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from konsil.core.middleware import SessionTouchMiddleware


@pytest.fixture
def db_sessions(db, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    settings.KONSIL_SESSION_TOUCH_SECONDS = 60


def _expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_requests_within_the_interval_do_not_write_the_session(db_sessions, client, login, patient_user):
    login(client, patient_user)
    home = reverse("home")
    client.get(home)
    first = _expiry(client)
    for _ in range(3):
        assert client.get(home).status_code == 200
    assert _expiry(client) == first  # no write, so the expiry stands


def test_activity_after_the_interval_pushes_the_expiry(db_sessions, client, login, patient_user):
    login(client, patient_user)
    home = reverse("home")
    client.get(home)
    first = _expiry(client)
    session = client.session
    session[SessionTouchMiddleware.KEY] = int(time.time()) - 61  # the last touch was over a minute ago
    session.save()
    earlier = first - dt.timedelta(minutes=5)  # still valid, five minutes closer to its idle end
    Session.objects.filter(session_key=session.session_key).update(expire_date=earlier)
    assert client.get(home).status_code == 200
    assert _expiry(client) > earlier + dt.timedelta(minutes=4)  # touched again: the idle clock restarts


def test_anonymous_requests_make_no_session(db_sessions, client):
    assert client.get(reverse("home")).status_code in (200, 302)
    assert Session.objects.count() == 0


def test_a_garbled_touch_stamp_is_replaced_not_a_500(db_sessions, client, login, patient_user):
    login(client, patient_user)
    session = client.session
    session[SessionTouchMiddleware.KEY] = "not a number"
    session.save()
    assert client.get(reverse("home")).status_code == 200
    assert isinstance(client.session[SessionTouchMiddleware.KEY], int)
