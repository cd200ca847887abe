"""API tokens: hashed at rest, expiring, scoped, listed and revoked by their owner, ended by sign-out-everywhere,
a password change and an MFA reset; never in the admin. Admin page views are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from konsil.accounts.mfa import reset_mfa
from konsil.accounts.models import ApiToken
from konsil.audit.models import AuditEvent

API = "/api/v1"


def client_with(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def sign_in(user, **extra) -> dict:
    body = {"email": user.email, "password": "correct horse battery", **extra}
    response = APIClient().post(f"{API}/auth/token/", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_tokens_are_hashed_at_rest_and_expire_by_default(patient_user):
    body = sign_in(patient_user)
    raw = body["token"]
    token = ApiToken.objects.get(user=patient_user)
    assert raw.startswith("ks_") and raw not in (token.digest, token.prefix)
    assert not ApiToken.objects.filter(digest=raw).exists()
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert sorted(body["scopes"]) == ["read", "write"]
    assert client_with(raw).get(f"{API}/me/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.token", object_id=str(token.pk)).exists()


def test_an_expired_or_unknown_token_is_a_401(patient_user):
    raw = sign_in(patient_user)["token"]
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client_with(raw).get(f"{API}/me/")
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"
    assert client_with("ks_nothing_here").get(f"{API}/me/").status_code == 401
    assert client_with("0123456789abcdef").get(f"{API}/me/").status_code == 401


def test_lifetime_and_scopes_are_chosen_and_checked(patient_user, draft_case, settings):
    raw = sign_in(patient_user, scopes=["read"], expires_in_days=2, name="reporting")["token"]
    token = ApiToken.objects.get()
    assert (token.scopes, token.name) == (["read"], "reporting")
    assert token.expires_at - timezone.now() <= timedelta(days=2)
    reader = client_with(raw)
    assert reader.get(f"{API}/cases/").status_code == 200
    response = reader.post(f"{API}/cases/{draft_case.pk}/messages/", {"body": "hi"}, format="json")
    assert response.status_code == 403
    settings.KONSIL_API_TOKEN_MAX_DAYS = 10
    response = APIClient().post(f"{API}/auth/token/", {"email": patient_user.email, "password":
                                "correct horse battery", "expires_in_days": 11, "scopes": ["admin"]}, format="json")
    assert response.status_code == 400
    assert {"expires_in_days", "scopes.0"} <= set(response.json()["errors"])


def test_owner_lists_and_revokes_tokens(patient_user, other_patient):
    first, second = sign_in(patient_user)["token"], sign_in(patient_user)["token"]
    theirs = sign_in(other_patient)["token"]
    client = client_with(first)
    listed = client.get(f"{API}/auth/tokens/").json()
    assert len(listed) == 2 and all(first not in str(item) for item in listed)
    victim = ApiToken.objects.get(user=patient_user, prefix=second.split("_")[1])
    assert client.delete(f"{API}/auth/tokens/{victim.pk}/").status_code == 204
    assert client_with(second).get(f"{API}/me/").status_code == 401
    other = ApiToken.objects.get(user=other_patient)
    assert client.delete(f"{API}/auth/tokens/{other.pk}/").status_code == 404
    assert client_with(theirs).get(f"{API}/me/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.token_revoke", object_id=str(victim.pk)).exists()


def test_logout_all_ends_tokens_and_sessions(client, patient_user):
    raw = sign_in(patient_user)["token"]
    client.force_login(patient_user)
    assert client.get("/accounts/tokens/").status_code == 200
    assert client_with(raw).post(f"{API}/auth/logout-all/").status_code == 204
    assert client_with(raw).get(f"{API}/me/").status_code == 401
    assert client.get("/accounts/tokens/").status_code == 302  # the session ended too
    assert AuditEvent.objects.filter(action="auth.logout_all").exists()


def test_a_password_change_revokes_tokens(patient_user):
    raw = sign_in(patient_user)["token"]
    patient_user.first_name = "Ana María"
    patient_user.save()
    assert client_with(raw).get(f"{API}/me/").status_code == 200  # other changes keep them
    patient_user.set_password("another long passphrase")
    patient_user.save()
    assert client_with(raw).get(f"{API}/me/").status_code == 401
    assert ApiToken.objects.get().revoked_reason == "password_change"


def test_an_mfa_reset_revokes_tokens_devices_and_sessions(client, coordinator):
    TOTPDevice.objects.create(user=coordinator, name="phone", confirmed=True)
    token, raw = ApiToken.issue(user=coordinator)
    client.force_login(coordinator)
    reset_mfa(actor="admin@example.test", user=coordinator, reason="lost phone")
    assert not TOTPDevice.objects.filter(user=coordinator).exists()
    assert client_with(raw).get(f"{API}/me/").status_code == 401
    assert client.get("/accounts/tokens/").status_code == 302
    event = AuditEvent.objects.get(action="auth.mfa_reset")
    assert event.detail == {"reason": "lost phone", "devices": 1}


def test_the_tokens_page(client, patient_user):
    client.force_login(patient_user)
    page = client.post("/accounts/tokens/", {"action": "create", "name": "laptop", "scopes": ["read"], "days": "7"})
    html = page.content.decode()
    token = ApiToken.objects.get()
    secret = html.split('id="new-token" class="secret">')[1].split("<")[0]
    assert ApiToken.find(secret) == token and token.scopes == ["read"]
    assert client.get("/accounts/tokens/").content.decode().count(secret) == 0  # shown once
    bad = client.post("/accounts/tokens/", {"action": "create", "days": "100000"})
    assert bad.status_code == 400 and "Between 1 and" in bad.content.decode()
    assert client.post("/accounts/tokens/", {"action": "revoke", "token": "nope"}).status_code == 302
    client.post("/accounts/tokens/", {"action": "revoke", "token": str(token.pk)})
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.fixture
def superuser(db):
    from konsil.accounts.models import User

    return User.objects.create_superuser("root@example.test", "correct horse battery")


def test_the_admin_shows_no_secrets_and_audits_page_views(client, superuser, login, coordinator):
    TOTPDevice.objects.create(user=coordinator, name="phone", confirmed=True)
    ApiToken.issue(user=coordinator)
    login(client, superuser)
    index = client.get("/admin/").content.decode()
    assert "otp_totp" not in index and "apitoken" not in index.lower() and "authtoken" not in index
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    page = client.get(reverse("admin:accounts_user_change", args=[coordinator.pk]))
    assert page.status_code == 200
    views = AuditEvent.objects.filter(action="admin.view", actor_id=superuser.pk)
    assert {e.object_id for e in views} >= {"index", "accounts_user_change"}


def test_admin_actions_reset_mfa_and_sign_out(client, superuser, login, coordinator):
    TOTPDevice.objects.create(user=coordinator, name="phone", confirmed=True)
    _token, raw = ApiToken.issue(user=coordinator)
    login(client, superuser)
    response = client.post(reverse("admin:accounts_user_changelist"),
                           {"action": "reset_mfa", "_selected_action": [str(coordinator.pk)]})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=coordinator).exists()
    assert client_with(raw).get(f"{API}/me/").status_code == 401
    assert AuditEvent.objects.filter(action="admin.change", actor_id=superuser.pk).exists()


def test_the_tokens_page_needs_the_second_factor(client, coordinator):
    client.force_login(coordinator)  # password only
    response = client.post("/accounts/tokens/", {"action": "create", "days": "7"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/mfa/")
    assert not ApiToken.objects.exists()
