"""bench/cpu.py: the load benchmark's CPU per request counts a server's descendant processes with it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import cpu  # noqa: E402

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

BURN = """
import time
end = time.process_time() + 0.4
while time.process_time() < end:
    pass
"""
# a parent that starts two children, one in a process group of its own (as the supervisor starts Celery's lanes)
# that lives on, one that ends and is reaped (its seconds then count in the parent's); all three burn
PARENT = f"""
import subprocess, sys, time
alive = subprocess.Popen([sys.executable, "-c", {BURN + "time.sleep(30)"!r}], process_group=0)
subprocess.run([sys.executable, "-c", {BURN!r}])
{BURN}
time.sleep(30)
"""


def test_a_root_is_charged_with_its_descendants_cpu():
    root = subprocess.Popen([sys.executable, "-c", PARENT])
    try:
        before = {"server": 0.0}
        deadline = time.monotonic() + 20
        after = cpu.sample({"server": root.pid})
        while after["server"] < 1.15 and time.monotonic() < deadline:
            time.sleep(0.1)
            after = cpu.sample({"server": root.pid})
        assert after["server"] >= 1.15  # 0.4 s each
        assert set(after) == {"server", "database", "load generator"}
        line = cpu.per_request(before, after, 100, 1.0)
        assert any(f"server {ms}." in line for ms in range(11, 20))
        assert "CPUs)" in line
    finally:
        subprocess.run(["pkill", "-KILL", "-P", str(root.pid)], check=False)
        root.kill()
        root.wait()


def test_nothing_to_say_without_requests():
    assert cpu.per_request({"web": 0.0}, {"web": 1.0, "load generator": 0.1}, 0, 1.0) == ""
