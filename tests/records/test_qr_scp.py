"""The listener's Query/Retrieve SCP against dcmtk's findscu, getscu and movescu (Debian package dcmtk): C-FIND at
every level of the study and patient roots, C-GET, C-MOVE, scoped to the calling node's network, unknown callers
refused, everything audited."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest

from konsil.audit.models import AuditEvent
from konsil.records.models import DicomNode, Study

from .records_support import ct
from .test_dimse import free_port, listen, push  # noqa: F401 -- the listener fixture

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True),
              pytest.mark.skipif(not shutil.which("findscu"), reason="dcmtk (findscu, getscu, movescu) not installed")]


@pytest.fixture
def nodes(network, other_network):
    """A PACS that pushes, a workstation that queries, and a node of another network that also queries."""
    return {
        "pacs": DicomNode.objects.create(network=network, name="Hospital PACS", ae_title="PACS"),
        "qr": DicomNode.objects.create(network=network, name="Reading room", ae_title="READER", may_query=True,
                                       may_store=False),
        "other": DicomNode.objects.create(network=other_network, name="Elsewhere", ae_title="ELSEWHERE",
                                          may_query=True),
    }


@pytest.fixture
def held_study(listen, tmp_path, draft_case, nodes):  # noqa: F811 -- pytest fixture injection
    config = listen()
    folder = tmp_path / "push"
    folder.mkdir()
    result = push(config, folder, ct(3, seed=71), AccessionNumber=draft_case.reference)
    assert result.returncode == 0, result.stderr
    return config, Study.objects.get(case=draft_case)


def find(config, out: Path, *keys: str, calling="READER", root="-S") -> tuple[subprocess.CompletedProcess, list]:
    out.mkdir(exist_ok=True)
    args = ["findscu", root, "-aet", calling, "-aec", config.ae_title, "-X", "-od", str(out)]
    for key in keys:
        args += ["-k", key]
    result = subprocess.run([*args, "127.0.0.1", str(config.port)], capture_output=True, text=True, timeout=60)
    return result, [pydicom.dcmread(p) for p in sorted(out.glob("rsp*.dcm"))]


def test_find_every_level_of_the_study_root(held_study, tmp_path, draft_case):
    config, study = held_study
    result, answers = find(config, tmp_path / "s", "QueryRetrieveLevel=STUDY", "StudyInstanceUID=",
                           "PatientName=", "PatientID=", "ModalitiesInStudy=", "NumberOfStudyRelatedInstances=")
    assert result.returncode == 0, result.stderr
    (answer,) = answers
    identity = draft_case.identity
    assert answer.StudyInstanceUID == study.study_uid and answer.PatientID == draft_case.reference
    assert str(answer.PatientName) == f"{identity.family_name}^{identity.given_name}"
    assert answer.ModalitiesInStudy == "CT" and int(answer.NumberOfStudyRelatedInstances) == 3
    _r, none = find(config, tmp_path / "n", "QueryRetrieveLevel=STUDY", "PatientName=Nobody*", "StudyInstanceUID=")
    assert none == []
    _r, by_date = find(config, tmp_path / "d", "QueryRetrieveLevel=STUDY", "StudyDate=19000101-19000102",
                       "StudyInstanceUID=")
    assert by_date == []
    _r, series = find(config, tmp_path / "se", "QueryRetrieveLevel=SERIES", f"StudyInstanceUID={study.study_uid}",
                      "SeriesInstanceUID=", "Modality=CT", "NumberOfSeriesRelatedInstances=")
    assert len(series) == 1 and int(series[0].NumberOfSeriesRelatedInstances) == 3
    _r, images = find(config, tmp_path / "i", "QueryRetrieveLevel=IMAGE", f"StudyInstanceUID={study.study_uid}",
                      f"SeriesInstanceUID={series[0].SeriesInstanceUID}", "SOPInstanceUID=", "InstanceNumber=")
    assert len(images) == 3 and len({i.SOPInstanceUID for i in images}) == 3
    events = AuditEvent.objects.filter(action="dicom.find", patient_id=draft_case.patient_id)
    assert events.count() >= 3 and events.first().actor_label == "dicom:READER"


def test_find_patient_root(held_study, tmp_path, draft_case):
    config, study = held_study
    result, patients = find(config, tmp_path / "p", "QueryRetrieveLevel=PATIENT", f"PatientID={draft_case.reference}",
                            "PatientName=", "NumberOfPatientRelatedStudies=", root="-P")
    assert result.returncode == 0, result.stderr
    assert len(patients) == 1 and int(patients[0].NumberOfPatientRelatedStudies) == 1
    _r, studies = find(config, tmp_path / "ps", "QueryRetrieveLevel=STUDY", f"PatientID={draft_case.reference}",
                       "StudyInstanceUID=", root="-P")
    assert [s.StudyInstanceUID for s in studies] == [study.study_uid]
    _r, refused = find(config, tmp_path / "sr", "QueryRetrieveLevel=PATIENT", "PatientID=")  # not in study root
    assert refused == []


def test_scoped_to_the_calling_nodes_network_and_refusals(held_study, tmp_path, draft_case):
    config, _study = held_study
    _r, theirs = find(config, tmp_path / "o", "QueryRetrieveLevel=STUDY", "StudyInstanceUID=", calling="ELSEWHERE")
    assert theirs == []  # another network's node sees none of this network's imaging
    unknown, _ = find(config, tmp_path / "u", "QueryRetrieveLevel=STUDY", "StudyInstanceUID=", calling="NOBODY")
    assert unknown.returncode != 0  # unknown calling AE: association rejected
    pusher, none = find(config, tmp_path / "pp", "QueryRetrieveLevel=STUDY", "StudyInstanceUID=", calling="PACS")
    assert none == []  # a node that may only push gets a refusal, not data
    assert AuditEvent.objects.filter(action="dicom.query", outcome="denied").exists()
    bad, none = find(config, tmp_path / "b", "QueryRetrieveLevel=STUDY", "StudyDate=notadate", "StudyInstanceUID=")
    assert none == []
    assert echo_ok(config)  # the listener is still up after every refusal


def echo_ok(config) -> bool:
    return subprocess.run(["echoscu", "-aet", "READER", "-aec", config.ae_title, "127.0.0.1", str(config.port)],
                          capture_output=True, timeout=60).returncode == 0


def test_get_sends_the_study_over_the_callers_association(held_study, tmp_path, draft_case):
    config, study = held_study
    out = tmp_path / "get"
    out.mkdir()
    result = subprocess.run(["getscu", "-S", "-aet", "READER", "-aec", config.ae_title, "-od", str(out),
                             "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study.study_uid}",
                             "127.0.0.1", str(config.port)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    received = [pydicom.dcmread(p) for p in out.iterdir()]
    assert len(received) == 3 and {d.StudyInstanceUID for d in received} == {study.study_uid}
    event = AuditEvent.objects.get(action="dicom.retrieve", patient_id=draft_case.patient_id)
    assert event.detail["count"] == 3
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["getscu", "-S", "-aet", "ELSEWHERE", "-aec", config.ae_title, "-od", str(other),
                    "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study.study_uid}",
                    "127.0.0.1", str(config.port)], capture_output=True, text=True, timeout=120)
    assert list(other.iterdir()) == []


def test_move_to_a_destination_node_of_the_same_network(held_study, tmp_path, draft_case, network, nodes):
    config, study = held_study
    port = free_port()
    DicomNode.objects.create(network=network, name="Workstation", ae_title="MOVESCU", host="127.0.0.1", port=port,
                             may_store=False)
    out = tmp_path / "move"
    out.mkdir()
    args = ["movescu", "-S", "-aet", "READER", "-aec", config.ae_title, "-aem", "MOVESCU", "+P", str(port),
            "-od", str(out), "-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={study.study_uid}",
            "-k", f"SeriesInstanceUID={study.series.get().series_uid}", "127.0.0.1", str(config.port)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(list(out.iterdir())) == 3
    unknown = subprocess.run(["movescu", "-v", "-S", "-aet", "READER", "-aec", config.ae_title, "-aem", "STRANGER",
                              "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study.study_uid}",
                              "127.0.0.1", str(config.port)], capture_output=True, text=True, timeout=120)
    assert "MoveDestinationUnknown" in unknown.stderr + unknown.stdout  # 0xA801
    assert AuditEvent.objects.filter(action="dicom.retrieve", outcome="denied").exists()
