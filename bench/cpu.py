"""CPU time of a load benchmark's processes, read from /proc (Linux; elsewhere there is none to read).

Throughput on a shared two-core machine moves 12-15% between runs of the same code (bench/results-load.md), more
than most changes move it. The CPU seconds each part spends per request do not depend on how fast the machine
ran that minute: the web server and the task worker (each process with all its descendants: gunicorn's workers,
the supervised Celery lanes and their pool), the PostgreSQL server (its processes, by name) and the load generator
(this process).
"""

from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _processes():
    """(pid, name, parent pid, CPU seconds) of every process /proc lists."""
    try:
        entries = list(os.scandir("/proc"))
    except OSError:
        return
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:  # it exited meanwhile
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        # ppid; utime + stime, and cutime + cstime: the children it has reaped (a gunicorn worker that was replaced,
        # a PostgreSQL backend that ended) stay counted
        yield int(entry.name), name, int(rest[1]), sum(int(v) for v in rest[11:15]) / TICK


def sample(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process and its descendants, of the PostgreSQL server and of this
    process."""
    processes = list(_processes())
    parent = {pid: ppid for pid, _name, ppid, _seconds in processes}
    owner = {pid: name for name, pid in roots.items()}

    def root_of(pid: int) -> str | None:
        for _ in range(64):  # a bounded walk up the tree
            if pid in owner:
                return owner[pid]
            pid = parent.get(pid, 0)
            if pid <= 1:
                return None
        return None

    totals = dict.fromkeys([*roots, "database"], 0.0)
    for pid, name, _ppid, seconds in processes:
        root = root_of(pid)
        if root is not None:
            totals[root] += seconds
        elif name.startswith("postgres"):
            totals["database"] += seconds
    own = os.times()
    totals["load generator"] = own.user + own.system
    return totals


def per_request(before: dict[str, float], after: dict[str, float], requests: int, elapsed: float) -> str:
    """One line: CPU ms per request of each part, and how busy the machine's CPUs were."""
    if not requests or not any(after.values()):
        return ""
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    parts = ", ".join(f"{name} {seconds * 1000 / requests:.2f}" for name, seconds in spent.items())
    busy = sum(spent.values()) / (elapsed * (os.cpu_count() or 1))
    return f"      CPU ms per request: {parts} ({busy:.0%} of {os.cpu_count()} CPUs)"
