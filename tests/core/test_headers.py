"""Headers and sessions: a strict CSP, no-store on patient data, Secure cookies and HSTS off localhost, trusted
proxies for client addresses, throttle counters shared across workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from konsil.core.middleware import client_ip

TEMPLATES = Path(django_settings.PACKAGE_DIR) / "templates"


def test_every_page_carries_a_strict_csp(client, db):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_no_template_has_inline_script_or_handlers():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/(ld\+)?json)[^>]*>", text) or \
                re.search(r"\son[a-z]+=\"", text) or "javascript:" in text:
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []


def test_signed_in_and_api_responses_are_not_stored(client, patient_user, draft_case):
    client.force_login(patient_user)
    page = client.get(f"/cases/{draft_case.pk}/")
    assert "no-store" in page["Cache-Control"] and "private" in page["Cache-Control"]
    api = APIClient()
    api.force_authenticate(patient_user)
    assert "no-store" in api.get(f"/api/v1/cases/{draft_case.pk}/")["Cache-Control"]
    assert "no-store" in APIClient().get("/api/v1/cases/")["Cache-Control"]  # even the 401


def test_secure_cookies_and_hsts_off_localhost(tmp_path):
    def settings_under(**env):
        code = ("import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'konsil.settings');"
                "from django.conf import settings as s;"
                "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, getattr(s, 'SECURE_HSTS_SECONDS', 0))")
        env = {**os.environ, "KONSIL_HOME": str(tmp_path), **env}
        env.pop("KONSIL_SECURE_COOKIES", None) if "KONSIL_SECURE_COOKIES" not in env else None
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr[-1000:]
        return done.stdout.split()

    assert settings_under(KONSIL_ALLOWED_HOSTS="127.0.0.1,localhost") == ["False", "False", "0"]
    assert settings_under(KONSIL_ALLOWED_HOSTS="konsil.example.org") == ["True", "True", "31536000"]
    assert settings_under(KONSIL_ALLOWED_HOSTS="konsil.example.org", KONSIL_DEBUG="1")[:2] == ["False", "False"]
    assert settings_under(KONSIL_ALLOWED_HOSTS="konsil.example.org", KONSIL_SECURE_COOKIES="0")[0] == "False"


def test_client_address_ignores_forwarded_for_unless_proxies_are_trusted():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.9")
    assert client_ip(request) == "10.0.0.2"
    rest = {**django_settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    with override_settings(REST_FRAMEWORK=rest):
        assert client_ip(request) == "198.51.100.9"  # the address our one proxy saw, not the client's claim


def test_rotating_forwarded_for_does_not_escape_the_sign_in_throttle(db, patient_user):
    statuses = []
    for i in range(12):
        response = APIClient().post("/api/v1/auth/token/", {"email": patient_user.email, "password": "wrong"},
                                    format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
        statuses.append(response.status_code)
    assert statuses[-1] == 429 and statuses.count(429) >= 2


def test_throttle_counters_live_in_a_shared_cache():
    from konsil import settings as module  # the app's own value (tests swap in a memory cache)

    backend = module.CACHES["default"]["BACKEND"]
    assert backend in ("django.core.cache.backends.db.DatabaseCache",
                       "django.core.cache.backends.redis.RedisCache")


def test_the_cache_table_works(db):
    from django.core.cache.backends.db import DatabaseCache

    cache = DatabaseCache(django_settings.CACHES["default"].get("LOCATION", "konsil_cache"), {})
    cache.set("konsil-test", 41)
    assert cache.incr("konsil-test") == 42


@pytest.mark.parametrize("path", ["/healthz"])
def test_public_health_is_cacheable(client, db, path):
    assert "no-store" not in client.get(path).get("Cache-Control", "")
