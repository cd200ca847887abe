"""The DICOM node pages and a case's PACS page (a coordinator): no critical or serious axe violations and no overflow
at 360 px, forms with errors and an unreachable PACS's message included."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from konsil.records.models import DicomNode, RetrieveJob

from ..records.orthanc_support import ORTHANC, dicomweb_plugin, orthanc_factory  # noqa: F401 (fixture)
from ..records.records_support import ct
from ..records.test_dimse import listen  # noqa: F401 (fixture)
from ..records.test_orthanc import pacs  # noqa: F401 (fixture)
from .test_a11y import CHROMIUM, axe_violations, browser, context_for, overflow, wide_elements  # noqa: F401 (fixture)

needs_orthanc_ok = Path(ORTHANC).exists() and dicomweb_plugin() is not None
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped")]


def _fits_and_passes(page, what: str) -> None:
    assert page.locator("h1").count() == 1, what
    assert overflow(page) <= 0, f"{what}: {wide_elements(page)}"
    assert axe_violations(page) == [], what


def test_dicom_pages_are_accessible(browser, live_server, coordinator, draft_case):  # noqa: F811
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # released: nobody answers there
    node = DicomNode.objects.create(network=draft_case.network, name="Regional hospital PACS",
                                    ae_title="REGIONALPACS01", host="pacs-archive.regional-hospital.example.org",
                                    port=11112, is_source=True,
                                    dicomweb_url="https://pacs-archive.regional-hospital.example.org/dicom-web")
    DicomNode.objects.create(network=draft_case.network, name="Down PACS", ae_title="DOWN", host="127.0.0.1",
                             port=port, is_source=True)
    context = context_for(browser, live_server, coordinator)
    page = context.new_page()
    for path in ("/records/dicom-nodes/", "/records/dicom-nodes/new/", f"/records/dicom-nodes/{node.pk}/",
                 f"/records/cases/{draft_case.pk}/pacs/"):
        page.goto(path)
        _fits_and_passes(page, path)
    page.goto("/records/dicom-nodes/new/")
    page.get_by_role("button", name="Save").click()
    assert page.locator("[aria-invalid=true]").count() >= 2  # name and AE title are required
    _fits_and_passes(page, "node form with errors")
    page.goto(f"/records/cases/{draft_case.pk}/pacs/")
    page.locator("#id_node").select_option(label="Down PACS (DOWN)")
    page.get_by_label("Patient ID").fill("MRN-1")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_text("did not accept the connection").count() == 1
    _fits_and_passes(page, "search with an unreachable PACS")
    context.close()


def test_a_running_pull_updates_itself_on_the_page(browser, live_server, coordinator, draft_case):  # noqa: F811
    node = DicomNode.objects.create(network=draft_case.network, name="PACS", ae_title="PACS", host="127.0.0.1",
                                    port=104, is_source=True)
    job = RetrieveJob.objects.create(case=draft_case, node=node, study_uid="1.2.840.99.1", method="get",
                                     requested_by=coordinator, state=RetrieveJob.State.RUNNING, total=4, completed=1)
    context = context_for(browser, live_server, coordinator)
    page = context.new_page()
    page.goto(f"/records/cases/{draft_case.pk}/pacs/")
    jobs = page.locator("#pacs-jobs")
    assert jobs.get_attribute("data-running") == "true" and "1 received / 4" in jobs.inner_text()
    RetrieveJob.objects.filter(pk=job.pk).update(state=RetrieveJob.State.DONE, completed=4)  # the worker's writes
    page.wait_for_function("document.getElementById('pacs-jobs').innerText.includes('4 received / 4')")
    assert "Retrieved" in jobs.inner_text()
    context.close()


@pytest.mark.skipif(not needs_orthanc_ok, reason="orthanc and orthanc-dicomweb (Debian packages) not installed")
def test_search_results_and_a_pull_from_orthanc_in_the_browser(browser, live_server, pacs, draft_case,  # noqa: F811
                                                               coordinator):
    peer, node = pacs
    peer.upload(ct(2, seed=98, name="Browser^Patient"))
    context = context_for(browser, live_server, coordinator)
    page = context.new_page()
    page.goto(f"/records/cases/{draft_case.pk}/pacs/")
    page.get_by_label("Patient name").fill("BROWSER*")
    page.get_by_role("button", name="Search").click()
    assert page.locator("#pacs-results tbody tr").count() == 1
    _fits_and_passes(page, "search results")
    page.get_by_role("button", name="Retrieve into the case").click()
    page.wait_for_function("document.getElementById('pacs-jobs').innerText.includes('2 received')")
    assert "Retrieved" in page.locator("#pacs-jobs").inner_text()
    _fits_and_passes(page, "a pull done")
    context.close()
