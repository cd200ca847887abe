"""A coordinator, on the case's PACS page, searches a real Orthanc (Debian's orthanc + orthanc-dicomweb) and pulls
the study into the case; the page shows the pull done and the study is the case's record."""

from __future__ import annotations

import pytest

from konsil.audit.models import AuditEvent
from konsil.records.models import RetrieveJob, Study

from .orthanc_support import needs_orthanc, orthanc_factory  # noqa: F401 -- fixture
from .records_support import ct
from .test_dimse import listen  # noqa: F401 -- fixture
from .test_orthanc import pacs  # noqa: F401 -- fixture

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), needs_orthanc, pytest.mark.slow]


@pytest.mark.parametrize("method", ["get", "dicomweb"])
def test_a_coordinator_searches_orthanc_and_pulls_a_study_through_the_page(client, login, pacs, draft_case,  # noqa: F811
                                                                           coordinator, method):
    peer, node = pacs
    node.retrieve = method
    node.save()
    peer.upload(ct(3, seed=97, name="Page^Patient"))
    login(client, coordinator)
    url = f"/records/cases/{draft_case.pk}/pacs/"
    assert f'value="{node.pk}"' in client.get(url).content.decode()
    answer = client.post(url, {"node": str(node.pk), "PatientName": "PAGE*"})
    assert answer.status_code == 200, answer.context["form"].errors
    (found,) = answer.context["found"]
    assert found["PatientName"] == "Page^Patient"
    assert "Page^Patient" in answer.content.decode() and found["StudyInstanceUID"] in answer.content.decode()
    empty = client.post(url, {"node": str(node.pk), "PatientName": "Nobody*"})
    assert empty.context["found"] == [] and "No study matches." in empty.content.decode()
    pulled = client.post(f"/records/cases/{draft_case.pk}/pacs/pull/",
                         {"node": str(node.pk), "study_uid": found["StudyInstanceUID"]})
    assert pulled.status_code == 302  # the test task backend ran the pull at commit
    job = RetrieveJob.objects.get(case=draft_case)
    assert job.state == RetrieveJob.State.DONE and job.completed == 3, job.error
    assert Study.objects.get(case=draft_case, study_uid=found["StudyInstanceUID"]).series.get().instance_count == 3
    page = client.get(url).content.decode()
    assert "Retrieved" in page and "3 received" in page
    assert AuditEvent.objects.filter(action="dicom.pacs.find", actor=coordinator).count() == 2
    assert AuditEvent.objects.filter(action="dicom.pacs.retrieved", object_id=str(job.pk)).exists()
