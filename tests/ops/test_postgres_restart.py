"""PostgreSQL restarted under load (our own throwaway cluster): requests fail cleanly with 503 + Retry-After, the
app recovers without a restart, and every case is whole (each 201 is one case with its questions and audit)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from .pgcluster import Cluster, pg_bin
from .stack import PYTHON, ROOT, free_port, wait_for

pytestmark = [pytest.mark.slow]

USER = """
import uuid
from konsil.accounts.roles import OrganizationKind, Role
from tests.factories import OrganizationFactory, api_token, make_user
tag = uuid.uuid4().hex[:8]
net = OrganizationFactory(name=f"Net {tag}", slug=f"net-{tag}", kind=OrganizationKind.PROVIDER_NETWORK)
user = make_user(Role.PATIENT, net, email=f"load-{tag}@example.test")
print(json.dumps(api_token(user)))
"""

COUNTS = """
from konsil.audit.models import AuditEvent
from konsil.cases.models import Case
from konsil.audit import services as audit_services
getattr(audit_services, "seal", lambda: None)()
cases = Case.objects.all()
print(json.dumps({"cases": cases.count(), "without_questions": cases.filter(questions__isnull=True).count(),
                  "created_events": AuditEvent.objects.filter(action="case.create").count(),
                  "ids": [str(pk) for pk in cases.values_list("pk", flat=True)]}))
"""

BODY = json.dumps({"channel": "patient", "questions": ["Do I need a stent?"], "diagnoses": ["I25.10"],
                   "proposed_treatment": "Coronary stent",
                   "patient": {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17",
                               "sex": "female", "state": "CA", "language": "en"}}).encode()


def post(url: str, token: str) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, data=BODY, method="POST", headers={
        "Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (our own server)
            return response.status, "", json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After", ""), {}
    except OSError:
        return 0, "", {}


def test_postgresql_restart_under_load(make_stack, tmp_path):
    if pg_bin("initdb") is None or pg_bin("pg_ctl") is None:
        pytest.skip("initdb/pg_ctl are not installed (.ci/run installs postgresql)")
    cluster = Cluster(tmp_path / "pg").init()
    try:
        stack = make_stack(DATABASE_URL=cluster.url, KONSIL_DB_CONN_MAX_AGE="60", KONSIL_API_RATE="100000/hour")
        migrated = stack.konsil("manage", "migrate", "-v0", timeout=900)
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        stack.konsil("manage", "createcachetable")
        token = stack.py(USER)
        port = free_port()
        web = subprocess.Popen([PYTHON, "-m", "gunicorn", "konsil.wsgi:application", "--bind", f"127.0.0.1:{port}",
                                "--workers", "1", "--threads", "4", "--worker-class", "gthread"],
                               env=stack.env, cwd=ROOT, stdout=open(stack.home / "web.log", "ab"),  # noqa: SIM115
                               stderr=subprocess.STDOUT, start_new_session=True)
        stack.procs.append(web)
        url = f"http://127.0.0.1:{port}/api/v1/cases/"
        wait_for(lambda: post(url, token)[0] == 201, 180, interval=1, what="the web server")

        results: list[tuple[float, int, str, dict]] = []
        stop = threading.Event()

        def client():
            while not stop.is_set():
                status, retry_after, body = post(url, token)
                results.append((time.monotonic(), status, retry_after, body))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        wait_for(lambda: sum(1 for r in results if r[1] == 201) >= 5, 120, what="load before the restart")
        cluster.stop("fast")  # connections cut mid-transaction
        down_at = time.monotonic()
        wait_for(lambda: sum(1 for r in results if r[0] > down_at and r[1] == 503) >= 3, 60,
                 what="503s while PostgreSQL is down")
        cluster.start()
        up_at = time.monotonic()
        wait_for(lambda: sum(1 for r in results if r[0] > up_at and r[1] == 201) >= 5, 120,
                 what="the app to recover without a restart")
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert web.poll() is None  # the same server process all along

        statuses = {status for _t, status, _ra, _b in results}
        assert statuses <= {201, 503}, sorted(statuses)  # never a 500, never a dropped connection
        assert all(int(ra) > 0 for _t, status, ra, _b in results if status == 503)
        created = {body["id"] for _t, status, _ra, body in results if status == 201}
        counts = stack.py(COUNTS)
        assert set(counts["ids"]) >= created  # every 201 is a case
        # a case may commit while its response is cut off by the shutdown; none is half-written
        assert counts["without_questions"] == 0 and counts["created_events"] == counts["cases"]
        # committed but not answered 201: the request in flight when the database went down, and at most one more
        # per client while the fast shutdown was still ending persistent sessions (seen once: 5 for 4 clients)
        assert counts["cases"] - len(created) <= 2 * len(threads)
    finally:
        cluster.remove()
