"""API test helpers: token clients, TOTP codes, and the people around one network's cases."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from ..factories import api_token, make_specialist

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


def token_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


@pytest.fixture
def api():
    """api(user) -> an APIClient signed in with the user's token; api() -> anonymous."""
    return token_client


def totp_code(user) -> str:
    """The current code of the user's (new, confirmed) TOTP device."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="phone", confirmed=True)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


@pytest.fixture
def other_specialist(network):
    return make_specialist(network, specialty="cardiology", states=("CA",), languages=("en",))
