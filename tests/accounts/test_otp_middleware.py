"""The session's second-factor device, read prepared (accounts.middleware.PreparedOTPMiddleware): the same answer
as django_otp's own lookup, for a good, stale, foreign or malformed device id in the session."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.middleware import OTPMiddleware
from django_otp.plugins.otp_totp.models import TOTPDevice

from konsil.accounts.middleware import PreparedOTPMiddleware, _device_read

from ..conftest import verified_login
from ..factories import make_user

pytestmark = pytest.mark.django_db


def _with_device_id(client, persistent_id: str):
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = persistent_id
    session.save()
    return client


def test_a_verified_session_reads_its_device_prepared(client, coordinator):
    verified_login(client, coordinator)
    assert client.get(reverse("cases:queue")).status_code == 200  # verified: no MFA redirect
    read = _device_read(TOTPDevice._meta.label)
    assert read is not None and read.compiled("default") is not None
    device = TOTPDevice.objects.get(user=coordinator)
    assert read.first(pk=device.pk) == device


@pytest.mark.parametrize("stale", ["otp_totp.totpdevice/999999", "otp_totp.totpdevice/abc",
                                   "otp_totp.totpdevice/-4", "otp_totp.totpdevice/99999999999999999999999",
                                   "otp_totp.nosuchdevice/1", "accounts.user/1", "nonsense"])
def test_a_stale_or_malformed_device_id_asks_for_the_code_again(client, coordinator, stale):
    verified_login(client, coordinator)
    _with_device_id(client, stale)
    response = client.get(reverse("cases:queue"))
    assert response.status_code == 302 and reverse("accounts:mfa") in response["Location"]
    assert DEVICE_ID_SESSION_KEY not in client.session  # dropped, as django_otp drops it


def test_another_users_device_does_not_verify(client, coordinator, network):
    other = make_user("coordinator", network)
    device = TOTPDevice.objects.create(user=other, name="theirs", confirmed=True)
    client.force_login(coordinator)
    _with_device_id(client, device.persistent_id)
    assert client.get(reverse("cases:queue")).status_code == 302


def test_same_answer_as_django_otp(coordinator, network):
    mine = TOTPDevice.objects.create(user=coordinator, name="mine", confirmed=True)
    theirs = TOTPDevice.objects.create(user=make_user("coordinator", network), name="theirs", confirmed=False)
    ours, django_otp = PreparedOTPMiddleware(lambda request: None), OTPMiddleware(lambda request: None)
    for persistent_id in (mine.persistent_id, theirs.persistent_id, "otp_totp.totpdevice/0",
                          "otp_totp.TOTPDevice/1", "otp_totp.totpdevice/x", "a.b/1"):
        assert ours._device_from_persistent_id(persistent_id) == django_otp._device_from_persistent_id(
            persistent_id), persistent_id
    with CaptureQueriesContext(connection) as queries:
        assert ours._device_from_persistent_id(mine.persistent_id) == mine
    assert len(queries) == 1
