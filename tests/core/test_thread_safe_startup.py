"""Lazy start-up work is safe under gunicorn threads: the first requests may arrive together (issue #11)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
