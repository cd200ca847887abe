"""TOTP second factor: enrollment, verification, wrong codes, who is forced through it."""

import re

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from konsil.audit.models import AuditEvent

MFA = "/accounts/mfa/"


def code_for(device) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def password_login(client, user, next_url="/"):
    response = client.post("/accounts/login/", {"email": user.email, "password": "correct horse battery",
                                                "next": next_url})
    assert response.status_code == 302
    return response.url


def secret_in(html: str) -> str:
    return re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', html).group(1)


def test_enrollment_end_to_end(client, coordinator):
    mfa_url = password_login(client, coordinator, next_url="/cases/queue/")
    assert client.get("/").url.startswith(MFA)  # not verified yet

    page = client.get(mfa_url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and 'class="qr"' in html and '<img src="data:' not in html
    device = TOTPDevice.objects.get(user=coordinator)
    assert not device.confirmed
    import base64

    assert base64.b32decode(secret_in(html)) == device.bin_key
    assert secret_in(client.get(mfa_url).content.decode()) == secret_in(html)  # stable on reload

    response = client.post(MFA, {"code": code_for(device), "next": "/cases/queue/"})
    assert response.status_code == 302 and response.url == "/cases/queue/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/").url == reverse("cases:queue")  # verified: home sends to the queue
    actions = list(AuditEvent.objects.filter(actor_id=coordinator.pk).values_list("action", flat=True))
    assert actions == ["auth.login", "auth.mfa_enrolled", "auth.mfa_verified"]


def test_wrong_code_is_a_field_error(client, coordinator):
    password_login(client, coordinator)
    client.get(MFA)
    response = client.post(MFA, {"code": "000000"})
    device = TOTPDevice.objects.get(user=coordinator)
    if code_for(device) == "000000":  # one chance in a million
        pytest.skip("the current code happens to be 000000")
    assert response.status_code == 400  # refused: a 4xx with the message on the page
    assert "That code is not valid." in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get("/").url.startswith(MFA)
    assert AuditEvent.objects.filter(action="auth.mfa_failed", outcome="failure").count() == 1


@pytest.mark.parametrize("bad", ["12345", "abcdef", "1234567", ""])
def test_malformed_codes_are_rejected(client, coordinator, bad):
    password_login(client, coordinator)
    response = client.post(MFA, {"code": bad})
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()


def test_codes_with_spaces_are_accepted(client, coordinator):
    password_login(client, coordinator)
    client.get(MFA)
    code = code_for(TOTPDevice.objects.get(user=coordinator))
    response = client.post(MFA, {"code": f" {code[:3]} {code[3:]} "})
    assert response.status_code == 302


def test_repeated_wrong_codes_are_throttled(client, coordinator, settings):
    # django-otp waits 1 s after a first wrong code; a slow machine can take longer between two requests.
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    password_login(client, coordinator)
    client.get(MFA)
    device = TOTPDevice.objects.get(user=coordinator)
    wrong = f"{(int(code_for(device)) + 1) % 1000000:06d}"
    client.post(MFA, {"code": wrong})
    response = client.post(MFA, {"code": code_for(device)})
    assert "Too many wrong codes." in response.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed


def test_existing_device_asks_for_a_code_only(client, coordinator):
    device = TOTPDevice.objects.create(user=coordinator, name="phone", confirmed=True)
    password_login(client, coordinator)
    html = client.get(MFA).content.decode()
    assert "totp-secret" not in html and 'class="qr"' not in html
    assert TOTPDevice.objects.filter(user=coordinator).count() == 1
    response = client.post(MFA, {"code": code_for(device), "next": "/cases/queue/"})
    assert response.url == "/cases/queue/"
    assert AuditEvent.objects.filter(action="auth.mfa_verified").count() == 1
    assert not AuditEvent.objects.filter(action="auth.mfa_enrolled").exists()


def test_unverified_coordinator_is_redirected_from_home(client, coordinator):
    client.force_login(coordinator)
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == f"{MFA}?next=/"


def test_patient_is_not_forced(client, patient_user):
    client.force_login(patient_user)
    response = client.get("/")
    assert response.status_code == 200 and "What happens next" in response.content.decode() or \
        "No open requests" in response.content.decode()  # the patient home, no second factor asked


def test_patient_may_enroll_voluntarily(client, patient_user):
    client.force_login(patient_user)
    assert "totp-secret" in client.get(MFA).content.decode()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/"])
def test_mfa_refuses_open_redirect(client, coordinator, target):
    device = TOTPDevice.objects.create(user=coordinator, name="phone", confirmed=True)
    client.force_login(coordinator)
    response = client.post(f"{MFA}?next={target}", {"code": code_for(device), "next": target})
    assert response.status_code == 302
    assert response.url == reverse("home")


def test_mfa_needs_a_signed_in_user(client, db):
    response = client.get(MFA)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_verified_user_skips_the_form(client, coordinator, login):
    login(client, coordinator)
    response = client.get(f"{MFA}?next=/cases/queue/")
    assert response.url == "/cases/queue/"


def test_navigation_hidden_until_verified(client, coordinator, login):
    """Before the second factor: sign out only; no navigation, no notifications (nor their count), no name."""
    from konsil.cases.models import Notification

    Notification.objects.create(user=coordinator, kind="routing_needed")
    client.force_login(coordinator)
    queue_link = f'href="{reverse("cases:queue")}"'
    notifications = f'href="{reverse("cases:notifications")}"'
    html = client.get(MFA).content.decode()
    assert queue_link not in html and notifications not in html and "Sign out" in html
    assert coordinator.display_name not in html
    login(client, coordinator)
    html = client.get("/accounts/login/").content.decode()
    assert queue_link in html and notifications in html and coordinator.display_name in html
    assert '<span class="badge">1<' in html


def test_empty_code_post_is_a_field_error(client, coordinator):
    password_login(client, coordinator)
    response = client.post(MFA, {})
    assert 'class="field-error"' in response.content.decode()
    assert client.get("/").url.startswith(MFA)
