"""Load benchmark (`make bench-load`, issue #11): the real web server (gunicorn with threads, started with the
command `konsil run` uses) on SQLite and, when one answers on 127.0.0.1, on PostgreSQL; 8, 32 and 64 concurrent
clients drive realistic reads and writes (patients: the case list, a case page, creating a case, uploading a small
record; coordinators: the queue; specialists: the records of a case they review), then the reads alone and case
creation alone (the issue's two ratios), and the same clients hit /healthz at the same concurrency in the same
run as the baseline (before each phase the worker finishes the records uploaded so far, so that no phase pays
for the one before). Prints p50/p95/p99, throughput and errors per operation, the CPU ms each part of the stack
spent per request in each phase (web server, task worker, PostgreSQL, load generator; bench/cpu.py: steadier than
throughput on a shared machine), then checks that every 2xx is accounted for in the database and the audit trail
(and that the trail verifies).

SQLite runs the embedded default (the database cache, the database task worker); PostgreSQL runs the scale path:
pooled connections (KONSIL_DB_POOL, default 2:8), Redis for the cache and sessions and Celery on Redis for tasks
(our own redis-server on a free port). The task worker runs through the whole run, as `konsil run` starts it.
Then submit to triage under the same load (issue #11): a probe submits BENCH_LOAD_TRIAGE_CASES cases (default 20)
one after the other, on the idle server (the same-run baseline), then while BENCH_LOAD_TRIAGE_CLIENTS clients
(default 32) run the mixed load and the worker processes a 500-slice CT (BENCH_LOAD_CTS, default 1; 0 leaves it
out); figure: Case.submitted_at to the TriageProposal, p50/p95, target p95 <= 2 s.

Knobs: BENCH_LOAD_SECONDS (per phase, default 10), BENCH_LOAD_CLIENTS (default 8,32,64), BENCH_LOAD_ENGINES
(default sqlite,postgresql), BENCH_LOAD_WORKERS / BENCH_LOAD_THREADS (default: KONSIL_WEB_WORKERS/THREADS, 2 and 4),
BENCH_LOAD_PG (server URL without database, default postgres://postgres@127.0.0.1:5432), BENCH_LOAD_PHASES (which
of mixed,reads,creation follow each /healthz baseline, default all three; `reads` for quick pairs); passed on to
the servers, for same-run baselines: KONSIL_GC_FREEZE (0: without core.startup's gc.freeze), KONSIL_DB_PREPARED
(0: every statement parsed and planned per run, as before) and KONSIL_AUDIT_SEAL (commit or inline).
"""

from __future__ import annotations

import base64
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import cpu  # noqa: E402 (bench/cpu.py)
from tests.ops.stack import Redis, Stack, migrated_template  # noqa: E402
from tests.ops.webserver import Client, start_web  # noqa: E402

PASSED_ON = ("KONSIL_GC_FREEZE", "KONSIL_DB_PREPARED", "KONSIL_AUDIT_SEAL")

SEED = """
import uuid
from django.test import Client
from konsil.accounts.roles import OrganizationKind, Role
from konsil.records import intake
from tests.conftest import Walker, verified_login
from tests.factories import OrganizationFactory, api_token, make_draft, make_specialist, make_user
tag = uuid.uuid4().hex[:8]
net = OrganizationFactory(name=f"Load {tag}", slug=f"load-{tag}", kind=OrganizationKind.PROVIDER_NETWORK)
patients = [make_user(Role.PATIENT, net, email=f"load-{i}-{tag}@example.test") for i in range(USERS)]
# The staff: coordinators working the network's queue, specialists reading the records of the cases they review
# (each reviews REVIEWS cases of the load's patients, each case with RECORDS records).
staff = []
for i in range(STAFF):
    coordinator = make_user(Role.COORDINATOR, net, email=f"load-coord-{i}-{tag}@example.test")
    specialist = make_specialist(net, capacity=REVIEWS + 1, email=f"load-spec-{i}-{tag}@example.test")
    walker, reviewed = Walker(coordinator, specialist), []
    for j in range(REVIEWS):
        owner = patients[(i * REVIEWS + j) % len(patients)]
        case = make_draft(net, owner)
        for k in range(RECORDS):
            intake.store_record(actor=owner, case=case, content=f"Echo report {k} of {case.reference}".encode() * 20,
                                filename=f"report-{k}.txt")
        reviewed.append(str(walker.walk_to(case, "in_review").pk))
    staff.append({"coordinator": verified_login(Client(), coordinator).cookies["sessionid"].value,
                  "specialist": verified_login(Client(), specialist.user).cookies["sessionid"].value,
                  "reviews": reviewed})
people = []
for i, patient in enumerate(patients):
    browser = Client()
    browser.force_login(patient)
    mate = staff[i % len(staff)]
    people.append({"token": api_token(patient), "session": browser.cookies["sessionid"].value,
                   "case": str(make_draft(net, patient).pk), "coordinator": mate["coordinator"],
                   "specialist": mate["specialist"], "review": mate["reviews"][(i // len(staff)) % REVIEWS]})
print(json.dumps(people))
"""

COUNTS = """
from konsil.audit import services as audit_services
from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment, Case
getattr(audit_services, "seal", lambda: None)()
created = set(str(pk) for pk in Case.objects.values_list("pk", flat=True))
records = set(str(pk) for pk in Attachment.objects.values_list("pk", flat=True))
result = audit_services.verify()
print(json.dumps({"cases": sorted(created), "records": sorted(records),
                  "case_events": AuditEvent.objects.filter(action="case.create").count(),
                  "verified": result.ok, "events": AuditEvent.objects.count()}))
"""

SETTLE = """
import time
from konsil.cases.models import Attachment
began, waiting = time.monotonic(), None
while time.monotonic() - began < 180:
    waiting = Attachment.objects.filter(status__in=("queued", "processing")).count()
    if not waiting:
        break
    time.sleep(0.5)
print(json.dumps({"seconds": round(time.monotonic() - began, 1), "waiting": waiting}))
"""

PREPARE = """
from konsil.accounts.models import Organization
if not Organization.objects.filter(slug="konsil-network").exists():  # the probe's network and specialists
    from konsil.demo import seed_demo
    seed_demo()
print(json.dumps(True))
"""

PROBE = """
import sys
sys.path.insert(0, "bench")
import routing
from konsil.core import startup
startup.warm("web")  # submissions arrive in the web process, which builds its indexes when it starts
records = routing.store_cts(CTS, 500, FIRST + 10_000)[0] if CTS else []
times, behind, missing = routing.triage_phase(COUNT, FIRST, 60, records)
print(json.dumps({"times": times, "behind": behind, "missing": missing, "ct_left": routing.imaging_busy(records)}))
"""
TARGET_TRIAGE_P95_S = 2.0

NEW_CASE = {"channel": "patient", "questions": ["Do I need a stent?"], "diagnoses": ["I25.10"],
            "proposed_treatment": "Coronary stent", "clinical_summary": "Chest pain walking uphill",
            "patient": {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17", "sex": "female",
                        "state": "CA", "language": "en"}}
# Patients reading and creating cases and sending records, coordinators working the queue, specialists reading the
# records of the cases they review (the mix).
MIX = (("list", 0.25), ("case page", 0.25), ("create", 0.20), ("upload", 0.10), ("queue", 0.10), ("records", 0.10))
READS = (("list", 1), ("case page", 1), ("queue", 1), ("records", 1))
CREATES = (("create", 1),)
HEALTHZ = (("healthz", 1),)
STAFF, REVIEWS, RECORDS = 4, 2, 3  # coordinators and specialists; cases each specialist reviews; records per case
TUS = {"Tus-Resumable": "1.0.0"}
PHASES = {"mixed", "reads", "creation"}  # after each /healthz baseline (BENCH_LOAD_PHASES picks some)


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = {}
        self.errors: dict[str, list[int]] = {}
        self.created: list[str] = []
        self.records: list[str] = []
        self.cpu = ""  # CPU ms per request of the stack's processes (bench/cpu.py), when the phase measured it

    def add(self, op: str, seconds: float, ok: bool, status: int) -> None:
        with self.lock:
            self.samples.setdefault(op, []).append(seconds)
            if not ok:
                self.errors.setdefault(op, []).append(status)


def _api(person) -> dict[str, str]:
    return {"Authorization": f"Token {person['token']}", "Accept": "application/json"}


def _clients(port: int, person: dict) -> dict[str, Client]:
    """One connection per caller a load client plays: the patient's API token and browser session, and the
    sessions of the coordinator and the specialist it works beside."""
    return {"api": Client(port, _api(person)),
            **{who: Client(port, {"Cookie": f"sessionid={person[key]}"})
               for who, key in (("patient", "session"), ("coordinator", "coordinator"), ("specialist", "specialist"))}}


def one_op(op: str, clients: dict[str, Client], person: dict, rec: Recorder, n: int) -> None:
    client = clients["api"]
    start = time.perf_counter()
    if op == "healthz":
        status = client.request("GET", "/healthz")[0]
        ok = status == 200
    elif op == "list":
        status = client.request("GET", "/api/v1/cases/")[0]
        ok = status == 200
    elif op == "case page":
        status = clients["patient"].request("GET", f"/cases/{person['case']}/")[0]
        ok = status == 200
    elif op == "queue":
        status = clients["coordinator"].request("GET", "/cases/queue/")[0]
        ok = status == 200
    elif op == "records":
        status, _h, body = clients["specialist"].request("GET", f"/records/cases/{person['review']}/files.json")
        ok = status == 200 and body.count(b'"id"') >= RECORDS
    elif op == "create":
        status, _h, body = client.request("POST", "/api/v1/cases/", NEW_CASE)
        ok = status == 201
        if ok:
            import json

            with rec.lock:
                rec.created.append(json.loads(body)["id"])
    else:  # upload: a small text record in two requests (tus create, one PATCH), as the browser's client sends it
        content = f"Discharge letter {uuid.uuid4()} {n}\n".encode() * 40
        meta = "filename " + base64.b64encode(b"letter.txt").decode()
        status, headers, _b = client.request("POST", f"/api/v1/records/cases/{person['case']}/uploads/", None, {
            **TUS, "Upload-Length": str(len(content)), "Upload-Metadata": meta})
        ok = status == 201
        if ok:
            status, headers, _b = client.request("PATCH", urlsplit(headers["location"]).path, content, {
                **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
            ok = status == 204 and bool(headers.get("konsil-record"))
            if ok:
                with rec.lock:
                    rec.records.append(headers["konsil-record"])
    rec.add(op, time.perf_counter() - start, ok, status)


def phase(port: int, people: list[dict], clients: int, seconds: float, mix: tuple,
          during=None, meter: dict[str, int] | None = None) -> tuple[Recorder, float]:
    """`clients` clients for `seconds` (or, given `during`, for as long as that call runs); with `meter` (root
    processes by name), what CPU the stack spent per request (rec.cpu, a line to print)."""
    rec, stop = Recorder(), threading.Event()
    barrier = threading.Barrier(clients + 1)

    def run(i: int) -> None:
        person = people[i % len(people)]
        clients_of = _clients(port, person)
        rnd, n = random.Random(i), 0
        barrier.wait()
        while not stop.is_set():
            n += 1
            op = rnd.choices([m for m, _w in mix], [w for _m, w in mix])[0]
            one_op(op, clients_of, person, rec, n)
        for client in clients_of.values():
            client.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    before = cpu.sample(meter or {})
    began = time.perf_counter()
    try:
        during() if during else time.sleep(seconds)
    finally:
        stop.set()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.perf_counter() - began
    rec.cpu = cpu.per_request(before, cpu.sample(meter or {}), sum(len(v) for v in rec.samples.values()),
                              elapsed) if meter else ""
    return rec, elapsed


def warm_up(port: int, people: list[dict], clients: int) -> Recorder:
    """Every operation three times from as many clients as the server has threads, then the figures start."""
    rec = Recorder()

    def run(i: int) -> None:
        person = people[i % len(people)]
        clients_of = _clients(port, person)
        for n in range(3):
            for op, _w in MIX:
                one_op(op, clients_of, person, rec, n)
        for client in clients_of.values():
            client.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return rec


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def line(name: str, values: list[float], errors: list[int], elapsed: float, base: float | None = None) -> str:
    rate = len(values) / elapsed
    codes = ",".join(str(c) for c in sorted(set(errors)))
    ratio = f"  {rate / base:.2f}x healthz" if base else ""
    return (f"    {name:<13} {len(values):>6} req  {rate:>7.1f}/s  p50 {pct(values, .5):>7.1f} ms  "
            f"p95 {pct(values, .95):>7.1f} ms  p99 {pct(values, .99):>7.1f} ms  errors {len(errors)}"
            f"{f' ({codes})' if codes else ''}{ratio}")


def probe(stack: Stack, count: int, first: int, cts: int) -> dict:
    code = PROBE.replace("CTS", str(cts)).replace("FIRST", str(first)).replace("COUNT", str(count))
    return stack.py(code, timeout=1800)


def triage_line(name: str, result: dict, target: bool) -> str:
    times = result["times"]
    p95 = pct(times, .95) / 1000
    ok = times and p95 <= TARGET_TRIAGE_P95_S and not result["missing"]
    met = f"  target p95 <= {TARGET_TRIAGE_P95_S:g} s: {'met' if ok else 'NOT MET'}"
    return (f"    {name}: {len(times)} cases, p50 {pct(times, .5) / 1000:.2f} s  p95 {p95:.2f} s  max "
            f"{max(times, default=0):.2f} s; {result['behind']} submitted while a CT was processing, "
            f"{result['missing']} without triage in 60 s{met if target else ''}")


def triage_under_load(stack: Stack, port: int, people: list[dict]) -> tuple[list[str], Recorder | None]:
    """Submit to triage on the idle server, then under the mixed load and behind the CTs (the same probe)."""
    count = int(os.environ.get("BENCH_LOAD_TRIAGE_CASES", "20"))
    clients = int(os.environ.get("BENCH_LOAD_TRIAGE_CLIENTS", "32"))
    cts = int(os.environ.get("BENCH_LOAD_CTS", "1"))
    if count <= 0:
        return [], None
    stack.py(PREPARE, timeout=900)
    idle = probe(stack, count, 0, 0)
    loaded: dict = {}
    mixed, elapsed = phase(port, people, clients, 0, MIX,
                           during=lambda: loaded.update(probe(stack, count, count, cts)))
    total = sum(len(v) for v in mixed.samples.values())
    errors = sum(len(v) for v in mixed.errors.values())
    return ["  submit to triage (Case.submitted_at to the TriageProposal), cases submitted one after the other:",
            triage_line("idle server (same-run baseline)", idle, False),
            triage_line(f"under {clients} clients' mixed load ({total / elapsed:.1f} ops/s for {elapsed:.0f} s, "
                        f"errors {errors}) behind {cts} x 500-slice CT", loaded, True),
            f"    the CT{'s' if cts != 1 else ''} still processing when the last case was triaged: "
            f"{'yes' if loaded.get('ct_left') else 'no'}"], mixed


def bench_engine(name: str, stack: Stack, concurrencies: list[int], seconds: float, workers: int,
                 threads: int, phases: set[str] = PHASES) -> None:
    assert stack.konsil("manage", "createcachetable").returncode == 0
    people = stack.py(SEED.replace("USERS", str(max(concurrencies))).replace("STAFF", str(STAFF))
                      .replace("REVIEWS", str(REVIEWS)).replace("RECORDS", str(RECORDS)), timeout=900)
    web, port = start_web(stack, workers=workers, threads=threads)
    log = open(stack.home / "worker.log", "ab")  # noqa: SIM115 (kept open for the child)
    worker = subprocess.Popen([sys.executable, "-m", "konsil.cli", "worker"], env=stack.env, cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.procs.append(worker)  # as `konsil run` starts it: database lanes, or Celery with KONSIL_TASKS_BACKEND
    meter = {"web": web.pid, "worker": worker.pid}  # each with its descendants (bench/cpu.py)
    warm = warm_up(port, people, workers * threads)  # first requests (lazy start-up) out of the figures
    print(f"{name}: gunicorn {workers} workers x {threads} threads (gthread), {seconds:.0f} s per phase; "
          f"warm-up {sum(len(v) for v in warm.samples.values())} requests")
    created, records, errors = list(warm.created), list(warm.records), 0
    def settled(what: str) -> None:
        """The worker done with the records uploaded so far: a phase does not pay for the one before it."""
        done = stack.py(SETTLE, timeout=300)
        if done["seconds"] >= 1 or done["waiting"]:
            print(f"    (before {what}: the worker finished earlier uploads in {done['seconds']} s; "
                  f"{done['waiting']} still waiting)")

    for clients in concurrencies:
        settled("/healthz")
        base, base_elapsed = phase(port, people, clients, seconds, HEALTHZ, meter=meter)
        health = base.samples.get("healthz", [])
        base_rate = len(health) / base_elapsed
        errors += len(base.errors.get("healthz", []))
        print(f"  {clients} clients (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        print(line("/healthz", health, base.errors.get("healthz", []), base_elapsed))
        if base.cpu:
            print(base.cpu)
        if "mixed" in phases:
            settled("the mix")
            mixed, elapsed = phase(port, people, clients, seconds, MIX, meter=meter)
            created += mixed.created
            records += mixed.records
            total = sum(len(v) for v in mixed.samples.values())
            errors += sum(len(v) for v in mixed.errors.values())
            print(f"    mixed {total / elapsed:.1f} ops/s vs /healthz {base_rate:.1f} req/s "
                  f"({total / elapsed / base_rate:.2f}x)")
            for op, _w in MIX:
                print(line(op, mixed.samples.get(op, []), mixed.errors.get(op, []), elapsed, base_rate))
            if mixed.cpu:
                print(mixed.cpu)
        for name, mix, target in (("reads only", READS, 0.6), ("creation only", CREATES, 0.4)):  # the ratios
            if name.split()[0] not in phases:
                continue
            settled(name)
            alone, alone_elapsed = phase(port, people, clients, seconds, mix, meter=meter)
            created += alone.created
            samples = [t for op, _w in mix for t in alone.samples.get(op, [])]
            failed = [s for op, _w in mix for s in alone.errors.get(op, [])]
            errors += len(failed)
            print(line(name, samples, failed, alone_elapsed, base_rate) + f" (target {target}x)")
            if alone.cpu:
                print(alone.cpu)
            for op, _w in mix if len(mix) > 1 else ():
                print("  " + line(op, alone.samples.get(op, []), alone.errors.get(op, []), alone_elapsed))
    triage, loaded = triage_under_load(stack, port, people)
    print("\n".join(triage))
    if loaded is not None:
        created += loaded.created
        records += loaded.records
        errors += sum(len(v) for v in loaded.errors.values())
    stack.stop()
    if os.environ.get("BENCH_LOAD_WORKER_LOG"):
        print(stack.log("worker")[-6000:])
    counts = stack.py(COUNTS, timeout=900)
    missing_cases = set(created) - set(counts["cases"])
    missing_records = set(records) - set(counts["records"])
    print(f"  accounted: {len(created)} cases created (201), {len(missing_cases)} missing; {len(records)} records "
          f"(204), {len(missing_records)} missing; case.create audit events {counts['case_events']} for "
          f"{len(counts['cases'])} cases; audit trail of {counts['events']} events "
          f"{'verifies' if counts['verified'] else 'DOES NOT VERIFY'}; errors {errors}")


def pg_server() -> str | None:
    server = os.environ.get("BENCH_LOAD_PG", "postgres://postgres@127.0.0.1:5432")
    try:
        import psycopg

        psycopg.connect(f"{server}/postgres", connect_timeout=3).close()
    except Exception:
        return None
    return server


def main() -> None:
    seconds = float(os.environ.get("BENCH_LOAD_SECONDS", "10"))
    concurrencies = [int(v) for v in os.environ.get("BENCH_LOAD_CLIENTS", "8,32,64").split(",") if v]
    engines = os.environ.get("BENCH_LOAD_ENGINES", "sqlite,postgresql").split(",")
    workers = int(os.environ.get("BENCH_LOAD_WORKERS") or os.environ.get("KONSIL_WEB_WORKERS") or 2)
    threads = int(os.environ.get("BENCH_LOAD_THREADS") or os.environ.get("KONSIL_WEB_THREADS") or 4)
    phases = set(os.environ.get("BENCH_LOAD_PHASES", "mixed,reads,creation").split(",")) & PHASES
    rates = {"KONSIL_API_RATE": "100000000/hour"}  # the benchmark measures the server, not the throttle
    for knob in PASSED_ON:  # the stack drops the caller's KONSIL_ settings: these are passed on (baselines)
        if os.environ.get(knob):
            rates[knob] = os.environ[knob]
    with tempfile.TemporaryDirectory(prefix="konsil-bench-load-") as folder:
        template = migrated_template(Path(folder) / "template")
        if "sqlite" in engines:
            bench_engine("SQLite (embedded: database cache and task worker)",
                         Stack(Path(folder) / "sqlite", template, **rates), concurrencies, seconds,
                         workers, threads, phases)
        server = pg_server() if "postgresql" in engines else None
        if "postgresql" in engines and server is None:
            print("PostgreSQL: not reachable on 127.0.0.1; skipped")
        if server:
            name = f"konsil_bench_load_{uuid.uuid4().hex[:6]}"
            admin = ["psql", f"{server}/postgres", "-qc"]
            subprocess.run([*admin, f"CREATE DATABASE {name}"], check=True)
            redis = None
            try:
                redis = Redis(Path(folder) / "redis").start()
                pool = os.environ.get("KONSIL_DB_POOL", "2:8")
                stack = Stack(Path(folder) / "pg", template, DATABASE_URL=f"{server}/{name}", **rates,
                              KONSIL_DB_POOL=pool, KONSIL_REDIS_URL=redis.url, KONSIL_TASKS_BACKEND="celery")
                done = stack.konsil("manage", "migrate", "-v0", timeout=1800)
                assert done.returncode == 0, done.stderr[-2000:]
                bench_engine(f"PostgreSQL (pool {pool}, Redis cache and sessions, Celery on Redis)", stack,
                             concurrencies, seconds, workers, threads, phases)
            finally:
                if redis is not None:
                    redis.stop()
                subprocess.run([*admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)



if __name__ == "__main__":
    main()
