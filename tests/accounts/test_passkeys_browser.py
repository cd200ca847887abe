"""Passkeys in headless Chromium with its virtual authenticator (CDP WebAuthn domain): a patient adds a passkey,
signs out, signs in with it alone; a coordinator uses one as the second factor; the passkey is renamed and removed."""

from __future__ import annotations

import re

import pytest

from konsil.accounts.models import Passkey
from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent

from ..browser.test_journey import CHROMIUM, browser  # noqa: F401 - the browser fixture
from ..factories import make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]
PASSWORD = "a passkey tester's long passphrase"


def page_with_authenticator(browser, base):  # noqa: F811
    context = browser.new_context(base_url=base)
    context.set_default_timeout(30_000)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return page


def password_sign_in(page, email):
    page.goto("/accounts/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.django_db(transaction=True)
def test_passkey_enrol_passwordless_second_factor_rename_remove(browser, live_server, network):  # noqa: F811
    base = live_server.url.replace("127.0.0.1", "localhost")  # WebAuthn needs a domain, not an IP address
    patient = make_user(Role.PATIENT, network, email="pk.patient@example.test", password=PASSWORD)
    page = page_with_authenticator(browser, base)

    # 1. Signed in with the password, the patient adds a passkey.
    password_sign_in(page, patient.email)
    page.goto("/accounts/passkeys/")
    page.fill("input[name=passkey_name]", "My laptop")
    page.click("[data-passkey-add]")
    page.wait_for_selector("#passkey-list")
    assert Passkey.objects.get(user=patient).name == "My laptop"

    # 2. Signed out, the passkey alone signs in (the authenticator verified the person).
    page.click("header form[action='/accounts/logout/'] button")
    page.wait_for_load_state()
    page.goto("/accounts/login/?next=/cases/mine/")
    page.click("#passkey-login [data-passkey-use]")
    page.wait_for_url(re.compile(r"localhost:\d+/cases/mine/$"))
    assert Passkey.objects.get(user=patient).last_used_at is not None

    # 3. Rename, then remove it.
    page.goto("/accounts/passkeys/")
    passkey = Passkey.objects.get(user=patient)
    page.fill(f"#rename-{passkey.pk}", "Old laptop")
    page.click(f"#passkey-{passkey.pk} button:has-text('Rename')")
    page.wait_for_load_state()
    assert Passkey.objects.get(pk=passkey.pk).name == "Old laptop"
    page.click(f"#passkey-{passkey.pk} button:has-text('Remove')")
    page.wait_for_selector("#no-passkeys")
    assert not Passkey.objects.filter(user=patient).exists()

    # 4. A coordinator enrols a passkey as the first factor (after the e-mailed code), then uses it at sign-in.
    from django.core import mail

    coordinator = make_user(Role.COORDINATOR, network, email="pk.coord@example.test", password=PASSWORD)
    staff = page_with_authenticator(browser, base)
    password_sign_in(staff, coordinator.email)
    assert "/accounts/mfa/" in staff.url
    if staff.locator("form:has(input[value=send]) button").count():  # the e-mailed proof, where it is on
        staff.click("form:has(input[value=send]) button")
        staff.wait_for_load_state()
        code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
        staff.fill("input[name=email_code]", code)
        staff.click("form:has(input[value=prove]) button")
        staff.wait_for_load_state()
    staff.click("#passkey-enrol [data-passkey-add]")
    staff.wait_for_url(re.compile(r"^(?!.*/accounts/mfa/)"))
    assert Passkey.objects.filter(user=coordinator).count() == 1
    staff.click("header form[action='/accounts/logout/'] button")
    staff.wait_for_load_state()
    password_sign_in(staff, coordinator.email)
    assert "/accounts/mfa/" in staff.url
    staff.click("#passkey-factor [data-passkey-use]")
    staff.wait_for_url(re.compile(r"^(?!.*/accounts/mfa/)"))
    staff.goto("/cases/queue/")
    assert "/cases/queue/" in staff.url  # the second factor counted
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"auth.passkey_add", "auth.passkey_use", "auth.passkey_rename", "auth.passkey_remove"} <= actions
