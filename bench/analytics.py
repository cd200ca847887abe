"""Analytics benchmark (make bench-analytics): the page's figures over 100,000 cases on SQLite and 1,000,000 on
PostgreSQL (DATABASE_URL), with a same-run baseline.

What is timed: `measures.summary()` (every figure of the page) for the default view (last 12 months), all time,
oncology in the last 12 months, one state and a sponsor's suppressed view, answered from the cells (cube.py: month,
quarter and year cells, pooled across sponsors and programs; the facts of months a period cuts), and the same views
once each on the fact path (one GROUPING SETS pass on PostgreSQL, one scan elsewhere); the whole page through
Django's test client (template, audit event); the cells' full rebuild and the refresh after one changed case.
Baselines, same run: `SELECT COUNT(*)` over the fact table and reading every fact row once.

The facts are exact as of each refresh (rollup.refresh: every case whose sources changed since the last watermark
is rebuilt whole; the clock runs it every 5 minutes); the same refresh rebuilds the cells of the months it
touched, then their quarters and years, so the cells are exact as of the same watermark. Refresh throughput is
measured on real history cases (`seed --history`); the rest of the N facts are bulk-loaded with the same
distributions, with foreign-key checks off for the load only (building a million real cases with encrypted
identities takes longer than the query side this benchmark is about). Writes bench/results-analytics.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).with_name("results-analytics.md")


def setup_django() -> None:
    os.environ.setdefault("KONSIL_HOME", tempfile.mkdtemp(prefix="konsil-bench-analytics-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konsil.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)


def timed(fn, repeat: int = 5) -> dict:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        runs.append(time.perf_counter() - start)
    return {"best": min(runs), "median": statistics.median(runs), "value": value}


def world(specialists: int):
    """A network, a leader, a sponsor and its admin, and licensed specialists (their states by population)."""
    from konsil.accounts.models import Membership, Organization, User
    from konsil.core import geo
    from konsil.matching.models import License, Specialist, Specialty

    network = Organization.objects.create(name="Bench Network", slug="bench-network", kind="provider_network")
    sponsor = Organization.objects.create(name="Bench Employer", slug="bench-employer", kind="employer")
    leader = User.objects.create_user("leader@bench.invalid", "x")
    Membership.objects.create(user=leader, organization=network, role="org_admin")
    admin = User.objects.create_user("sponsor@bench.invalid", "x")
    Membership.objects.create(user=admin, organization=sponsor, role="employer_admin")
    rng = np.random.default_rng(7)
    states = [s for s in geo.states().values() if s.is_state]
    weights = np.array([s.population for s in states], dtype=float)
    weights /= weights.sum()
    codes = list(Specialty.objects.values_list("code", flat=True))
    users = User.objects.bulk_create([User(email=f"s{i}@bench.invalid", username=f"s{i}@bench.invalid")
                                      for i in range(specialists)])
    people = Specialist.objects.bulk_create([Specialist(
        user=u, network=network, npi=f"{1000000000 + i}", languages=["en", "es"] if i % 5 == 0 else ["en"],
        capacity=int(rng.integers(2, 15)), turnaround_hours=int(rng.choice([48, 72, 96])))
        for i, u in enumerate(users)])
    through = Specialist.specialties.through
    through.objects.bulk_create([through(specialist_id=p.pk, specialty_id=codes[i % len(codes)])
                                 for i, p in enumerate(people)])
    licences = []
    for p in people:
        for k in set(rng.choice(len(states), size=3, p=weights)):
            licences.append(License(specialist=p, state=states[k].usps, number=f"L{p.npi}{k}",
                                    expires_on=dt.date.today() + dt.timedelta(days=365)))
    License.objects.bulk_create(licences)
    return network, sponsor, leader, admin


def synthetic_facts(n: int, network, sponsor, today: dt.date):
    """N fact rows with the history seeder's distributions (numpy, for the bulk load)."""
    from konsil.analytics import history, rollup
    from konsil.core import geo

    rng = np.random.default_rng(11)
    groups = rollup._specialty_groups()
    states = [s for s in geo.states().values() if s.is_state]
    pw = np.array([s.population for s in states], dtype=float)
    pw /= pw.sum()

    def pick(weights: dict, size):
        keys = list(weights)
        p = np.array(list(weights.values()), dtype=float)
        return np.array(keys)[rng.choice(len(keys), size=size, p=p / p.sum())]

    specialties = {k: v for k, v in history.SPECIALTIES.items() if k in groups}
    age = (history.MONTHS * 30.4 * (1 - rng.random(n) ** 0.8)).astype(int)
    submitted = [today - dt.timedelta(days=int(a)) for a in age]
    cols = {
        "state": np.array([s.usps for s in states])[rng.choice(len(states), size=n, p=pw)],
        "specialty": pick(specialties, n), "channel": pick(history.CHANNELS, n),
        "urgency": pick(history.URGENCY, n), "language": pick(history.LANGUAGES, n),
        "delivery": pick(history.DELIVERY, n), "dx": pick({**history.DIAGNOSIS, "": 30}, n),
        "tx": pick({**history.TREATMENT, "": 30}, n),
        "rucc": rng.choice(np.arange(1, 10), size=n, p=[.3, .25, .15, .06, .05, .06, .05, .04, .04]),
        "tat": (rng.lognormal(0, 0.8, size=(5, n)) * np.array([[180], [300], [480], [2800], [3800]])).astype(int),
        "reached": rng.integers(0, 6, size=n), "offers": rng.geometric(0.78, size=n),
        "declined": rng.random(n) < 0.12, "expired": rng.random(n) < 0.08, "agreed": rng.random(n) < 0.86,
        "breached": rng.random(n) < 0.09, "nps": rng.integers(0, 11, size=n), "followed": rng.random(n) < 0.4,
        "cost": -rng.integers(0, 40000, size=n),
    }
    now = dt.datetime.now(dt.UTC)
    sponsor_id = sponsor.pk
    for i in range(n):
        reached = int(cols["reached"][i])
        tats = [int(cols["tat"][k][i]) if reached > k else None for k in range(4)]
        total = sum(tats) if reached >= 4 else None
        channel = str(cols["channel"][i])
        spec = str(cols["specialty"][i])
        yield (uuid.uuid4(), network.pk, sponsor_id if channel == "employer" else None, None, submitted[i],
               submitted[i].replace(day=1), spec, groups.get(spec, spec), channel, str(cols["urgency"][i]),
               str(cols["delivery"][i]), str(cols["language"][i]), False, str(cols["state"][i]), "",
               int(cols["rucc"][i]), "delivered" if total else "in_review", *tats, total, bool(cols["breached"][i]),
               int(cols["offers"][i]), int(cols["declined"][i]), int(cols["expired"][i]), bool(cols["agreed"][i]),
               str(cols["dx"][i]) if total else "", str(cols["tx"][i]) if total else "",
               bool(cols["followed"][i]) if total else None, None,
               int(cols["cost"][i]) if total and cols["followed"][i] else None,
               int(cols["nps"][i]) if total else None, now)


COLUMNS = ["case_id", "network_id", "sponsor_id", "program", "submitted_on", "month", "specialty", "specialty_group",
           "channel", "urgency", "delivery", "language", "interpreter", "state", "county", "rucc", "status",
           "tat_triage", "tat_offer", "tat_accept", "tat_deliver", "tat_total", "breached", "offers_made",
           "offers_declined", "offers_expired", "triage_agreed", "diagnosis_verdict", "treatment_verdict",
           "plan_changed", "procedure_avoided", "cost_difference", "nps", "refreshed_at"]


def _weighted(weights: dict, size: int = 1000) -> str:
    """A PostgreSQL array literal in which each key appears in proportion to its weight."""
    total = sum(weights.values())
    items = [k for k, w in weights.items() for _ in range(max(1, round(size * w / total)))]
    return "ARRAY[" + ", ".join("'" + str(k).replace("'", "") + "'" for k in items) + "]"


def bulk_load_postgres(n: int, network, sponsor) -> None:
    """N synthetic facts generated inside PostgreSQL (generate_series), the history seeder's distributions."""
    from django.db import connection

    from konsil.analytics import history, rollup
    from konsil.analytics.models import CaseFact
    from konsil.core import geo

    groups = rollup._specialty_groups()
    specialties = {k: v for k, v in history.SPECIALTIES.items() if k in groups}
    states = {s.usps: s.population for s in geo.states().values() if s.is_state}
    pick = "({arr})[1 + floor(random() * array_length({arr}, 1))::int]"
    lognormal = "exp(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) * 0.8)"
    table = CaseFact._meta.db_table
    sql = f"""
      INSERT INTO {table} ({', '.join(COLUMNS)})
      SELECT gen_random_uuid(), %(network)s::uuid, CASE WHEN channel = 'employer' THEN %(sponsor)s::uuid END, NULL,
             day, date_trunc('month', day)::date, specialty, COALESCE(({_groups(groups)})::jsonb ->> specialty,
             specialty), channel, urgency, delivery, language, false, state, '', rucc,
             CASE WHEN reached >= 4 THEN 'delivered' ELSE 'in_review' END,
             CASE WHEN reached > 0 THEN t1 END, CASE WHEN reached > 1 THEN t2 END, CASE WHEN reached > 2 THEN t3 END,
             CASE WHEN reached > 3 THEN t4 END, CASE WHEN reached > 3 THEN t1 + t2 + t3 + t4 END,
             random() < 0.09, 1 + floor(-ln(1 - random()) * 0.3)::int, (random() < 0.12)::int,
             (random() < 0.08)::int, random() < 0.86,
             CASE WHEN reached > 3 THEN {pick.format(arr=_weighted(history.DIAGNOSIS, 100))} ELSE '' END,
             CASE WHEN reached > 3 THEN {pick.format(arr=_weighted(history.TREATMENT, 100))} ELSE '' END,
             CASE WHEN reached > 3 AND followed THEN random() < 0.4 END, NULL,
             CASE WHEN reached > 3 AND followed THEN -floor(random() * 40000) END,
             CASE WHEN reached > 3 AND followed THEN floor(random() * 11)::int END, now()
      FROM (SELECT current_date - floor({history.MONTHS} * 30.4 * (1 - power(random(), 0.8)))::int AS day,
                   {pick.format(arr=_weighted(specialties))} AS specialty,
                   {pick.format(arr=_weighted(history.CHANNELS, 100))} AS channel,
                   {pick.format(arr=_weighted(history.URGENCY, 100))} AS urgency,
                   {pick.format(arr=_weighted(history.DELIVERY, 100))} AS delivery,
                   {pick.format(arr=_weighted(history.LANGUAGES, 200))} AS language,
                   {pick.format(arr=_weighted(states, 2000))} AS state,
                   ({pick.format(arr="ARRAY[1,1,1,1,1,2,2,2,2,2,3,3,3,4,4,5,6,7,8,9]")})::smallint AS rucc,
                   floor(random() * 6)::int AS reached, random() < 0.5 AS followed,
                   ({lognormal} * 180)::int AS t1, ({lognormal} * 300)::int AS t2,
                   ({lognormal} * 480)::int AS t3, ({lognormal} * 2800)::int AS t4
            FROM generate_series(1, %(n)s)) AS r
    """
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK check for the synthetic rows
        cursor.execute(sql, {"network": str(network.pk), "sponsor": str(sponsor.pk), "n": n})
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute(f"VACUUM ANALYZE {table}")


def _groups(groups: dict) -> str:
    import json

    return "'" + json.dumps(groups).replace("'", "") + "'"


def bulk_load(rows) -> None:
    from django.db import connection

    from konsil.analytics.models import CaseFact

    table = CaseFact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys = OFF")
        batch = []
        sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
        for row in rows:
            batch.append([v.hex if isinstance(v, uuid.UUID) else v for v in row])
            if len(batch) == 20000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("ANALYZE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=None, help="facts in all (default 1,000,000 on PostgreSQL, "
                                                                 "100,000 on SQLite)")
    parser.add_argument("--history", type=int, default=3000, help="real cases to time the refresh with")
    parser.add_argument("--specialists", type=int, default=600)
    parser.add_argument("--reuse", action="store_true", help="keep the world and facts an earlier run left in this "
                        "database (skips the refresh-throughput part)")
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.db.models import Count, Max
    from django.test import Client
    from django.utils import timezone

    from konsil.analytics import measures, rollup
    from konsil.analytics.measures import Filters, Scope
    from konsil.analytics.models import CaseFact

    engine = connection.vendor
    n = args.cases or (1_000_000 if engine == "postgresql" else 100_000)
    print(f"engine {engine}, {n:,} cases, {os.cpu_count()} CPUs, {platform.python_version()}", flush=True)
    today = timezone.localdate()
    # past the watermark's overlap (and past an earlier run's clock, when reused): nothing changed since
    latest = rollup.Refresh.objects.aggregate(at=Max("started_at"))["at"]
    later = max(filter(None, (timezone.now(), latest))) + dt.timedelta(minutes=10)
    from konsil.accounts.models import Organization, User
    from konsil.cases.models import Case

    if args.reuse and CaseFact.objects.count() >= n and Organization.objects.filter(slug="bench-network").exists():
        network = Organization.objects.get(slug="bench-network")
        sponsor = Organization.objects.get(slug="bench-employer")
        leader = User.objects.get(email="leader@bench.invalid")
        refresh_figures = None
        print(f"reusing {CaseFact.objects.count():,} facts", flush=True)
    else:
        network, sponsor, leader, _admin = world(args.specialists)
        refresh_figures = refresh_throughput(args, network, later)
        start = time.perf_counter()
        if engine == "postgresql":
            bulk_load_postgres(n - CaseFact.objects.count(), network, sponsor)
        else:
            bulk_load(synthetic_facts(n - CaseFact.objects.count(), network, sponsor, today))
        print(f"bulk load to {CaseFact.objects.count():,} facts in {time.perf_counter() - start:.0f} s", flush=True)
    from konsil.analytics import cube
    from konsil.analytics.models import Cell

    start = time.perf_counter()
    cells = cube.rebuild()
    rebuilt = time.perf_counter() - start
    print(f"cells: full rebuild {rebuilt:.1f} s, {cells:,} cells", flush=True)
    # the clock's incremental refresh with N facts: a case changed this month rebuilds this month's cells only
    rollup.refresh(now=later + dt.timedelta(minutes=45))  # past the 100 changed cases' overlap
    recent = Case.objects.order_by("-submitted_at").values_list("pk", flat=True)[:1]
    Case.objects.filter(pk__in=list(recent)).update(updated_at=later + dt.timedelta(minutes=60))
    start = time.perf_counter()
    rollup.refresh(now=later + dt.timedelta(minutes=61))
    one_month = time.perf_counter() - start
    print(f"refresh of 1 changed case (its month's, quarter's and year's cells rebuilt) {one_month:.2f} s",
          flush=True)
    spans = dict(Cell.objects.values_list("span").annotate(n=Count("id")).values_list("span", "n"))
    cube_figures = {"rebuild": rebuilt, "cells": cells, "one_month": one_month, "spans": spans,
                    "cell_rows": Cell.objects.count(), "pooled": Cell.objects.filter(pooled=True).count()}
    print(f"cells by span {spans}, pooled {cube_figures['pooled']:,}", flush=True)

    leader_scope = Scope(kind="network", name="b", networks=(network.pk,))
    last12 = dict(start=today.replace(day=1) - dt.timedelta(days=334), end=today)
    cases = {
        "baseline: SELECT COUNT(*) over the facts": lambda: _count(connection),
        "baseline: read every fact row once (SELECT *)": lambda: _read_all(connection),
        "summary, all time": lambda: measures.summary(leader_scope, Filters()),
        "summary, last 12 months": lambda: measures.summary(leader_scope, Filters(**last12)),
        "summary, oncology, last 12 months": lambda: measures.summary(
            leader_scope, Filters(specialty="medical_oncology", **last12)),
        "summary, one state (TX), all time": lambda: measures.summary(leader_scope, Filters(state="TX")),
        "summary, sponsor view (suppressed), 12 months": lambda: measures.summary(
            Scope(kind="sponsor", name="s", sponsors=(sponsor.pk,), suppress=True), Filters(**last12)),
    }
    slow = {  # the fact-row path the cells replace: once each (minutes on a million rows)
        "fact path: summary, all time": lambda: measures.summary(leader_scope, Filters(), source="facts"),
        "fact path: summary, last 12 months": lambda: measures.summary(leader_scope, Filters(**last12),
                                                                       source="facts"),
        "fact path: summary, oncology, last 12 months": lambda: measures.summary(
            leader_scope, Filters(specialty="medical_oncology", **last12), source="facts"),
        "fact path: summary, one state (TX), all time": lambda: measures.summary(
            leader_scope, Filters(state="TX"), source="facts"),
        "fact path: summary, sponsor view (suppressed), 12 months": lambda: measures.summary(
            Scope(kind="sponsor", name="s", sponsors=(sponsor.pk,), suppress=True), Filters(**last12),
            source="facts"),
        "cells + facts of cut months: 15 Jan 2026 .. 20 Feb 2026 (whole months in between from cells)":
            lambda: measures.summary(leader_scope, Filters(start=today.replace(day=15) - dt.timedelta(days=300),
                                                           end=today.replace(day=20) - dt.timedelta(days=250))),
        "fact path (two sliced filters): oncology in TX, last 12 months": lambda: measures.summary(
            leader_scope, Filters(specialty="medical_oncology", state="TX", **last12)),
    }
    client = Client()
    _verified(client, leader)
    from django.core.cache import cache

    from konsil.analytics import selectors

    CaseFact.objects.filter(pk__in=CaseFact.objects.values("pk")[:1]).update(refreshed_at=timezone.now())
    rollup.Refresh.objects.create(started_at=timezone.now(), finished_at=timezone.now(), cases=1,
                                  watermark=timezone.now())  # a new generation: nothing cached
    cases["the page, first view after a refresh (computed)"] = lambda: (cache.clear(), _page(client))
    cases["the page (HTTP, template, audit), opening view, warmed at refresh"] = lambda: _page(client)
    cases["the page, oncology, last 12 months (computed)"] = lambda: (
        cache.clear(), _page(client, "?period=12m&specialty=medical_oncology"))
    summary = measures.summary(leader_scope, Filters(**last12))
    cases["template only: page.html with the opening view's figures"] = lambda: _render(summary, leader)
    results = {}
    for label, fn in slow.items():
        results[label] = timed(fn, repeat=1)
        print(f"{label:<62} {results[label]['best'] * 1000:7.0f} ms", flush=True)
    for label, fn in cases.items():
        if "warmed" in label:
            cache.clear()
            start = time.perf_counter()
            warmed = selectors.warm()
            print(f"warm after refresh: {warmed} opening views in {time.perf_counter() - start:.2f} s", flush=True)
        elif "computed" not in label:
            fn()  # warm the database's caches
        results[label] = timed(fn)
        print(f"{label:<62} best {results[label]['best'] * 1000:7.0f} ms   median "
              f"{results[label]['median'] * 1000:7.0f} ms", flush=True)
    same = {view: results[f"summary, {view}"]["value"] == results[f"fact path: summary, {view}"]["value"]
            for view in ("all time", "last 12 months", "oncology, last 12 months", "one state (TX), all time",
                         "sponsor view (suppressed), 12 months")}
    print(f"cells and fact path give the same figures: {same}", flush=True)
    write(engine, n, results, refresh_figures, cube_figures, same)
    return 0


def refresh_throughput(args, network, later) -> dict:
    """Real history cases: seeded, refreshed in full, an idle refresh, 100 changed cases."""
    from konsil.analytics import history, rollup
    from konsil.cases.models import Case

    start = time.perf_counter()
    history.seed_history(args.history, network=network)
    seeded = time.perf_counter() - start
    start = time.perf_counter()
    run = rollup.refresh(full=True)
    full_refresh = time.perf_counter() - start
    rollup.refresh(now=later)
    idle = timed(lambda: rollup.refresh(now=later + dt.timedelta(minutes=10)), repeat=3)
    ids = list(Case.objects.values_list("pk", flat=True)[:100])
    Case.objects.filter(pk__in=ids).update(updated_at=later + dt.timedelta(minutes=30))
    start = time.perf_counter()
    rollup.refresh(now=later + dt.timedelta(minutes=31))
    hundred = time.perf_counter() - start
    print(f"history: {args.history:,} real cases seeded in {seeded:.1f} s; full refresh {full_refresh:.2f} s "
          f"({run.cases / full_refresh:,.0f} cases/s); idle refresh {idle['median'] * 1000:.0f} ms; "
          f"100 changed cases {hundred * 1000:.0f} ms", flush=True)
    return {"seeded": seeded, "full": full_refresh, "cases": run.cases, "idle": idle, "hundred": hundred}


def _count(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM analytics_casefact")
        cursor.fetchone()


def _verified(client, user) -> None:
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def _read_all(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM analytics_casefact")
        cursor.fetchall()


def _render(summary, user) -> None:
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from konsil.analytics import inputs, views
    from konsil.analytics.measures import Scope

    form = inputs.FilterForm({"period": "12m"})
    form.is_valid()
    request = RequestFactory().get("/analytics/")
    request.user = user
    request.session = {}
    render_to_string("analytics/page.html", {
        "form": form, "scope": Scope(kind="network", name="Bench Network"), "programs": [],
        "s": summary, "query": "", "csv_url": "", "pdf_url": "",
        "charts": views._charts(summary), "stage_labels": views.STAGE_LABELS,
        "verdict_labels": views.verdict_labels()}, request=request)


def _page(client, query: str = "") -> None:
    response = client.get("/analytics/" + query)
    if response.status_code != 200:
        raise SystemExit(f"page answered {response.status_code}")


def write(engine, n, results, refreshed, cube_figures, same) -> None:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    out = io.StringIO()
    out.write(f"\n## {dt.date.today()} · {engine} · {n:,} cases · {os.cpu_count()} CPUs (shared machine) · "
              f"load average at the end {load}\n\n")
    if refreshed:
        out.write(f"Refresh: {refreshed['cases']:,} real history cases seeded in {refreshed['seeded']:.1f} s; full "
                  f"refresh {refreshed['full']:.2f} s ({refreshed['cases'] / refreshed['full']:,.0f} cases/s); an "
                  f"idle refresh {refreshed['idle']['median'] * 1000:.0f} ms; 100 changed cases "
                  f"{refreshed['hundred'] * 1000:.0f} ms.\n\n")
    spans = ", ".join(f"{v:,} {k}" for k, v in sorted(cube_figures["spans"].items()))
    out.write(f"Cells (cube.py): full rebuild {cube_figures['rebuild']:.1f} s, {cube_figures['cell_rows']:,} cells "
              f"({spans}; {cube_figures['pooled']:,} pooled); the clock's refresh after 1 changed case (its month, "
              f"quarter and year rebuilt) {cube_figures['one_month']:.2f} s.\n\n")
    out.write("Cells and fact path give the same figures (every key of the summary): "
              + ", ".join(f"{view} {'yes' if ok else 'NO'}" for view, ok in same.items()) + ".\n\n")
    out.write("| what | best (ms) | median (ms; of 5, of 1 for the fact path) |\n|---|---:|---:|\n")
    for label, r in results.items():
        out.write(f"| {label} | {r['best'] * 1000:.0f} | {r['median'] * 1000:.0f} |\n")
    with RESULTS.open("a", encoding="utf-8") as fh:
        if fh.tell() == 0:
            fh.write("# Analytics benchmark results (bench/analytics.py)\n")
        fh.write(out.getvalue())
    print(out.getvalue())


if __name__ == "__main__":
    sys.exit(main())
