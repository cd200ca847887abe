"""Konsil against a real Orthanc (Debian's orthanc + orthanc-dicomweb, temporary configuration, free ports):
Orthanc pushes to Konsil's listener (C-STORE); Konsil finds a study on Orthanc and pulls it into a case with C-GET,
C-MOVE and DICOMweb (QIDO-RS + WADO-RS); Orthanc's DICOMweb client pushes to Konsil (STOW-RS, its default
chunked body) and pulls from it (WADO-RS)."""

from __future__ import annotations

import pytest
import requests

from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment
from konsil.core.errors import PermissionDenied, ValidationFailed
from konsil.records import retrieve
from konsil.records.models import DicomNode, InboundStudy, RetrieveJob, Study
from tests.factories import api_token

from .orthanc_support import needs_orthanc, orthanc_factory  # noqa: F401 -- fixture
from .records_support import ct
from .test_dimse import listen  # noqa: F401 -- fixture

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), needs_orthanc, pytest.mark.slow]


@pytest.fixture
def pacs(listen, orthanc_factory, network):  # noqa: F811 -- fixture injection
    """Konsil's listener, and Orthanc knowing it as modality KONSIL; Orthanc is a source node of the network."""
    config = listen()
    peer = orthanc_factory(konsil_port=config.port)
    node = DicomNode.objects.create(network=network, name="Hospital PACS", ae_title=peer.ae_title,
                                    host="127.0.0.1", port=peer.dicom_port, is_source=True,
                                    dicomweb_url=peer.dicomweb)
    return peer, node


def test_orthanc_pushes_a_study_to_the_networks_inbox(pacs, draft_case):
    peer, _node = pacs
    peer.upload(ct(3, seed=91))
    (study,) = peer.studies()
    answer = requests.post(f"{peer.url}/modalities/konsil/store",
                           json={"Resources": [study["ID"]], "Synchronous": True}, timeout=120)
    assert answer.ok, answer.text
    item = InboundStudy.objects.get()  # no accession or reference: it waits, encrypted, in the network's inbox
    assert item.network == draft_case.network and item.instance_count == 3 and item.calling_ae == "ORTHANC"


def _modify_and_store(peer, data: list[bytes], **tags) -> str:
    ids = peer.upload(data)
    study = requests.get(f"{peer.url}/instances/{ids[0]}/study", timeout=30).json()["ID"]
    modified = requests.post(f"{peer.url}/studies/{study}/modify", json={"Replace": tags, "Force": True,
                                                                        "KeepSource": False}, timeout=60).json()
    return modified["ID"]


def test_orthanc_pushes_with_the_case_reference_to_the_case(pacs, draft_case):
    peer, _node = pacs
    study = _modify_and_store(peer, ct(2, seed=93), AccessionNumber=draft_case.reference)
    answer = requests.post(f"{peer.url}/modalities/konsil/store", json={"Resources": [study], "Synchronous": True},
                           timeout=120)
    assert answer.ok, answer.text
    assert Study.objects.get(case=draft_case).series.get().instance_count == 2


@pytest.mark.parametrize("method", ["get", "move", "dicomweb"])
def test_a_coordinator_finds_and_retrieves_a_study_into_a_case(pacs, draft_case, coordinator, method):
    peer, node = pacs
    node.retrieve = method
    node.save()
    peer.upload(ct(4, seed=94, name="Pacs^Patient"))
    found = retrieve.find(actor=coordinator, node_id=node.pk, keys={"PatientName": "PACS*"})
    assert len(found) == 1 and found[0]["PatientName"] == "Pacs^Patient"
    study_uid = found[0]["StudyInstanceUID"]
    assert retrieve.find(actor=coordinator, node_id=node.pk, keys={"PatientName": "Nobody*"}) == []
    job = retrieve.start(actor=coordinator, case=draft_case, node_id=node.pk, study_uid=study_uid)
    job.refresh_from_db()  # the test task backend runs it at commit
    assert job.state == RetrieveJob.State.DONE, job.error
    assert job.completed == 4 and job.failed == 0
    study = Study.objects.get(case=draft_case, study_uid=study_uid)
    assert study.series.get().instance_count == 4
    (record,) = Attachment.objects.filter(case=draft_case, parent=None)
    assert record.kind == "study" and record.entries.count() == 4
    assert AuditEvent.objects.filter(action="dicom.pacs.retrieved", object_id=str(job.pk)).exists()
    assert AuditEvent.objects.filter(action="dicom.pacs.find", actor=coordinator).count() == 2
    again = retrieve.start(actor=coordinator, case=draft_case, node_id=node.pk, study_uid=study_uid)
    again.refresh_from_db()  # everything already held: done, nothing stored twice
    assert Study.objects.get(case=draft_case).series.get().instance_count == 4


def test_retrieve_refusals(pacs, draft_case, coordinator, patient_user, other_network):
    _peer, node = pacs
    with pytest.raises(PermissionDenied):
        retrieve.find(actor=patient_user, node_id=node.pk, keys={"PatientName": "A*"})
    with pytest.raises(ValidationFailed):
        retrieve.find(actor=coordinator, node_id=node.pk, keys={})
    with pytest.raises(ValidationFailed):
        retrieve.start(actor=coordinator, case=draft_case, node_id=node.pk, study_uid="1.2; DROP")
    theirs = DicomNode.objects.create(network=other_network, name="Their PACS", ae_title="THEIRS",
                                      host="127.0.0.1", port=1, is_source=True)
    with pytest.raises(PermissionDenied):
        retrieve.start(actor=coordinator, case=draft_case, node_id=theirs.pk, study_uid="1.2.3")
    job = retrieve.start(actor=coordinator, case=draft_case, node_id=node.pk, study_uid="1.2.3.4")
    job.refresh_from_db()  # Orthanc holds no such study: failed with a reason, nothing stored
    assert job.state == RetrieveJob.State.FAILED and job.error in ("pacs_refused", "nothing_retrieved")
    node.port = 1  # nobody listens there
    node.save()
    down = retrieve.start(actor=coordinator, case=draft_case, node_id=node.pk, study_uid="1.2.3.5")
    down.refresh_from_db()
    assert down.state == RetrieveJob.State.FAILED and down.error == "pacs_unavailable"
    assert not Study.objects.exists()


def test_orthanc_dicomweb_pushes_to_konsil_and_pulls_back(live_server, orthanc_factory, draft_case,  # noqa: F811
                                                          patient_user):
    token = api_token(patient_user)
    base = f"{live_server.url}/dicomweb/cases/{draft_case.pk}/"
    peer = orthanc_factory(konsil_port=1, dicomweb_servers={
        "konsil": {"Url": base, "HttpHeaders": {"Authorization": f"Token {token}"}}})
    study = _modify_and_store(peer, ct(3, seed=95))
    pushed = requests.post(f"{peer.url}/dicom-web/servers/konsil/stow", json={"Resources": [study]}, timeout=120)
    assert pushed.ok, pushed.text  # Orthanc's default: a chunked multipart body
    (held,) = Study.objects.filter(case=draft_case)
    assert held.series.get().instance_count == 3
    requests.delete(f"{peer.url}/studies/{study}", timeout=30)
    pulled = requests.post(f"{peer.url}/dicom-web/servers/konsil/retrieve",
                           json={"Resources": [{"Study": held.study_uid}]}, timeout=120)
    assert pulled.ok, pulled.text
    assert len(requests.get(f"{peer.url}/instances", timeout=30).json()) == 3


def test_coordinator_api_search_and_pull(pacs, draft_case, coordinator, patient_user):
    from rest_framework.test import APIClient

    peer, node = pacs
    peer.upload(ct(2, seed=96, name="Api^Patient"))
    api = APIClient()
    api.force_authenticate(coordinator)
    assert [n["ae_title"] for n in api.get("/api/v1/records/pacs/").json()] == ["ORTHANC"]
    found = api.post(f"/api/v1/records/pacs/{node.pk}/find/", {"PatientName": "API*"}, format="json")
    assert found.status_code == 200 and len(found.json()) == 1
    empty = api.post(f"/api/v1/records/pacs/{node.pk}/find/", {}, format="json")
    assert empty.status_code == 400 and "PatientName" in empty.json()["errors"]
    url = f"/api/v1/records/cases/{draft_case.pk}/retrieves/"
    bad = api.post(url, {"node": str(node.pk), "study_uid": "not a uid"}, format="json")
    assert bad.status_code == 400
    pulled = api.post(url, {"node": str(node.pk), "study_uid": found.json()[0]["StudyInstanceUID"]}, format="json")
    assert pulled.status_code == 202 and pulled.json()["state"] == "done" and pulled.json()["completed"] == 2
    assert api.get(url).json()[0]["id"] == pulled.json()["id"]
    api.force_authenticate(patient_user)
    assert api.get("/api/v1/records/pacs/").json() == []
    assert api.post(f"/api/v1/records/pacs/{node.pk}/find/", {"PatientName": "A*"}, format="json").status_code == 403
    assert api.post(url, {"node": str(node.pk), "study_uid": "1.2.3"}, format="json").status_code == 403
