"""/healthz, /readyz (database, cache, tasks, storage; 503 naming what failed), protected /metrics, JSON logs
without PHI."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.core.cache import cache

from konsil.core import health
from konsil.core.logs import JsonFormatter, scrub

from ..api.conftest import token_client


def test_liveness(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"


def test_readiness_ok(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "tasks": "ok",
                                                          "storage": "ok"}}


@pytest.mark.parametrize("failing", ["database", "cache", "tasks", "storage"])
def test_readiness_names_what_failed(client, db, monkeypatch, failing):
    def broken():
        raise ConnectionError("10.0.0.5:5432 password=secret")

    monkeypatch.setitem(health.CHECKS, failing, broken)
    response = client.get("/readyz")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"][failing] == "unavailable"
    assert [name for name, state in body["checks"].items() if state != "ok"] == [failing]
    assert "secret" not in response.content.decode()


def test_readiness_with_the_real_redis_cache(client, db, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:6379/15"}}
    assert client.get("/readyz").json()["checks"]["cache"] == "ok"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["cache"] == "unavailable"


def test_metrics_from_this_machine(client, db):
    client.get("/healthz")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'konsil_http_requests_total{method="GET",route="healthz",status="200"}' in text
    assert "konsil_http_request_seconds_bucket" in text


def test_metrics_refused_elsewhere_unless_the_token(client, db, settings):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    settings.KONSIL_METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9",
                      HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9",
                      HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    settings.KONSIL_METRICS_NETWORKS = ["203.0.113.0/24"]
    settings.KONSIL_METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200


def test_metrics_routes_hold_no_case_ids(client, db, draft_case, patient_user, login):
    login(client, patient_user)
    client.get(f"/cases/{draft_case.pk}/")
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert str(draft_case.pk) not in text and 'route="cases/<uuid:pk>/"' in text


def test_scrub():
    assert scrub("GET /api/v1/icd10/?q=Ana+Garcia HTTP/1.1") == "GET /api/v1/icd10/?[query] HTTP/1.1"
    assert scrub("mail to ana.garcia@example.com failed") == "mail to [email] failed"


def test_a_journey_logs_json_without_phi(db, network, patient_user):
    """Create, read and search as a patient with every logger at DEBUG; the log never holds the patient's data."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        client = token_client(patient_user)
        cache.clear()
        created = client.post("/api/v1/cases/", {
            "channel": "patient",
            "patient": {"given_name": "Zelinda", "family_name": "Quixotera", "birth_date": "1961-03-29",
                        "sex": "female", "state": "CA", "language": "es"},
            "questions": ["Is the Quixotera stent needed?"], "diagnoses": ["I25.10"],
            "proposed_treatment": "Coronary stent", "urgency": "routine",
        }, format="json")
        assert created.status_code == 201
        client.get(f"/api/v1/cases/{created.json()['id']}/")
        client.get("/api/v1/icd10/", {"q": "Quixotera"})
        client.get("/api/v1/cases/not-a-case/?name=Zelinda")
        try:
            raise ValueError("Zelinda Quixotera")  # an exception message quoting patient data
        except ValueError:
            logging.getLogger("konsil.test").exception("processing failed")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    assert lines, "the journey logged nothing"
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(record)
    text = stream.getvalue()
    for phi in ("Zelinda", "Quixotera", "1961-03-29", patient_user.email):
        assert phi not in text, phi
    assert '"type": "ValueError"' in text
