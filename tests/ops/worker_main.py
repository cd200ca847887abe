"""A worker process for the fault tests: `konsil worker` with an optional pause in the first run of some work.

KONSIL_TEST_SLOW=triage pauses right after the triage proposal and its audit event are written (inside the task's
transaction); =imaging pauses after a study's instances are stored (before the record is marked ready). The pause
happens once (a marker file says it happened), so the worker started after a kill -9 runs the work through.
=hold keeps every record processing until a file named `release` appears beside the marker.
"""

import os
import sys
import time
from pathlib import Path

import django

django.setup()

SLOW, MARKER = os.environ.get("KONSIL_TEST_SLOW", ""), Path(os.environ.get("KONSIL_TEST_MARKER", "/nonexistent"))


def pause_once():
    if not MARKER.exists():
        MARKER.write_text(str(os.getpid()))
        time.sleep(120)


def slowed(original):
    def run(*args, **kwargs):
        value = original(*args, **kwargs)
        pause_once()
        return value

    return run


if "triage" in SLOW:
    from konsil.triage import services

    services.propose = slowed(services.propose)
if "imaging" in SLOW:
    from konsil.records import processing

    for kind in ("dicom", "zip"):
        processing.HANDLERS[kind] = slowed(processing.HANDLERS[kind])
if "hold" in SLOW:  # every record waits for a release file (a long CT), to prove urgent work does not wait
    from konsil.records import processing

    def held(original):
        def run(*args, **kwargs):
            release = MARKER.with_name("release")
            deadline = time.monotonic() + 600
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            return original(*args, **kwargs)

        return run

    for kind in list(processing.HANDLERS):
        processing.HANDLERS[kind] = held(processing.HANDLERS[kind])

from django.conf import settings  # noqa: E402

if settings.TASKS["default"]["BACKEND"].endswith("CeleryBackend"):
    from konsil.ops.celery_app import app
    from konsil.ops.queues import lane_queues

    queues = ",".join(lane_queues(sys.argv[1] if len(sys.argv) > 1 else "urgent,bulk"))
    app.worker_main(["worker", "-P", "solo", "-Q", queues, "--without-gossip", "--without-mingle",
                     "--hostname", f"test-{os.getpid()}@%h", "--loglevel", "INFO"])
else:
    from konsil.ops.worker import run_database_lanes

    lanes = (sys.argv[1] if len(sys.argv) > 1 else "urgent,bulk").split(",")
    sys.exit(run_database_lanes(lanes, concurrency=1, interval=0.2))
