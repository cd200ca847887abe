"""DICOM listener benchmark: dcmtk's storescu pushes an N-slice CT (512 x 512) to the C-STORE SCP; the time until
the study is in its case (one record, indexed, encrypted) and the process's peak RSS. Needs dcmtk.

    .venv/bin/python bench/dicom_listener.py 100 500
"""

from __future__ import annotations

import io
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import setup_django  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_push(case, slices: int) -> None:
    import pydicom

    from konsil.records import dimse, synthetic
    from konsil.records.models import Study

    folder = Path(tempfile.mkdtemp(prefix="konsil-bench-dicom-"))
    for i, data in enumerate(synthetic.ct_series(slices, size=512, seed=slices)):
        ds = pydicom.dcmread(io.BytesIO(data))
        ds.AccessionNumber = case.reference
        ds.save_as(folder / f"IM{i:05d}.dcm", enforce_file_format=True)
    config = dimse.Config(port=_port())
    server = dimse.start(config)
    try:
        start = time.perf_counter()
        result = subprocess.run(["storescu", "-aec", config.ae_title, "+sd", "127.0.0.1", str(config.port),
                                 str(folder)], capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    finally:
        server.shutdown()
    stored = sum(s.instance_count for study in Study.objects.filter(case=case) for s in study.series.all())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # includes generating the series here
    print(f"{slices:5d} slices pushed by storescu: {elapsed:6.1f} s ({slices / elapsed:5.1f} slices/s), "
          f"{stored} indexed in the case, storescu exit {result.returncode}, peak RSS {peak:.0f} MiB")


def main() -> None:
    import logging

    setup_django()
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    from records import _world

    for slices in [int(a) for a in sys.argv[1:]] or [100]:
        case, _patient = _world()
        bench_push(case, slices)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
