"""MFA enrolment proves the account first (an e-mailed code); recovery codes are hashed and work once."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from konsil.accounts import mfa
from konsil.accounts.models import RecoveryCode
from konsil.audit.models import AuditEvent

MFA = "/accounts/mfa/"


@pytest.fixture(autouse=True)
def _proof_on(settings):
    settings.KONSIL_MFA_ENROL_PROOF = True


def password_login(client, user):
    response = client.post("/accounts/login/", {"email": user.email, "password": "correct horse battery"})
    assert response.status_code == 302


def mailed_code() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def code_for(device) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_a_password_alone_cannot_enrol_a_device(client, coordinator):
    password_login(client, coordinator)
    page = client.get(MFA).content.decode()
    assert "totp-secret" not in page and 'class="qr"' not in page
    assert not TOTPDevice.objects.filter(user=coordinator).exists()
    # posting a code straight away does not enrol anything either
    client.post(MFA, {"code": "123456"})
    assert not TOTPDevice.objects.filter(user=coordinator, confirmed=True).exists()


def test_enrolment_after_the_emailed_code(client, coordinator):
    password_login(client, coordinator)
    assert client.post(MFA, {"action": "send"}).status_code == 302
    assert mail.outbox[-1].to == [coordinator.email]
    wrong = client.post(MFA, {"action": "prove", "email_code": "000000" if mailed_code() != "000000" else "111111"})
    assert wrong.status_code == 400 and "not correct" in wrong.content.decode()
    assert client.post(MFA, {"action": "prove", "email_code": mailed_code()}).status_code == 302
    page = client.get(MFA).content.decode()
    assert "totp-secret" in page
    device = TOTPDevice.objects.get(user=coordinator)
    assert client.post(MFA, {"code": code_for(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    actions = set(AuditEvent.objects.filter(actor_id=coordinator.pk).values_list("action", "outcome"))
    assert {("auth.mfa_enrol_code_sent", "success"), ("auth.mfa_enrol_proof", "failure"),
            ("auth.mfa_enrol_proof", "success"), ("auth.mfa_enrolled", "success")} <= actions
    assert mfa.SESSION_KEY not in client.session


def test_the_emailed_code_allows_five_tries_and_expires(client, coordinator, monkeypatch):
    password_login(client, coordinator)
    client.post(MFA, {"action": "send"})
    good = mailed_code()
    for _ in range(mfa.MAX_TRIES):
        client.post(MFA, {"action": "prove", "email_code": "99999x"})
    response = client.post(MFA, {"action": "prove", "email_code": good})
    assert response.status_code == 400 and "Too many wrong codes" in response.content.decode()
    client.post(MFA, {"action": "send"})
    monkeypatch.setattr(mfa.time, "time", lambda: 10**11)
    response = client.post(MFA, {"action": "prove", "email_code": mailed_code()})
    assert response.status_code == 400 and "expired" in response.content.decode()


def test_after_a_reset_enrolment_needs_the_proof_again(client, coordinator):
    TOTPDevice.objects.create(user=coordinator, name="phone", confirmed=True)
    mfa.reset_mfa(actor="admin", user=coordinator, reason="lost phone")
    password_login(client, coordinator)
    assert "totp-secret" not in client.get(MFA).content.decode()


def test_recovery_codes_are_hashed_and_work_once(client, coordinator, login):
    login(client, coordinator)
    response = client.post("/accounts/mfa/recovery/")
    codes = re.findall(r"<code>([0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4})</code>", response.content.decode())
    assert len(codes) == 10
    stored = set(RecoveryCode.objects.filter(user=coordinator).values_list("digest", flat=True))
    assert not stored & set(codes) and not stored & {c.replace("-", "") for c in codes}
    client.logout()
    password_login(client, coordinator)
    bad = client.post(MFA, {"action": "recovery", "recovery_code": "AAAA-BBBB-CCCC"})
    assert bad.status_code == 400 and "not valid" in bad.content.decode()
    assert client.post(MFA, {"action": "recovery", "recovery_code": codes[0].lower()}).status_code == 302
    assert client.get("/").status_code in (200, 302) and not client.get("/").get("Location", "").startswith(MFA)
    client.logout()
    password_login(client, coordinator)
    assert client.post(MFA, {"action": "recovery", "recovery_code": codes[0]}).status_code == 400


def test_recovery_codes_page_needs_a_verified_user(client, coordinator):
    password_login(client, coordinator)
    assert client.post("/accounts/mfa/recovery/").status_code == 302
    assert not RecoveryCode.objects.exists()
