"""Token sign-in: password, TOTP for MFA roles, field-level errors, throttling; the /me endpoint."""

from __future__ import annotations

import pytest

from konsil.audit.models import AuditEvent

from .conftest import API, totp_code

URL = f"{API}/auth/token/"
PASSWORD = "correct horse battery"


def test_patient_gets_a_token_with_password_only(api, patient_user, network):
    response = api().post(URL, {"email": patient_user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["token"] and body["user"]["roles"] == ["patient"]
    assert body["user"]["memberships"] == [{"id": str(network.pk), "name": network.name,
                                            "organization_kind": "provider_network", "role": "patient"}]
    me = api().get(f"{API}/me/", HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert me.status_code == 200 and me.json()["email"] == patient_user.email
    assert AuditEvent.objects.filter(actor=patient_user, action="auth.token").exists()


@pytest.mark.parametrize("body,field,code", [
    ({"email": "nobody@example.test", "password": PASSWORD}, "password", "invalid_credentials"),
    ({"password": "x"}, "email", "invalid"),
    ({"email": "a@b.c"}, "password", "invalid"),
    ({"email": ["a"], "password": "x"}, "email", "invalid"),
    ({"email": "a@b.c", "password": "x", "remember": True}, "remember", "invalid"),
])
def test_bad_credentials_name_the_field(api, patient_user, body, field, code):
    response = api().post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code and field in response.json()["errors"]


def test_wrong_password_is_400(api, patient_user):
    response = api().post(URL, {"email": patient_user.email, "password": "wrong"}, format="json")
    assert response.status_code == 400 and "password" in response.json()["errors"]


def test_mfa_roles_need_a_valid_totp_code(api, coordinator):
    body = {"email": coordinator.email, "password": "correct horse battery"}
    response = api().post(URL, body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "mfa_setup_required"
    code = totp_code(coordinator)
    response = api().post(URL, body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "mfa_required"
    assert "otp" in response.json()["errors"]
    response = api().post(URL, {**body, "otp": code}, format="json")
    assert response.status_code == 200 and response.json()["user"]["requires_mfa"] is True
    # A code is good once.
    assert api().post(URL, {**body, "otp": code}, format="json").status_code == 400


def test_wrong_totp_codes_are_refused_then_throttled(api, coordinator, settings):
    # django-otp waits 1 s after a first wrong code; a slow machine can take longer between two requests.
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    body = {"email": coordinator.email, "password": "correct horse battery"}
    wrong = f"{(int(totp_code(coordinator)) + 1) % 1000000:06d}"
    response = api().post(URL, {**body, "otp": wrong}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert "otp" in response.json()["errors"]
    response = api().post(URL, {**body, "otp": wrong}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "mfa_throttled"


def test_inactive_users_get_no_token(api, patient_user):
    patient_user.is_active = False
    patient_user.save()
    response = api().post(URL, {"email": patient_user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 400


def test_sign_in_is_throttled(api, patient_user):
    body = {"email": patient_user.email, "password": "wrong"}
    statuses = [api().post(URL, body, format="json").status_code for _ in range(11)]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    response = api().post(URL, {**body, "password": "correct horse battery"}, format="json")
    assert response.status_code == 429 and response.json()["code"] == "throttled"


def test_a_bad_token_is_401(api, db):
    response = api().get(f"{API}/me/", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401


def test_repeated_failures_lock_the_account_even_for_the_right_password(api, patient_user, settings):
    settings.AXES_ENABLED = True  # django-axes, off elsewhere in the suite
    body = {"email": patient_user.email, "password": "wrong"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api().post(URL, body, format="json")
    response = api().post(URL, {**body, "password": PASSWORD}, format="json")
    assert response.status_code in (403, 429)
    assert b"token" not in response.content
