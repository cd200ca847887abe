"""Records benchmark: encrypted ingest against raw AES-256-GCM + a plain write; a 500-slice CT to thumbnails and
first image. Prints figures; run with `make bench-records`."""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import setup_django  # noqa: E402

MiB = 1024 * 1024


def _world():
    """A network, a patient and a draft case, made with the test factories (no demo data needed)."""
    from tests.factories import OrganizationFactory, make_draft, make_user

    from konsil.accounts.roles import OrganizationKind, Role

    network = OrganizationFactory(name="Bench Network", kind=OrganizationKind.PROVIDER_NETWORK)
    patient = make_user(Role.PATIENT, network, first_name="Bench", last_name="Patient")
    case = make_draft(network, patient)
    return case, patient


def bench_ingest(case, actor, total_mb: int = 256) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from django.conf import settings

    from konsil.records import intake

    chunk = settings.KONSIL_UPLOAD_CHUNK_BYTES
    payload = os.urandom(total_mb * MiB)

    def konsil_ingest():
        upload = intake.create_upload(actor=actor, case=case, length=len(payload), filename="bench.bin")
        for offset in range(0, len(payload), chunk):
            upload = intake.append_chunk(actor=actor, upload=upload, offset=offset,
                                         chunk=payload[offset: offset + chunk])
        return upload

    def baseline(folder: Path):
        aead, key_nonce = AESGCM(AESGCM.generate_key(bit_length=256)), os.urandom(12)
        with open(folder / "plain.bin", "wb") as fh:
            for offset in range(0, len(payload), chunk):
                fh.write(aead.encrypt(key_nonce, payload[offset: offset + chunk], None))
            fh.flush()
            os.fsync(fh.fileno())

    from unittest import mock

    from django.db import transaction

    runs_k, runs_b = [], []
    for i in range(3):
        payload = payload[:-1] + bytes([i])  # a new file each run: duplicates are refused
        with mock.patch("konsil.records.tasks.enqueue_processing"), transaction.atomic():
            start = time.perf_counter()
            konsil_ingest()
            runs_k.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            baseline(Path(folder))
            runs_b.append(time.perf_counter() - start)
    k, b = min(runs_k), min(runs_b)
    print(f"encrypted ingest (tus chunks encrypted, assembled, re-encrypted as the record, {total_mb} MB): "
          f"{total_mb / k:,.0f} MB/s vs raw AES-256-GCM + disk write {total_mb / b:,.0f} MB/s "
          f"(ratio {k / b:.2f}x the baseline's time)")


def ct_zip(n: int, size: int) -> bytes:
    from konsil.records import synthetic

    slices = synthetic.ct_series(n, size=size, patient_name="Bench^Patient")
    with tempfile.TemporaryDirectory() as folder:
        synthetic.dicomdir_export(slices, Path(folder))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def bench_ct(case, actor, n: int = 500, size: int = 512) -> None:
    from django.test import Client

    from konsil.records import intake, processing
    from konsil.records.models import Series

    start = time.perf_counter()
    data = ct_zip(n, size)
    built = time.perf_counter() - start
    from unittest import mock

    with mock.patch("konsil.records.tasks.enqueue_processing"):
        record = intake.store_record(actor=actor, case=case, content=data, filename="cd.zip")
    start = time.perf_counter()
    processing.process(record.pk)
    ready = time.perf_counter() - start
    record.refresh_from_db()
    series = Series.objects.filter(study__case=case)
    thumbs = series.filter(thumbnail__isnull=False).count()
    print(f"CT study: {n} slices {size}x{size} ({len(data) / MiB:,.0f} MB zipped CD export, built in {built:.1f} s): "
          f"upload complete -> indexed with all series thumbnails ready in {ready:.1f} s "
          f"({n / ready:,.0f} instances/s; status {record.status}, {thumbs}/{series.count()} thumbnails)")

    client = Client()
    client.force_login(actor)
    firsts, scroll = [], []
    for _ in range(5):
        viewer_cache_clear()
        start = time.perf_counter()
        index = client.get(f"/records/cases/{case.pk}/imaging.json").json()
        frames = index["studies"][0]["series"][0]["frames"]
        response = client.get(frames[len(frames) // 2])
        assert response.status_code == 200, response.status_code
        firsts.append(time.perf_counter() - start)
    for url in frames[:60]:
        start = time.perf_counter()
        client.get(url + "?preset=ct_lung")
        scroll.append(time.perf_counter() - start)
    scroll.sort()
    p50, p95 = scroll[len(scroll) // 2] * 1000, scroll[int(len(scroll) * 0.95) - 1] * 1000
    print(f"viewer: first image (index JSON + first rendered frame, server side) median "
          f"{statistics.median(firsts) * 1000:,.0f} ms; each further slice p50 {p50:,.0f} ms p95 {p95:,.0f} ms "
          f"(60 slices, lung window)")
    browser_first_image(case, actor)


def viewer_cache_clear() -> None:
    from konsil.records import reading

    reading._dataset.cache_clear()


def browser_first_image(case, actor) -> None:
    """Time to first image in Chromium, from navigation start, on a live server (skipped without chromium)."""
    if not Path("/usr/bin/chromium").exists():
        print("viewer in a browser: skipped (no /usr/bin/chromium)")
        return
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.test.testcases import LiveServerThread, _StaticFilesHandler
    from playwright.sync_api import sync_playwright

    thread = LiveServerThread("127.0.0.1", _StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    session = SessionStore()
    session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(actor.pk), settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = actor.get_session_auth_hash()
    session.save()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key,
                                       "domain": "127.0.0.1", "path": "/"}])
            page.goto(f"http://127.0.0.1:{thread.port}/cases/{case.pk}/")
            page.wait_for_selector("[data-first-image-ms]", state="attached", timeout=30_000)
            ms = page.get_attribute("[data-viewer]", "data-first-image-ms")
            print(f"viewer in Chromium (1366x768): first image {ms} ms after the viewer started")
            browser.close()
    except Exception as exc:  # noqa: BLE001 - a figure we could not take is reported, not fatal
        print(f"viewer in a browser: not measured ({type(exc).__name__}: {exc})"[:300])
    finally:
        thread.terminate()


def main() -> None:
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    case, actor = _world()
    bench_ingest(case, actor, total_mb=int(os.environ.get("BENCH_INGEST_MB", "256")))
    bench_ct(case, actor, n=int(os.environ.get("BENCH_CT_SLICES", "500")))
    bench_memory(case, actor, sizes=[int(v) for v in os.environ.get("BENCH_MEMORY_MB", "100,1024").split(",") if v],
                 listener_slices=[int(v) for v in os.environ.get("BENCH_LISTENER_SLICES", "100,1000").split(",")
                                  if v])
    bench_stow(case, actor, [int(v) for v in os.environ.get("BENCH_STOW_SLICES", "100,1000").split(",") if v])



# --- memory: peak RSS against the same process at rest (#11, #13) ------------------------------------------------

MEMORY_CHILD = r"""
import os, resource, sys, time, json
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, os.path.join(sys.argv[1], "bench"))
from run import setup_django
setup_django()
from django.core.management import call_command
call_command("createcachetable", verbosity=0)
from unittest import mock
from django.conf import settings
from django.test import Client
from konsil.accounts.models import User
from konsil.cases.models import Attachment, Case


def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


mode, path = sys.argv[2], sys.argv[3]
case = Case.objects.get(pk=sys.argv[4])
user = User.objects.get(pk=sys.argv[5])
client = Client()
client.force_login(user)
client.get("/")  # everything lazy is loaded before the baseline
from konsil.records import processing
import gc
gc.collect()
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset the high-water mark: set-up (migrations) does not count
rest = status_kb("VmRSS")
start = time.perf_counter()
if mode == "upload":
    size = os.path.getsize(path)
    created = client.post(f"/api/v1/records/cases/{case.pk}/uploads/", HTTP_TUS_RESUMABLE="1.0.0",
                          HTTP_UPLOAD_LENGTH=str(size), HTTP_UPLOAD_METADATA="filename Y2QuemlwCg==")
    location, offset, chunk = created["Location"], 0, settings.KONSIL_UPLOAD_CHUNK_BYTES
    with mock.patch("konsil.records.tasks.enqueue_processing"), open(path, "rb") as fh:
        while piece := fh.read(chunk):
            answer = client.patch(location, piece, content_type="application/offset+octet-stream",
                                  HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_OFFSET=str(offset))
            assert answer.status_code == 204, answer.content
            offset += len(piece)
            record_id = answer.get("Konsil-Record")
            del answer, piece
            gc.collect()  # the test client's response <-> request cycles keep bodies a real server would free
    out = {"record": record_id}
elif mode == "render":  # the viewer's frame request: the middle frame of the record's instance
    from konsil.records import reading
    from konsil.records.models import Instance
    instance = Instance.objects.select_related("attachment").get(attachment_id=path)
    png = reading._render_frame(instance.attachment, frame=instance.frames // 2, window=None, size=None)
    out = {"status": f"{len(png):,} bytes of PNG", "images": instance.frames}
else:
    record = processing.process(path)
    out = {"status": record.status, "images": (record.detail or {}).get("images")}
out.update(rest_mb=rest / 1024, peak_mb=status_kb("VmHWM") / 1024, seconds=time.perf_counter() - start)
print(json.dumps(out))
"""


def _study_file(folder: Path, megabytes: int) -> tuple[Path, int]:
    """A CD export zipped without compression, about `megabytes` large, written slice batch by slice batch."""
    from konsil.records import synthetic

    path, slices, seed = folder / f"study-{megabytes}.zip", 0, 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        while path.stat().st_size < megabytes * MiB:
            seed += 1
            for i, data in enumerate(synthetic.ct_series(50, size=512, patient_name="Bench^Patient", seed=seed)):
                zf.writestr(f"DICOM/S{seed:04d}/IM{i:04d}", data)
                slices += 1
            zf.fp.flush()
    return path, slices


def _dicom_file(folder: Path, megabytes: int) -> tuple[Path, int]:
    """One multi-frame DICOM file of about `megabytes` (1024 x 1024 x 16-bit frames), as a breast tomosynthesis
    or a long cine is: one file, not a folder of slices."""
    import io

    import numpy as np
    import pydicom

    from konsil.records import synthetic

    ds = pydicom.dcmread(io.BytesIO(synthetic.mr_multiframe(frames=1, size=1024)))
    frame = (np.arange(1024 * 1024, dtype=np.uint32) % 4096).astype(np.uint16).tobytes()
    frames = max(1, megabytes * MiB // len(frame))
    ds.NumberOfFrames = frames
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()  # each file its own
    ds.PixelData = frame * frames
    path = folder / f"tomo-{megabytes}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, frames


def _child(mode: str, arg: str, case, actor, **env: str) -> dict:
    import json
    import subprocess

    root = str(Path(__file__).resolve().parent.parent)
    result = subprocess.run([sys.executable, "-c", MEMORY_CHILD, root, mode, arg, str(case.pk), str(actor.pk)],
                            capture_output=True, text=True, env={**os.environ, **env}, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def _listener_peak(case, slices: int) -> tuple[float, float, float]:
    """`konsil dicom listen` in its own process; storescu pushes `slices` slices; its VmHWM before and after."""
    import shutil
    import socket
    import subprocess

    if not shutil.which("storescu"):
        return (0.0, 0.0, 0.0)
    from konsil.records import synthetic

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KONSIL_DICOM_PORT": str(port)}
    listener = subprocess.Popen([sys.executable, "-m", "konsil.cli", "dicom", "listen"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def hwm() -> float:
        for line in Path(f"/proc/{listener.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    try:
        listener.stdout.readline()  # "DICOM listener: ..." once it is up
        time.sleep(1.0)
        subprocess.run(["echoscu", "127.0.0.1", str(port), "-aec", "KONSIL"], capture_output=True, timeout=30)
        Path(f"/proc/{listener.pid}/clear_refs").write_text("5")  # the high-water mark from here
        rest = hwm()
        with tempfile.TemporaryDirectory() as folder:
            paths = []
            for start in range(0, slices, 50):
                batch = synthetic.ct_series(min(50, slices - start), size=512, patient_name="Bench^Patient",
                                            seed=9000 + start, study_uid=f"1.2.826.0.1.3680043.8.498.{slices}")
                for i, data in enumerate(batch):
                    p = Path(folder) / f"IM{start + i:05d}.dcm"
                    p.write_bytes(data)
                    paths.append(str(p))
            began = time.perf_counter()
            subprocess.run(["storescu", "-aec", "KONSIL", "+sd", "127.0.0.1", str(port), folder],
                           capture_output=True, timeout=3600)
            seconds = time.perf_counter() - began
        return rest, hwm(), seconds
    finally:
        listener.terminate()
        listener.wait(timeout=30)


def bench_memory(case, actor, sizes=(100, 1024), listener_slices=(100, 1000)) -> None:
    """Peak RSS of a web worker taking a tus upload, of a task worker processing the study, and of the DICOM
    listener receiving a study, each in its own process against that process at rest (the same-run baseline)."""
    print("memory (peak RSS, each in its own process; baseline: the same process at rest, Django loaded):")
    with tempfile.TemporaryDirectory() as folder:
        for megabytes in sizes:
            path, slices = _study_file(Path(folder), megabytes)
            size = path.stat().st_size / MiB
            up = _child("upload", str(path), case, actor)
            print(f"  tus upload {size:,.0f} MB ({slices} slices, 8 MB chunks), web worker: "
                  f"peak {up['peak_mb']:,.0f} MB vs {up['rest_mb']:,.0f} MB at rest "
                  f"(+{up['peak_mb'] - up['rest_mb']:,.0f} MB) in {up['seconds']:,.1f} s")
            work = _child("process", up["record"], case, actor)
            print(f"  processing that study, task worker: peak {work['peak_mb']:,.0f} MB vs {work['rest_mb']:,.0f} MB "
                  f"at rest (+{work['peak_mb'] - work['rest_mb']:,.0f} MB) in {work['seconds']:,.1f} s "
                  f"({work['status']}, {work['images']} images)")
            path.unlink()
        for megabytes in sizes:  # one large DICOM file: indexed from its header, drawn frame by frame
            path, frames = _dicom_file(Path(folder), megabytes)
            size = path.stat().st_size / MiB
            up = _child("upload", str(path), case, actor)
            path.unlink()
            print(f"  tus upload of one {size:,.0f} MB DICOM file ({frames} frames 1024x1024), web worker: "
                  f"peak {up['peak_mb']:,.0f} MB vs {up['rest_mb']:,.0f} MB at rest "
                  f"(+{up['peak_mb'] - up['rest_mb']:,.0f} MB) in {up['seconds']:,.1f} s")
            work = _child("process", up["record"], case, actor)
            print(f"  processing it (header indexed, thumbnail from the middle frame), task worker: peak "
                  f"{work['peak_mb']:,.0f} MB vs {work['rest_mb']:,.0f} MB at rest "
                  f"(+{work['peak_mb'] - work['rest_mb']:,.0f} MB) in {work['seconds']:,.1f} s ({work['status']})")
            view = _child("render", up["record"], case, actor)
            print(f"  the viewer drawing its middle frame, web worker: peak {view['peak_mb']:,.0f} MB vs "
                  f"{view['rest_mb']:,.0f} MB at rest (+{view['peak_mb'] - view['rest_mb']:,.0f} MB) in "
                  f"{view['seconds']:,.2f} s ({view['status']})")
            whole = _child("render", up["record"], case, actor, KONSIL_RECORD_IN_MEMORY_BYTES=str(1 << 40))
            print(f"  baseline, the same frame from the file read whole (the path small files take): peak "
                  f"{whole['peak_mb']:,.0f} MB vs {whole['rest_mb']:,.0f} MB at rest "
                  f"(+{whole['peak_mb'] - whole['rest_mb']:,.0f} MB) in {whole['seconds']:,.2f} s")
    for slices in listener_slices:
        rest, peak, seconds = _listener_peak(case, slices)
        if peak:
            print(f"  DICOM listener, storescu pushes {slices} slices 512x512 (~{slices / 2:,.0f} MB): "
                  f"peak {peak:,.0f} MB vs {rest:,.0f} MB at rest (+{peak - rest:,.0f} MB) in {seconds:,.1f} s")


# --- STOW-RS: one request carrying a whole study, read as a stream (#13) -------------------------------------------

STOW_CHILD = r"""
import gc, http.client, json, os, sys, threading, time
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, os.path.join(sys.argv[1], "bench"))
from run import setup_django
setup_django()
from django.core.management import call_command
call_command("createcachetable", verbosity=0)
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application
from konsil.accounts.models import User
from konsil.cases.models import Case
from konsil.records import synthetic
from tests.factories import api_token


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])


slices, case = int(sys.argv[2]), Case.objects.get(pk=sys.argv[3])
token = api_token(User.objects.get(pk=sys.argv[4]))
server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
server.set_app(get_wsgi_application())
threading.Thread(target=server.serve_forever, daemon=True).start()
B = "bench-boundary"


def push(n, seed):
    # n slices of one study, made 5 at a time, sent chunked as they are made: the client never holds the body
    conn = http.client.HTTPConnection("localhost", server.server_address[1], timeout=3600)
    conn.putrequest("POST", f"/dicomweb/cases/{case.pk}/studies")
    conn.putheader("Content-Type", f'multipart/related; type="application/dicom"; boundary={B}')
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Authorization", f"Token {token}")
    conn.endheaders()
    for start in range(0, n, 5):
        for data in synthetic.ct_series(min(5, n - start), size=512, patient_name="Bench^Patient",
                                        seed=seed + start, study_uid=f"1.2.826.0.1.3680043.8.498.{seed}"):
            piece = f"--{B}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n"
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    end = f"--{B}--\r\n".encode()
    conn.send(f"{len(end):x}\r\n".encode() + end + b"\r\n0\r\n\r\n")
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, body[:300]
    return len(json.loads(body)["00081199"]["Value"])


push(1, slices)  # everything lazy is loaded before the baseline (a study of its own)
gc.collect()
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
rest = status_kb("VmRSS")
began = time.perf_counter()
stored = push(slices, 1000 + slices)
print(json.dumps({"stored": stored, "rest_mb": rest / 1024, "peak_mb": status_kb("VmHWM") / 1024,
                  "seconds": time.perf_counter() - began}))
"""


def bench_stow(case, actor, slices_list=(100, 1000)) -> None:
    """One STOW-RS request per study (chunked, as Orthanc sends it) to a real WSGI server in its own process:
    peak RSS against that process at rest after a one-slice push (the same-run baseline)."""
    import json
    import subprocess

    print("STOW-RS, one chunked request per study (peak RSS of client + server process vs at rest):")
    root = str(Path(__file__).resolve().parent.parent)
    for slices in slices_list:
        result = subprocess.run([sys.executable, "-c", STOW_CHILD, root, str(slices), str(case.pk), str(actor.pk)],
                                capture_output=True, text=True, env=os.environ.copy(), timeout=3600)
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-2000:])
        out = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"  {slices} slices 512x512 (~{slices / 2:,.0f} MB body): {out['stored']} stored, "
              f"peak {out['peak_mb']:,.0f} MB vs {out['rest_mb']:,.0f} MB at rest "
              f"(+{out['peak_mb'] - out['rest_mb']:,.0f} MB) in {out['seconds']:,.1f} s", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
