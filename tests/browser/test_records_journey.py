"""Records in the browser: the patient sends a zipped CD export and a Synthea FHIR file with progress shown; the
specialist scrolls through the CT in the viewer and reads the clinical summary; the storage holds no patient name."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest

from .test_journey import (  # noqa: F401 - the shared browser fixture lives there too
    CHROMIUM,
    browser,  # noqa: F401
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped")]

SYNTHEA = sorted(Path("/work/shared/data/synthea").glob("*.json.gz")) or sorted(
    (Path(__file__).resolve().parents[2] / "src/konsil/records/data/demo").glob("*.json.gz"))
SLICES = 40


@pytest.fixture
def serial_live_server(transactional_db):
    """A live server answering one request at a time: the widget uploads in parallel and polls, and the test
    database on SQLite is one in-memory connection shared with the server thread."""
    from django.core.servers.basehttp import WSGIServer
    from django.db import connections
    from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler, _StaticFilesHandler

    class SerialServerThread(LiveServerThread):
        def _create_server(self, connections_override=None):
            return WSGIServer((self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=False)

    shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread = SerialServerThread("127.0.0.1", _StaticFilesHandler, connections_override=shared, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    try:
        if thread.error:
            raise thread.error
        yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.terminate()
        for conn in shared.values():
            conn.dec_thread_sharing()


def cd_export_zip(tmp_path: Path, patient_name: str) -> Path:
    from konsil.records import synthetic

    folder = tmp_path / "cd"
    synthetic.dicomdir_export(synthetic.ct_series(SLICES, size=128, patient_name=patient_name), folder)
    target = tmp_path / "CD export.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return target


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_records_arrive_and_the_specialist_reads_them(browser, serial_live_server, walker, draft_case,  # noqa: F811
                                                     tmp_path, settings):
    from konsil.cases.models import Attachment
    from konsil.records.models import Instance

    case = walker.walk_to(draft_case, "in_review")
    patient = case.patient
    # names long enough that a chance match in megabytes of ciphertext is practically impossible
    patient.given_name, patient.family_name = "Anastasiaquixote", "Zebulonowicz"
    patient.save()
    dicom_name = f"{patient.family_name}^{patient.given_name}"
    cd_zip = cd_export_zip(tmp_path, dicom_name)
    bundle = tmp_path / "health-record.json"
    bundle.write_bytes(next(data for data in (gzip.decompress(p.read_bytes()) for p in SYNTHEA)
                            if len(_fhir_family_name(data)) >= 7))  # a name long enough to grep for
    base = serial_live_server

    # 1. The patient picks both files in the upload widget; progress is shown and both end "Ready".
    page = sign_in(browser, base, patient.user.email)
    page.goto(f"/cases/{case.pk}/")
    page.wait_for_selector("[data-upload-rich]:not([hidden])")
    page.set_input_files("[data-input=files]", [str(cd_zip), str(bundle)])
    page.wait_for_selector("progress", state="attached")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-upload-widget] [data-status=ready]').length >= 2", timeout=60_000)
    records = Attachment.objects.filter(case=case, parent__isnull=True)
    assert sorted(records.values_list("kind", "status")) == [("fhir", "ready"), ("zip", "ready")]
    assert Instance.objects.filter(series__study__case=case).count() == SLICES

    # 2. The specialist scrolls through the CT in the review screen and reads the clinical summary.
    spec = sign_in(browser, base, case.assigned_specialist.user.email)
    spec.goto(f"/specialist/cases/{case.pk}/review/")
    spec.wait_for_selector("[data-viewer][data-first-image-ms]", state="attached", timeout=30_000)
    viewport = spec.locator("[data-viewer-viewport]")
    viewport.focus()
    start = int(spec.get_attribute("[data-viewer]", "data-slice"))
    for _ in range(5):
        spec.keyboard.press("ArrowDown")
    spec.wait_for_function(f"() => document.querySelector('[data-viewer]').dataset.slice != '{start}'")
    assert spec.get_attribute("[data-viewer]", "data-slices") == str(SLICES)
    spec.keyboard.press("End")
    spec.wait_for_function(f"() => document.querySelector('[data-viewer]').dataset.slice == '{SLICES}'")
    spec.click("[data-viewer] [data-action=fullscreen]")
    spec.wait_for_function("() => document.fullscreenElement === document.querySelector('[data-viewer]')")
    spec.evaluate("() => document.exitFullscreen()")
    summary = spec.inner_text(".clinical-summary")
    assert "Active problems" in summary and "Recent results" in summary

    # 3. The storage folder holds no patient name, from the form, the DICOM header or the FHIR bundle.
    raw = b"".join(p.read_bytes() for p in Path(settings.STORAGES["default"]["OPTIONS"]["location"]).rglob("*")
                   if p.is_file())
    fhir_family = _fhir_family_name(bundle.read_bytes())
    for name in {patient.family_name, patient.given_name, fhir_family, dicom_name}:
        assert len(name) >= 6 and name.encode() not in raw, name


def _fhir_family_name(data: bytes) -> str:
    import json

    bundle = json.loads(data)
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "Patient":
            return resource["name"][0]["family"]
    raise AssertionError("no Patient in the bundle")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_small_record_reads_its_size_as_the_server_writes_it(browser, serial_live_server, walker,  # noqa: F811
                                                                draft_case, tmp_path):
    """The widget's row and the page agree: "90 bytes" (Django's filesizeformat), not "90B"; the thumbnail of a
    file without a picture names its extension."""
    case = walker.walk_to(draft_case, "in_review")
    note = tmp_path / "note.txt"
    note.write_bytes(b"Echo: normal ejection fraction, no valve disease or effusion seen today.\n"[:45] * 2)
    assert note.stat().st_size == 90
    page = sign_in(browser, serial_live_server, case.patient.user.email)
    page.goto(f"/cases/{case.pk}/")
    page.wait_for_selector("[data-upload-rich]:not([hidden])")
    page.set_input_files("[data-input=files]", [str(note)])
    page.wait_for_function(
        "() => document.querySelectorAll('[data-upload-widget] [data-status=ready]').length >= 1", timeout=60_000)
    row = page.inner_text("[data-upload-widget] [data-status=ready]")
    assert "90\xa0bytes" in row or "90 bytes" in row, row
    assert "90B" not in row
    from types import SimpleNamespace

    from django.utils import timezone

    from konsil.cases.models import Attachment
    from konsil.core.templatetags.konsil_ui import moment
    from konsil.core.zones import display_zone

    cookies = {c["name"]: c["value"] for c in page.context.cookies()}  # the reader's zone, as konsil.js sent it
    record = Attachment.objects.filter(case=case).latest("created_at")
    with timezone.override(display_zone(SimpleNamespace(COOKIES=cookies))):
        assert moment(record.created_at) in row, row  # as the page's own list writes it (DATETIME_FORMAT)
    assert page.inner_text("[data-upload-widget] [data-status=ready] .record-thumb") == "TXT"  # not its kind, TEXT
