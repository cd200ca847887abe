"""The child processes of `konsil run` (web, worker, clock, DICOM listener): started in their own process groups,
stopped together, gracefully, when asked or when one of them ends."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence


def _die_with_parent() -> None:
    """In a child, before exec: get SIGTERM if `konsil run` itself dies (Linux PR_SET_PDEATHSIG)."""
    import ctypes

    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class Supervisor:
    """Starts child processes, stops them all when asked or when one of them ends."""

    def __init__(self, commands: Sequence[tuple[str, list[str]]], env: dict[str, str] | None = None,
                 grace: float = 15.0):
        self.commands, self.env, self.grace = list(commands), env, grace
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.stopping = False

    def start(self) -> None:
        # Own process groups: Ctrl+C reaches only this process, which stops each child once, gracefully.
        for name, argv in self.commands:
            proc = subprocess.Popen(argv, env=self.env, process_group=0,  # noqa: S603 (our own argv)
                                    preexec_fn=_die_with_parent if sys.platform == "linux" else None)
            self.procs.append((name, proc))

    def stop(self, *_signal_args) -> None:
        self.stopping = True

    def wait(self, poll: float = 0.25) -> int:
        """Block until asked to stop (0) or until a child exits (its code, at least 1)."""
        from django.utils.translation import gettext as _

        while True:
            if self.stopping:
                self.terminate()
                return 0
            for name, proc in self.procs:
                code = proc.poll()
                if code is not None:
                    print(_("konsil: the %(name)s process stopped (exit code %(code)s); stopping the others.")
                          % {"name": name, "code": code}, file=sys.stderr)
                    self.terminate()
                    return code if code > 0 else 1  # killed by a signal (negative) or ended: a failure
            time.sleep(poll)

    def alive(self) -> bool:
        return any(proc.poll() is None for _name, proc in self.procs)

    def terminate(self) -> None:
        for _name, proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + self.grace
        for _name, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_until_ready(url: str, supervisor: Supervisor, timeout: float = 180.0) -> bool:
    """Poll the health check until the web server answers (its workers have loaded the app)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and supervisor.alive() and not supervisor.stopping:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5):  # noqa: S310 (our own local server)
                return True
        except urllib.error.HTTPError:
            return True  # it answered
        except OSError:
            time.sleep(0.3)
    return False
