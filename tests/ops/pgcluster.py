"""A throwaway PostgreSQL cluster (initdb/pg_ctl from Debian's packages) in a temporary folder, on a free port:
restarted by the fault tests, never the shared server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .stack import free_port, wait_for


def pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class Cluster:
    def __init__(self, folder: Path):
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        if self.as_user:  # initdb refuses root; the postgres user cannot enter pytest's private folders
            folder = Path(tempfile.mkdtemp(prefix="konsil-pg-"))
        self.folder, self.port = folder, free_port()
        self.data, self.sockets = folder / "data", folder / "sock"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/konsil"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, *argv], capture_output=True, text=True, timeout=120, check=check)

    def init(self) -> Cluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        if self.as_user:
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._run(pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run(pg_bin("createdb") or "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "konsil")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "pg.log"),
                  "-w", "start")
        wait_for(self.ready, 30, what="PostgreSQL")

    def remove(self) -> None:
        self.stop("immediate")
        if self.as_user:
            shutil.rmtree(self.folder, ignore_errors=True)

    def stop(self, mode: str = "fast") -> None:
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def ready(self) -> bool:
        return self._run(pg_bin("pg_isready") or "pg_isready", "-h", "127.0.0.1", "-p", str(self.port),
                         check=False).returncode == 0
