"""Scale by configuration: gunicorn workers and threads, PostgreSQL pooled connections, sessions and throttles on
the real Redis at 127.0.0.1:6379."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.contrib.sessions.backends.cached_db import SessionStore
from django.core.cache import cache

from konsil import cli

PG = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                     "LOCATION": "redis://127.0.0.1:6379/14"}}


def settings_in_a_fresh_process(env: dict, drop=()) -> str:
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'konsil.settings'; django.setup();"
            "from django.conf import settings as s; d = s.DATABASES['default'];"
            "print(d.get('OPTIONS', {}).get('pool'), d['CONN_MAX_AGE'], s.SESSION_ENGINE,"
            " s.CACHES['default']['BACKEND'], s.KONSIL_WEB_WORKERS, s.KONSIL_WEB_THREADS)")
    base = {k: v for k, v in os.environ.items() if k not in drop}
    result = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True,
                            text=True, timeout=120, check=True)
    return result.stdout.strip()


def test_pool_redis_and_web_workers_by_configuration():
    out = settings_in_a_fresh_process({"DATABASE_URL": PG, "KONSIL_DB_POOL": "2:8",
                                       "KONSIL_REDIS_URL": "redis://127.0.0.1:6379/14",
                                       "KONSIL_WEB_WORKERS": "5", "KONSIL_WEB_THREADS": "16"})
    assert out == ("{'min_size': 2, 'max_size': 8, 'timeout': 10} 0 django.contrib.sessions.backends.cached_db "
                   "django.core.cache.backends.redis.RedisCache 5 16")


def test_the_embedded_default_needs_no_engine():
    out = settings_in_a_fresh_process({}, drop=("DATABASE_URL", "KONSIL_DB_POOL", "KONSIL_REDIS_URL",
                                                "KONSIL_WEB_WORKERS", "KONSIL_WEB_THREADS"))
    assert out.endswith("django.contrib.sessions.backends.db django.core.cache.backends.db.DatabaseCache 2 4")


def test_pooled_connections_on_the_real_postgresql():
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'konsil.settings'; django.setup();"
            "from django.db import connection; connection.ensure_connection();"
            "print(type(connection.pool).__name__);"
            "c = connection.cursor(); c.execute('SELECT 41 + 1'); print(c.fetchone()[0])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DATABASE_URL": PG, "KONSIL_DB_POOL": "1:4"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["ConnectionPool", "42"]


@pytest.mark.parametrize(("flag", "prepared"), [(None, True), ("0", False)])
def test_hot_statements_are_prepared_once_per_connection_on_the_real_postgresql(flag, prepared):
    """Values bound by the server and a statement prepared from its second run (KONSIL_DB_PREPARED, on by default;
    0 for PgBouncer in transaction mode): the server no longer parses and plans it on every request."""
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'konsil.settings'; django.setup();"
            "from django.db import connection; c = connection.cursor();"
            "[c.execute('SELECT datname FROM pg_database WHERE oid = %s', [i]) for i in range(3)];"
            "c.execute('SELECT count(*) FROM pg_prepared_statements'); print(c.fetchone()[0])")
    env = {k: v for k, v in os.environ.items() if k != "KONSIL_DB_PREPARED"}
    env.update({"DATABASE_URL": PG, "KONSIL_DB_POOL": "1:2", **({"KONSIL_DB_PREPARED": flag} if flag else {})})
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (int(result.stdout.split()[-1]) > 0) is prepared


def test_run_flags_choose_workers_and_threads():
    web = cli.child_commands("127.0.0.1", 8000, worker=False, web_workers=6, threads=12)[0][1]
    assert web[web.index("--workers") + 1] == "6" and web[web.index("--threads") + 1] == "12"
    args = cli.build_parser().parse_args(["run", "--workers", "3", "--threads", "8"])
    assert (args.workers, args.threads) == (3, 8)


@pytest.mark.parametrize("value", ["0", "-2", "many", "100000"])
def test_run_flags_refuse_bad_numbers(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["run", "--workers", value])
    assert exit_info.value.code == 2
    assert "whole number from 1 to 256" in capsys.readouterr().err


def test_sessions_on_redis_survive_through_the_database(db, settings):
    settings.CACHES = REDIS
    cache.clear()
    session = SessionStore()
    session["k"] = "v"
    session.save()
    assert cache.get(session.cache_key) is not None  # read from Redis
    cache.clear()  # Redis restarted: the session is still there, from the database
    assert SessionStore(session.session_key)["k"] == "v"


def test_throttles_count_in_the_shared_redis(db, settings, patient_user):
    """Two workers share the counter: the throttle state lives in Redis, not in a process."""
    from rest_framework.test import APIClient
    from rest_framework.throttling import UserRateThrottle

    from ..factories import api_token

    original = UserRateThrottle.THROTTLE_RATES  # the class keeps its own copy: put back exactly this one
    settings.CACHES = REDIS
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "3/hour"}}
    UserRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    try:
        cache.clear()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(patient_user)}")
        codes = [client.get("/api/v1/cases/").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert any(key.startswith(b":1:throttle_user") for key in cache._cache.get_client().keys("*"))
    finally:
        UserRateThrottle.THROTTLE_RATES = original
        cache.clear()
