"""A throwaway Konsil installation for tests that run real worker processes, brokers and storage servers.

Each `Stack` has its own KONSIL_HOME (keys, a migrated SQLite file copied from a template, or its own
PostgreSQL database) and runs Python snippets, workers and the clock as separate processes, like a deployment.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
HELPER = Path(__file__).with_name("worker_main.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.3, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def base_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KONSIL_", "PYTEST", "DATABASE_URL"))}
    env.update({"KONSIL_HOME": str(home), "DJANGO_SETTINGS_MODULE": "konsil.settings", "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", "KONSIL_DICOM_PORT": "0",
                "KONSIL_LOG_LEVEL": "WARNING", "KONSIL_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"})
    env.update(extra)
    return env


def migrated_template(folder: Path) -> Path:
    """A KONSIL_HOME with keys and a migrated SQLite database, made once and copied for each stack."""
    if not (folder / "konsil.sqlite3").exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([PYTHON, "-m", "konsil.cli", "manage", "migrate", "-v0"], env=base_env(folder), cwd=ROOT,
                       check=True, timeout=600)
    return folder


class Stack:
    def __init__(self, home: Path, template: Path | None = None, **env: str):
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        if template is not None:
            for item in template.iterdir():
                if item.is_file():
                    shutil.copy2(item, home / item.name)
        self.env = base_env(home, **env)
        self.procs: list[subprocess.Popen] = []

    def py(self, code: str, timeout: float = 120.0, **env: str):
        """Run a snippet with Django set up; it prints one JSON value on its last line, which is returned."""
        script = "import django, json\ndjango.setup()\n" + textwrap.dedent(code)
        done = subprocess.run([PYTHON, "-c", script], env={**self.env, **env}, cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"snippet failed ({done.returncode}):\n{done.stderr[-4000:]}")
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        return json.loads(lines[-1]) if lines else None

    def konsil(self, *args: str, timeout: float = 300.0, input: str | None = None,
               **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "-m", "konsil.cli", *args], env={**self.env, **env}, cwd=ROOT, text=True,
                              capture_output=True, timeout=timeout, input=input)

    def start_worker(self, *args: str, slow: str = "", log: str = "worker", **env: str) -> subprocess.Popen:
        """A worker process (tests/ops/worker_main.py); `slow` pauses the first run of a kind of work mid-way."""
        out = open(self.home / f"{log}.log", "ab")  # noqa: SIM115 (kept open for the child)
        proc = subprocess.Popen([PYTHON, str(HELPER), *args], env={**self.env, "KONSIL_TEST_SLOW": slow,
                                                                   "KONSIL_TEST_MARKER": str(self.home / "marker"),
                                                                   **env},
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def marker(self) -> bool:
        return (self.home / "marker").exists()

    def log(self, name: str = "worker") -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @staticmethod
    def kill9(proc: subprocess.Popen) -> None:
        """kill -9 of the worker and everything it started (the machine lost, not a graceful stop)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    self.kill9(proc)
        self.procs.clear()


class Redis:
    """Our own redis-server on a free port (never the shared one), restartable; no persistence unless asked."""

    def __init__(self, folder: Path, persist: bool = False):
        self.folder, self.port, self.persist, self.proc = folder, free_port(), persist, None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                "--save", "", "--appendonly", "yes" if self.persist else "no", "--protected-mode", "yes"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.ping, 20, what="redis-server")
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, hard: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            self.proc.wait(timeout=20)
