"""Konsil benchmarks: print figures and ratios against a same-run baseline."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time


def setup_django() -> None:
    os.environ.setdefault("KONSIL_HOME", tempfile.mkdtemp(prefix="konsil-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konsil.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_audit(n: int = 2000) -> None:
    from django.db import connection, transaction

    from konsil.audit.services import emit, emit_many, verify

    def chained():
        with transaction.atomic():
            for i in range(n):
                emit(actor="bench", action="bench.write", object_type="bench", object_id=str(i))

    def plain():
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_plain (a text, b text, c text)")
            for i in range(n):
                cur.execute("INSERT INTO bench_plain VALUES (%s, %s, %s)", ["bench", "bench.write", str(i)])

    def batched():  # a list page: 50 events under one lock and one insert
        for start in range(0, n, 50):
            emit_many(actor="bench", events=[{"action": "bench.list", "object_type": "bench", "object_id": str(i)}
                                             for i in range(start, start + 50)])

    reads = n // 4

    def per_request():  # an audited read: one event per call, in autocommit, chained at once
        for i in range(reads):
            emit(actor="bench", action="bench.read", object_type="bench", object_id=str(i))

    def plain_per_request():
        with connection.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_plain (a text, b text, c text)")
            for i in range(reads):
                cur.execute("INSERT INTO bench_plain VALUES (%s, %s, %s)", ["bench", "bench.read", str(i)])

    t_chain, t_plain, t_batch = timed(chained, 1), timed(plain, 1), timed(batched, 1)
    print(f"audit emit: {n / t_chain:,.0f} events/s one by one, {n / t_batch:,.0f} events/s in pages of 50 "
          f"vs {n / t_plain:,.0f} rows/s plain insert (ratios {t_chain / t_plain:.1f}x and {t_batch / t_plain:.1f}x)")
    cpu = time.thread_time()  # what the web worker spends (the server is CPU-bound under load), beside the wall
    t_read = timed(per_request, 3)
    cpu = (time.thread_time() - cpu) / 3
    t_plain_read = timed(plain_per_request, 3)
    print(f"audit emit, one per request (autocommit): {reads / t_read:,.0f} events/s vs {reads / t_plain_read:,.0f} "
          f"rows/s plain autocommit insert ({t_read / t_plain_read:.1f}x); per audited request "
          f"{1000 * t_read / reads:.2f} ms wall, {1000 * cpu / reads:.2f} ms CPU of the worker")
    t_verify = timed(verify, 1)
    total = verify().verified
    print(f"audit verify: {total:,} events in {t_verify:.2f} s ({total / t_verify:,.0f} events/s)")


def bench_scoped_list(n_cases: int = 400) -> None:
    from tests.factories import OrganizationFactory, make_draft, make_user

    from konsil.accounts.roles import Role
    from konsil.cases.models import Case
    from konsil.cases.selectors import cases_for

    network = OrganizationFactory()
    coordinator = make_user(Role.COORDINATOR, network)
    for _ in range(n_cases // 20):
        patient = make_user(Role.PATIENT, network)
        for _ in range(20):
            make_draft(network, patient, consent=False)

    def scoped():
        list(cases_for(coordinator)[:50])

    def unscoped():
        list(Case.objects.select_related("patient", "specialty", "assigned_specialist__user", "network")[:50])

    t_s, t_u = timed(scoped, 20), timed(unscoped, 20)
    print(f"case list (50 of {n_cases}): scoped {t_s * 1000:.1f} ms vs unscoped {t_u * 1000:.1f} ms "
          f"(ratio {t_s / t_u:.1f}x)")


def bench_crypto(size: int = 8 * 1024 * 1024) -> None:
    from konsil.core import crypto

    data = os.urandom(size)
    sealed = crypto.encrypt(data, aad=b"x")
    t_enc = timed(lambda: crypto.encrypt(data, aad=b"x"))
    t_dec = timed(lambda: crypto.decrypt(sealed, aad=b"x"))
    t_sha = timed(lambda: hashlib.sha256(data).digest())
    mb = size / 1e6
    print(f"file encryption: encrypt {mb / t_enc:,.0f} MB/s, decrypt {mb / t_dec:,.0f} MB/s, "
          f"sha256 baseline {mb / t_sha:,.0f} MB/s (encrypt/sha256 time ratio {t_enc / t_sha:.2f}x)")


def main() -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [root, os.path.join(root, "src")]  # this checkout's code (a worktree's, for a baseline)
    setup_django()
    bench_crypto()
    bench_audit()
    bench_scoped_list()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
