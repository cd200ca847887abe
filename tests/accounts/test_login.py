"""Sign-in with email and password, throttling, next= handling and sign-out."""

import json

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from konsil.accounts.views import lockout_response
from konsil.audit.models import AuditEvent

from ..factories import UserFactory

PASSWORD = "correct horse battery"
LOGIN = "/accounts/login/"


def post_login(client, email, password=PASSWORD, **extra):
    return client.post(LOGIN, {"email": email, "password": password, **extra})


@pytest.mark.django_db
def test_login_page_renders(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="email"' in body and 'name="password"' in body
    assert 'autocomplete="current-password"' in body


def test_patient_signs_in_without_second_factor(client, patient_user):
    response = post_login(client, patient_user.email)
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.session["_auth_user_id"] == str(patient_user.pk)
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor_id == patient_user.pk and event.outcome == "success"


def test_coordinator_is_sent_to_second_factor(client, coordinator):
    response = post_login(client, coordinator.email, next="/cases/queue/")
    assert response.status_code == 302
    assert response.url == "/accounts/mfa/?next=%2Fcases%2Fqueue%2F"


def test_bad_password_shows_message_and_keeps_no_session(client, patient_user):
    response = post_login(client, patient_user.email, password="wrong password")
    assert response.status_code == 200
    assert "The email or the password is not correct." in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor_id is None and event.actor_label == "anonymous"
    assert event.outcome == "failure" and event.detail == {}
    assert patient_user.email not in str(event.__dict__)


def test_unknown_email_gets_the_same_message(client, db):
    response = post_login(client, "nobody@example.test")
    assert "The email or the password is not correct." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_malformed_input_gives_field_errors(client, db):
    response = client.post(LOGIN, {"email": "not-an-email", "password": ""})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="field-error"') == 2
    assert not AuditEvent.objects.filter(action__startswith="auth.").exists()


def test_inactive_user_cannot_sign_in(client, network):
    user = UserFactory(is_active=False)
    response = post_login(client, user.email)
    assert "The email or the password is not correct." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_after_repeated_failures(client, patient_user, settings):
    settings.AXES_ENABLED = True
    limit = django_settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        assert post_login(client, patient_user.email, password="wrong").status_code == 200
    locked = post_login(client, patient_user.email, password="wrong")
    assert locked.status_code == 429
    minutes = round(django_settings.AXES_COOLOFF_TIME * 60)
    assert f"Too many failed sign-in attempts. Try again in {minutes} minutes." in locked.content.decode()
    assert '<html lang="en"' in locked.content.decode()  # the page, not axes' plain text
    # Even the right password is refused while locked out.
    again = post_login(client, patient_user.email)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session
    denied = AuditEvent.objects.filter(action="auth.login_failed", outcome="denied")
    assert denied.count() == 2 and denied.first().detail == {"reason": "locked_out"}


def test_lockout_is_per_account(client, patient_user, coordinator, settings):
    settings.AXES_ENABLED = True
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        post_login(client, patient_user.email, password="wrong")
    assert post_login(client, coordinator.email).status_code == 302


def test_lockout_callable_answers_api_clients_in_json(rf, db):
    response = lockout_response(rf.post("/api/v1/auth/token/"))
    assert response.status_code == 429
    assert json.loads(response.content)["code"] == "locked_out"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_to_another_site_is_refused(client, patient_user, target):
    response = post_login(client, patient_user.email, next=target)
    assert response.status_code == 302
    assert response.url == reverse("home")


def test_next_on_this_site_is_followed(client, patient_user):
    response = post_login(client, patient_user.email, next="/cases/new/")
    assert response.url == "/cases/new/"


def test_login_page_keeps_safe_next_only(client, db):
    assert 'name="next" value="/cases/new/"' in client.get(LOGIN + "?next=/cases/new/").content.decode()
    assert 'name="next" value="https:' not in client.get(LOGIN + "?next=https://evil.example/").content.decode()


def test_logout_requires_post_and_ends_session(client, patient_user):
    client.force_login(patient_user)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.logout", actor_id=patient_user.pk).exists()
    assert "You have signed out." in client.get(response.url).content.decode()


def test_logout_is_csrf_protected(patient_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(patient_user)
    assert client.post("/accounts/logout/").status_code == 403
    assert "_auth_user_id" in client.session


def test_empty_post_shows_required_errors(client, db):
    response = client.post(LOGIN, {})
    assert response.status_code == 200
    assert response.content.decode().count('class="field-error"') == 2
