"""The real web server for tests and benchmarks: gunicorn with threads, started with the command `konsil run` uses
(konsil.cli.child_commands), and a small keep-alive HTTP client for driving it from many threads."""

from __future__ import annotations

import http.client
import json
import subprocess
import time

from .stack import ROOT, Stack, free_port, wait_for


def start_web(stack: Stack, *, workers: int = 1, threads: int = 8, log: str = "web") -> tuple[subprocess.Popen, int]:
    """gunicorn as `konsil run` starts it, on a free port; returns once /healthz answers (the app is imported,
    nothing lazy touched yet: /healthz reads no engine)."""
    from konsil.cli import child_commands

    port = free_port()
    (_name, argv), *_ = child_commands("127.0.0.1", port, worker=False, web_workers=workers, threads=threads)
    out = open(stack.home / f"{log}.log", "ab")  # noqa: SIM115 (kept open for the child)
    proc = subprocess.Popen(argv, env=stack.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    stack.procs.append(proc)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the web server exited:\n{stack.log(log)[-3000:]}")
        try:
            return Client(port).request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    wait_for(up, 180, interval=0.3, what="the web server")
    return proc, port


class Client:
    """One keep-alive connection (a browser tab or an API client); reconnects after an error."""

    def __init__(self, port: int, headers: dict[str, str] | None = None, timeout: float = 60.0):
        self.port, self.headers, self.timeout, self.conn = port, dict(headers or {}), timeout, None

    def request(self, method: str, path: str, body: bytes | dict | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lower-case names, body); status 0 when the connection failed."""
        all_headers = {**self.headers, **(headers or {})}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: once more on a new one
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=all_headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    return 0, {}, b""
            except OSError:
                self.close()
                return 0, {}, b""
        return 0, {}, b""

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def timed(client: Client, method: str, path: str, body=None, headers=None):
    """(status, seconds, headers, body) of one request."""
    start = time.perf_counter()
    status, out_headers, data = client.request(method, path, body, headers)
    return status, time.perf_counter() - start, out_headers, data
