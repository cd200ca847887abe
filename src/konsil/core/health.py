"""Liveness, readiness and Prometheus metrics for load balancers and monitoring.

/healthz: the process answers (no engine touched). /readyz: the database, the shared cache, the task queue and
the file storage each answer; 503 naming the ones that did not (never why: no addresses or secrets). /metrics:
request counts and latencies per route in the Prometheus text format, for a bearer token
(KONSIL_METRICS_TOKEN) or from the networks in KONSIL_METRICS_NETWORKS (default: this machine only). With
several gunicorn workers set PROMETHEUS_MULTIPROC_DIR so that every worker's figures are summed.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
import uuid

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)


def liveness(request):
    return HttpResponse("ok", content_type="text/plain")


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    from django.core.cache import cache

    key, value = f"konsil:readyz:{uuid.uuid4().hex}", "1"
    cache.set(key, value, 10)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not keep a value")
    cache.delete(key)


def _tasks() -> None:
    from django_tasks import default_task_backend

    backend = default_task_backend
    if backend.__class__.__module__.startswith("django_tasks_db"):
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.exists()
    broker = getattr(settings, "CELERY_BROKER_URL", "") or os.environ.get("KONSIL_CELERY_BROKER_URL", "")
    if broker:
        from kombu import Connection

        with Connection(broker, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)


def _storage() -> None:
    from django.core.files.storage import default_storage

    default_storage.exists(".konsil-readyz")


CHECKS = {"database": _database, "cache": _cache, "tasks": _tasks, "storage": _storage}


def readiness(request):
    results, ok = {}, True
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means "not ready"; the reason's class only, never its message
            ok = False
            results[name] = "unavailable"
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
    response = JsonResponse({"status": "ok" if ok else "unavailable", "checks": results}, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = "5"
    return response


# --- metrics ------------------------------------------------------------------------------------------------

def _registry():
    from prometheus_client import CollectorRegistry, multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


class _Metrics:
    """Created once at import (module state is shared by a worker's threads; prometheus_client is thread-safe)."""

    def __init__(self):
        from prometheus_client import Counter, Histogram

        self.requests = Counter("konsil_http_requests_total", "HTTP requests", ["method", "route", "status"])
        self.latency = Histogram("konsil_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


METRICS = _Metrics()


def _route(request) -> str:
    """The URL pattern, never the path itself (a path holds case ids)."""
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        route = _route(request)
        METRICS.requests.labels(request.method, route, str(response.status_code)).inc()
        METRICS.latency.labels(request.method, route).observe(time.perf_counter() - start)
        return response


def _allowed(request) -> bool:
    token = getattr(settings, "KONSIL_METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    networks = getattr(settings, "KONSIL_METRICS_NETWORKS", ["127.0.0.1/32", "::1/128"])
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


def metrics(request):
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    if not _allowed(request):
        return JsonResponse({"detail": "Metrics need the metrics token or an allowed network."}, status=403)
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
