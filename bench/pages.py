"""Per-request cost of the hot pages and endpoints of `make bench-load`, in process (`make bench-pages`, issue #11).

The demo data on a throw-away SQLite database (or DATABASE_URL), the Django test client signed in as the demo
patient, coordinator and specialist; each request run BENCH_PAGES_REPEAT times (default 20) after one warm-up,
printing the median CPU ms of the thread (the app and SQLite run in it: steadier than wall time on a shared machine;
wall time beside it) and the queries per request, against /healthz timed between the runs of each request (the
same-run baseline; asked without signing in, as the load benchmark asks it, so that a change to what a signed-in
request reads does not move the baseline). BENCH_PAGES_PROFILE=<name> prints that request's cProfile instead
(BENCH_PAGES_SORT, default cumulative; BENCH_PAGES_FILTER, a regular expression on the lines, e.g. konsil);
BENCH_PAGES_QUERIES=<name> prints the SQL that request runs, one query a line (cut at 160 characters);
BENCH_PAGES_WHERE=<regular expression> adds, under each query it matches, the app's frames that ran it.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from run import setup_django  # noqa: E402

NEW_CASE = {
    "channel": "patient",
    "questions": ["Do I need a stent?"],
    "diagnoses": ["I25.10"],
    "proposed_treatment": "Coronary stent",
    "clinical_summary": "Chest pain walking uphill",
    "patient": {
        "given_name": "Ana",
        "family_name": "García",
        "birth_date": "1970-05-17",
        "sex": "female",
        "state": "CA",
        "language": "en",
    },
}


def _clients():
    """A browser and an API client per demo login (MFA passed, the session touched: steady state)."""
    import time as clock

    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from rest_framework.test import APIClient

    from konsil.accounts.models import ApiToken, User
    from konsil.core.middleware import SessionTouchMiddleware
    from konsil.demo import Login

    out = {}
    for key in ("patient", "coordinator", "specialist"):
        user = User.objects.get(email=Login(key, "", "", "", "").email)
        browser = Client()
        browser.force_login(user)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
            user=user, name="bench", confirmed=True
        )
        session = browser.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session[SessionTouchMiddleware.KEY] = int(clock.time()) + 3600  # no touch write during the run
        session.save()
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(user=user)[1]}", HTTP_ACCEPT="application/json")
        out[key] = (browser, api)
    return out


def requests() -> list[tuple[str, object]]:
    """(name, callable returning a response) for each measured request."""
    from django.test import Client

    from konsil.cases.models import Case

    clients = _clients()
    anonymous = Client()
    pk = {c.reference: c.pk for c in Case.objects.filter(reference__startswith="K-DEMO")}
    (p_web, p_api), (c_web, _c_api), (s_web, _s_api) = (
        clients["patient"],
        clients["coordinator"],
        clients["specialist"],
    )
    return [
        ("/healthz", lambda: anonymous.get("/healthz")),
        ("patient api list", lambda: p_api.get("/api/v1/cases/")),
        ("patient page draft", lambda: p_web.get(f"/cases/{pk['K-DEMO01']}/")),
        ("patient page review", lambda: p_web.get(f"/cases/{pk['K-DEMO06']}/")),
        ("patient api create", lambda: p_api.post("/api/v1/cases/", NEW_CASE, format="json")),
        ("coord page triaged", lambda: c_web.get(f"/cases/{pk['K-DEMO14']}/")),
        ("coord page review", lambda: c_web.get(f"/cases/{pk['K-DEMO06']}/")),
        ("coord queue", lambda: c_web.get("/cases/queue/")),
        ("spec page review", lambda: s_web.get(f"/cases/{pk['K-DEMO06']}/")),
        ("spec records", lambda: s_web.get(f"/records/cases/{pk['K-DEMO06']}/files.json")),
    ]


def _timed(name: str, call) -> tuple[float, float, int]:
    """CPU seconds of this thread (the app and SQLite run in it), wall seconds and queries of one request."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()  # throttle counters must not refuse the run
    connection.queries_log.clear()  # it keeps 9,000 at most: a full log would count every later request as 0
    with CaptureQueriesContext(connection) as captured:
        cpu, wall = time.thread_time(), time.perf_counter()
        response = call()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    assert response.status_code in (200, 201), (name, response.status_code)
    return cpu, wall, len(captured)


def measure(name: str, call, health, repeat: int) -> dict:
    """Medians (ms) of `call` and of /healthz timed between its runs (the baseline), and its queries."""
    _timed(name, call)  # warm-up (and a check that it answers)
    runs, base = [], []
    for _ in range(repeat):
        runs.append(_timed(name, call))
        base.append(_timed("/healthz", health))
    return {
        "cpu": statistics.median(r[0] for r in runs) * 1000,
        "wall": statistics.median(r[1] for r in runs) * 1000,
        "queries": runs[-1][2],
        "base_cpu": statistics.median(b[0] for b in base) * 1000,
        "base_wall": statistics.median(b[1] for b in base) * 1000,
    }


def print_queries(call) -> None:
    """The SQL one (warm) request runs, in order."""
    import re
    import traceback

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    where = os.environ.get("BENCH_PAGES_WHERE")
    stacks: list[tuple[str, list[str]]] = []  # the statements run through the cursor, with the app's frames

    def remember(execute, sql, params, many, context):
        frames = traceback.extract_stack()[:-1] if where and re.search(where, sql) else []
        stacks.append((sql, [f"{f.filename.split('/src/konsil/')[-1]}:{f.lineno} {f.name}" for f in frames
                             if "/src/konsil/" in f.filename]))
        return execute(sql, params, many, context)

    call()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(remember):
        call()
    for i, query in enumerate(captured.captured_queries, 1):
        print(f"  {i:>3} {query['sql'][:160]}")
        # the log also holds transaction statements, which no cursor ran: match by the SQL's start
        found = next((j for j, (sql, _f) in enumerate(stacks) if sql[:40] == query["sql"][:40]), None)
        frames = stacks[found][1] if found is not None else []
        del stacks[:0 if found is None else found + 1]
        for frame in frames:
            print(f"        {frame}")


def refuse_a_kept_database() -> None:
    """The bench seeds demo data, creates cases and clears the cache: only a throw-away database (the default
    temporary SQLite one, or a DATABASE_URL whose database name says "bench"), unless BENCH_PAGES_ANY_DB=1."""
    url = os.environ.get("DATABASE_URL", "")
    name = url.rsplit("/", 1)[-1].split("?", 1)[0]
    if url and "bench" not in name and os.environ.get("BENCH_PAGES_ANY_DB") != "1":
        sys.exit(f"bench/pages.py writes demo data and clears the cache; database {name!r} is not a bench database "
                 "(name it *bench*, or set BENCH_PAGES_ANY_DB=1)")


def main() -> None:
    refuse_a_kept_database()
    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    call_command("createcachetable", verbosity=0)

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    from konsil.demo import seed_demo

    start = time.perf_counter()
    seed_demo()
    print(
        f"demo data seeded in {time.perf_counter() - start:.1f} s "
        f"({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})"
    )
    repeat = int(os.environ.get("BENCH_PAGES_REPEAT", "20"))
    only = os.environ.get("BENCH_PAGES_PROFILE")
    listed = os.environ.get("BENCH_PAGES_QUERIES")
    health = None
    for name, call in requests():
        if listed:
            if name == listed:
                print_queries(call)
            continue
        if only:
            if name == only:
                call()
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(repeat):
                    call()
                profile.disable()
                stats = pstats.Stats(profile).sort_stats(os.environ.get("BENCH_PAGES_SORT", "cumulative"))
                stats.print_stats(os.environ.get("BENCH_PAGES_FILTER", ""), 60)
            continue
        if name == "/healthz":
            health = call
            continue
        m = measure(name, call, health, repeat)
        print(
            f"  {name:<20} cpu {m['cpu']:>6.1f} ms (wall {m['wall']:>6.1f})  {m['queries']:>3} queries   "
            f"/healthz cpu {m['base_cpu']:>4.2f} ms (wall {m['base_wall']:>5.2f})   {m['cpu'] / m['base_cpu']:>5.1f}x"
        )


if __name__ == "__main__":
    main()
