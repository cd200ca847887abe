"""A real Orthanc (Debian packages orthanc, orthanc-dicomweb) started with a temporary configuration on free ports:
the hospital PACS of the peer tests. Never a mock."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc/plugins")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dicomweb_plugin() -> str | None:
    for folder in PLUGIN_DIRS:
        path = Path(folder) / "libOrthancDicomWeb.so"
        if path.exists():
            return str(path)
    return None


needs_orthanc = pytest.mark.skipif(not Path(ORTHANC).exists() or dicomweb_plugin() is None,
                                   reason="orthanc and orthanc-dicomweb (Debian packages) not installed")


@dataclass
class Orthanc:
    http_port: int
    dicom_port: int
    ae_title: str = "ORTHANC"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def upload(self, datasets: list[bytes]) -> list[str]:
        ids = []
        for data in datasets:
            answer = requests.post(f"{self.url}/instances", data=data, timeout=30)
            answer.raise_for_status()
            ids.append(answer.json()["ID"])
        return ids

    def studies(self) -> list[dict]:
        return [requests.get(f"{self.url}/studies/{sid}", timeout=30).json()
                for sid in requests.get(f"{self.url}/studies", timeout=30).json()]


def start_orthanc(folder: Path, *, konsil_port: int, konsil_ae: str = "KONSIL",
                  dicomweb_servers: dict | None = None) -> tuple[Orthanc, subprocess.Popen]:
    peer = Orthanc(http_port=free_port(), dicom_port=free_port())
    config = {
        "Name": "test-pacs", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
        "HttpPort": peer.http_port, "DicomPort": peer.dicom_port, "DicomAet": peer.ae_title,
        "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "HttpServerEnabled": True,
        "DicomCheckCalledAet": False, "DicomModalities": {"konsil": [konsil_ae, "127.0.0.1", konsil_port]},
        "Plugins": [dicomweb_plugin()], "ConcurrentJobs": 1, "SaveJobs": False,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "Servers": dicomweb_servers or {}},
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    process = subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{peer.url}/system", timeout=2).ok:
                return peer, process
        except requests.RequestException:
            pass
        if process.poll() is not None:
            raise RuntimeError("Orthanc exited at start-up")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("Orthanc did not start")


@pytest.fixture
def orthanc_factory(tmp_path):
    started = []

    def start(**options) -> Orthanc:
        folder = tmp_path / f"orthanc{len(started)}"
        folder.mkdir()
        peer, process = start_orthanc(folder, **options)
        started.append(process)
        return peer
    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
