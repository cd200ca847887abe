"""Lazy start-up work is safe under gunicorn threads: the first requests may arrive together (issue #11)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

HAMMER = textwrap.dedent("""
    import threading
    import django, os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konsil.settings")
    django.setup()
    from konsil.core import icd10
    barrier = threading.Barrier(8)
    results, errors = [], []

    def work():
        barrier.wait()
        try:
            results.append((icd10.normalize("I251"), icd10.tabular_index("I25.10"), len(icd10.search("angina"))))
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors
    assert len(set(results)) == 1, results
    print("ok", results[0])
""")


def test_icd10_first_use_from_many_threads(tmp_path):
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", HAMMER], capture_output=True, text=True, timeout=300,
                              env={**__import__("os").environ, "KONSIL_HOME": str(tmp_path)})
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.startswith("ok ('I25.1', ")


# --- a freshly started server, its first requests all at once ---------------------------------------------------

SEED = """
import uuid
from django.test import Client
from konsil.accounts.roles import OrganizationKind, Role
from tests.factories import OrganizationFactory, api_token, make_draft, make_specialist, make_user
tag = uuid.uuid4().hex[:8]
net = OrganizationFactory(name=f"Net {tag}", slug=f"net-{tag}", kind=OrganizationKind.PROVIDER_NETWORK)
make_specialist(net, email=f"cardio-{tag}@example.test")
patient = make_user(Role.PATIENT, net, email=f"first-{tag}@example.test")
browser = Client()
browser.force_login(patient)
drafts = [str(make_draft(net, patient, clinical_summary="Chest pain walking uphill").pk) for _ in range(DRAFTS)]
print(json.dumps({"token": api_token(patient), "session": browser.cookies["sessionid"].value, "drafts": drafts}))
"""

NEW_CASE = {"channel": "patient", "questions": ["Do I need a stent?"], "diagnoses": ["I25.10"],
            "proposed_treatment": "Coronary stent", "clinical_summary": "I had a heart attack last year",
            "patient": {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17", "sex": "female",
                        "state": "CA", "language": "en"}}


def _first_requests(seed: dict) -> list[tuple[str, str, object, int]]:
    """(method, path, body, expected status): every lazily initialised thing a first request can reach."""
    api = [("GET", "/api/v1/icd10/?q=heart+attack", None, 200), ("GET", "/api/v1/icd10/?q=I25", None, 200),
           ("POST", "/api/v1/cases/", NEW_CASE, 201), ("GET", "/api/v1/cases/", None, 200),
           ("GET", "/api/schema/", None, 200), ("GET", f"/api/v1/cases/{seed['drafts'][0]}/", None, 200)]
    api += [("POST", f"/api/v1/cases/{pk}/transitions/", {"action": "submit"}, 200) for pk in seed["drafts"]]
    pages = [("GET", "/cases/", None, 200), ("GET", f"/cases/{seed['drafts'][-1]}/", None, 200),
             ("GET", "/cases/new/", None, 200), ("GET", "/", None, 200)]
    return [("api", *r) for r in api] + [("page", *r) for r in pages]


@pytest.mark.slow
def test_a_fresh_server_takes_its_first_requests_all_at_once(tmp_path):
    """gunicorn with threads as `konsil run` starts it, triage run in the request (the immediate task backend):
    the ICD-10 index and lay terms, the triage model, the OpenAPI schema, templates and translations are all
    first reached by concurrent requests. None may fail."""
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("a process-level test: runs in the SQLite pass")
    from tests.ops.stack import Stack, migrated_template
    from tests.ops.webserver import Client, start_web

    template = migrated_template(tmp_path / "template")
    for round_ in range(2):  # two fresh processes: a race that loses once in a while gets two chances
        stack = Stack(tmp_path / f"home{round_}", template, KONSIL_API_RATE="100000/hour",
                      KONSIL_TASKS_BACKEND="django_tasks.backends.immediate.ImmediateBackend")
        try:
            assert stack.konsil("manage", "createcachetable").returncode == 0  # as `konsil run` prepares
            seed = stack.py(SEED.replace("DRAFTS", "6"))
            _proc, port = start_web(stack, workers=1, threads=16)
            requests = _first_requests(seed) * 2
            barrier = threading.Barrier(len(requests))
            results: list[tuple[str, int, int, bytes]] = []

            def fire(kind, method, path, body, expected):
                auth = ({"Authorization": f"Token {seed['token']}", "Accept": "application/json"} if kind == "api"
                        else {"Cookie": f"sessionid={seed['session']}", "Accept-Language": "en"})
                client = Client(port, auth)
                barrier.wait()
                status, _headers, data = client.request(method, path, body)
                client.close()
                results.append((f"{method} {path.split('?')[0]}", status, expected, data[:300] if status != expected
                                else b""))

            threads = [threading.Thread(target=fire, args=r) for r in requests]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            assert len(results) == len(requests)
            log = "\n".join(line for line in stack.log("web").splitlines() if '" 20' not in line)[-4000:]
            assert not [r for r in results if r[1] >= 500 or r[1] == 0], (results, log)
            # one of the two submits of each draft wins; the other is refused (409), never a 500
            wrong = [r for r in results if r[1] != r[2] and not ("/transitions/" in r[0] and r[1] == 409)]
            assert not wrong, wrong
            assert "Traceback" not in stack.log("web"), stack.log("web")[-3000:]
        finally:
            stack.stop()
