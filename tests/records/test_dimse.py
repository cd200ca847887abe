"""The DICOM listener against real peers: dcmtk's echoscu and storescu (Debian package dcmtk) send to the C-STORE
SCP started in a thread on a free port. Routing by accession number and Konsil reference, the coordinators'
inbox (attach, reject), refusals (unknown calling AE, address, corrupt data), duplicates and audit."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
from datetime import timedelta

import pydicom
import pytest
from django.utils import timezone

from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment
from konsil.core.errors import Conflict, PermissionDenied
from konsil.records import dimse, inbox
from konsil.records.models import InboundStudy, RecordsRequest, RequestStatus, Study

from .records_support import ct, storage_root, stored_names

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True),  # later live-server tests reload
              pytest.mark.skipif(not shutil.which("storescu"), reason="dcmtk (storescu, echoscu) not installed")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listen():
    servers = []

    def start(**options) -> dimse.Config:
        config = dimse.Config(port=free_port(), **options)
        servers.append(dimse.start(config))
        return config
    yield start
    for server in servers:
        server.shutdown()


def echo(config, *, called="KONSIL", calling="ECHOSCU") -> subprocess.CompletedProcess:
    return subprocess.run(["echoscu", "-aet", calling, "-aec", called, "127.0.0.1", str(config.port)],
                          capture_output=True, text=True, timeout=60)


def push(config, tmp_path, datasets: list[bytes], *, calling="PACS", **edits) -> subprocess.CompletedProcess:
    paths = []
    for i, data in enumerate(datasets):
        ds = pydicom.dcmread(io.BytesIO(data))
        for keyword, value in edits.items():
            setattr(ds, keyword, value)
        path = tmp_path / f"IM{i}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return subprocess.run(["storescu", "-aet", calling, "-aec", config.ae_title, "127.0.0.1", str(config.port),
                           *paths], capture_output=True, text=True, timeout=120)


def test_echo_and_refusals(listen):
    config = listen()
    assert echo(config).returncode == 0
    assert echo(config, called="SOMEONE").returncode != 0  # called AE title must be ours
    strict = listen(allowed_aets=["PACS"])
    assert echo(strict, calling="PACS").returncode == 0
    assert echo(strict, calling="INTRUDER").returncode != 0
    elsewhere = listen(allowed_networks=["10.0.0.0/8"])
    assert echo(elsewhere).returncode != 0  # loopback is not in the allowed networks


def test_config_from_env(monkeypatch):
    monkeypatch.setenv("KONSIL_DICOM_AE_TITLE", "HOSPITAL")
    monkeypatch.setenv("KONSIL_DICOM_PORT", "11200")
    monkeypatch.setenv("KONSIL_DICOM_ALLOWED_AE_TITLES", "PACS1, PACS2")
    monkeypatch.setenv("KONSIL_DICOM_ALLOWED_ADDRESSES", "192.168.1.0/24")
    config = dimse.Config.from_env()
    assert (config.ae_title, config.port, config.allowed_aets) == ("HOSPITAL", 11200, ["PACS1", "PACS2"])
    assert config.address_allowed("192.168.1.7") and not config.address_allowed("127.0.0.1")
    assert dimse.Config().address_allowed("127.0.0.1") and dimse.Config().address_allowed("::1")
    assert not dimse.Config().address_allowed("192.168.1.7") and dimse.Config().ssl_context() is None


def test_storescu_routes_by_konsil_reference(listen, tmp_path, draft_case):
    config = listen()
    result = push(config, tmp_path, ct(3, seed=61), AccessionNumber=draft_case.reference)
    assert result.returncode == 0, result.stderr
    study = Study.objects.get(case=draft_case)
    assert study.series.get().instance_count == 3
    (record,) = Attachment.objects.filter(case=draft_case, parent=None)
    assert record.kind == "study" and record.entries.count() == 3 and record.detail["images"] == 3
    assert AuditEvent.objects.filter(action="dicom.receive", patient_id=draft_case.patient_id).count() == 3
    again = push(config, tmp_path, ct(3, seed=61), AccessionNumber=draft_case.reference)
    assert again.returncode == 0  # duplicates are acknowledged, not stored twice
    assert Study.objects.get(case=draft_case).series.get().instance_count == 3


def test_storescu_routes_by_records_request_accession(listen, tmp_path, draft_case, coordinator):
    request = RecordsRequest.objects.create(case=draft_case, item="imaging", label="CT chest",
                                            due_on=timezone.localdate() + timedelta(days=5),
                                            requested_by=coordinator)
    assert request.accession_number.startswith("KA") and len(request.accession_number) <= 16
    config = listen()
    result = push(config, tmp_path, ct(2, seed=62), AccessionNumber=request.accession_number)
    assert result.returncode == 0, result.stderr
    assert Study.objects.get(case=draft_case).accession_number == request.accession_number
    request.refresh_from_db()
    assert request.status == RequestStatus.RECEIVED and request.received_at is not None
    assert Attachment.objects.get(case=draft_case, parent=None).uploaded_by == coordinator


def test_unmatched_study_waits_in_the_inbox_then_attached(listen, tmp_path, draft_case, coordinator,
                                                         patient_user):
    identity = draft_case.identity
    config = listen()
    result = push(config, tmp_path, ct(2, seed=63), AccessionNumber="UNKNOWN1",
                  PatientName=f"{identity.family_name}^{identity.given_name}",
                  PatientBirthDate=identity.birth_date.strftime("%Y%m%d"))
    assert result.returncode == 0, result.stderr
    assert not Study.objects.filter(case=draft_case).exists()
    again = push(config, tmp_path, ct(2, seed=63), AccessionNumber="UNKNOWN1")  # sent twice: held once
    assert again.returncode == 0, again.stderr
    (item,) = InboundStudy.objects.all()
    assert item.state == "pending" and item.instance_count == 2 and item.calling_ae == "PACS"
    assert all(part["name"] in stored_names() for part in item.parts)
    held = [(storage_root() / part["name"]).read_bytes() for part in item.parts]
    assert len(held) == 2 and not any(identity.family_name.encode() in blob for blob in held)  # encrypted
    assert [item] == inbox.inbox_for(coordinator)
    suggested = inbox.suggestions(coordinator, item)
    assert suggested and suggested[0][0] == draft_case and "same birth date" in suggested[0][1]
    with pytest.raises(PermissionDenied):
        inbox.inbox_for(patient_user)
    assert inbox.attach(actor=coordinator, item=item, case=draft_case) == 2
    assert Study.objects.get(case=draft_case).series.get().instance_count == 2
    item.refresh_from_db()
    assert item.state == "attached" and item.parts == [] and item.case == draft_case
    with pytest.raises(Conflict):
        inbox.attach(actor=coordinator, item=item, case=draft_case)
    assert AuditEvent.objects.filter(action="dicom.inbox.attach", actor=coordinator).exists()


def test_inbox_reject_deletes_the_instances(listen, tmp_path, coordinator):
    config = listen()
    assert push(config, tmp_path, ct(1, seed=64)).returncode == 0
    item = InboundStudy.objects.get()
    names = [part["name"] for part in item.parts]
    inbox.reject(actor=coordinator, item=item)
    item.refresh_from_db()
    assert item.state == "rejected" and item.parts == []
    assert not set(names) & stored_names()
    assert AuditEvent.objects.filter(action="dicom.inbox.reject", actor=coordinator).exists()


def test_corrupt_dataset_refused_nothing_stored(draft_case):
    good = ct(1, seed=65)[0]
    cut = good[: len(good) - 500]
    assert dimse.store_instance(cut, calling_ae="PACS", address="127.0.0.1") == dimse.CANNOT_UNDERSTAND
    assert dimse.store_instance(b"not dicom") == dimse.CANNOT_UNDERSTAND
    assert not InboundStudy.objects.exists() and not Attachment.objects.exists()


def test_inbox_page_attach_and_reject(listen, tmp_path, client, login, draft_case, coordinator, patient_user):
    config = listen()
    assert push(config, tmp_path, ct(2, seed=66), AccessionNumber="NOPE").returncode == 0
    item = InboundStudy.objects.get()
    login(client, patient_user)
    assert client.get("/records/imaging-inbox/").status_code == 403
    client.logout()
    login(client, coordinator)
    page = client.get("/records/imaging-inbox/")
    assert page.status_code == 200 and b"Imaging inbox" in page.content
    bad = client.post(f"/records/imaging-inbox/{item.pk}/", {"action": "attach", "case": "K-00000000"},
                      follow=True)
    assert bad.status_code == 200 and b"Choose a case you coordinate" in bad.content
    assert InboundStudy.objects.get().state == "pending" and not Study.objects.exists()
    done = client.post(f"/records/imaging-inbox/{item.pk}/", {"action": "attach", "case": draft_case.reference},
                       follow=True)
    assert done.status_code == 200 and b"2 images attached" in done.content
    assert Study.objects.get(case=draft_case).series.get().instance_count == 2
    assert push(config, tmp_path, ct(1, seed=67)).returncode == 0
    second = InboundStudy.objects.get(state="pending")
    client.post(f"/records/imaging-inbox/{second.pk}/", {"action": "reject"})
    assert InboundStudy.objects.get(pk=second.pk).state == "rejected"


def test_echo_over_tls(listen, tmp_path):
    """TLS when a certificate is configured: dcmtk's echoscu over TLS succeeds, a plain TCP caller fails."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                           "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
                          capture_output=True, timeout=60)
    if made.returncode != 0:
        pytest.skip("openssl could not make a certificate")
    config = listen(tls_cert=str(cert), tls_key=str(key))
    secure = subprocess.run(["echoscu", "-aec", "KONSIL", "+tla", "-ic", "127.0.0.1", str(config.port)],
                            capture_output=True, text=True, timeout=60)
    assert secure.returncode == 0, secure.stderr
    assert echo(config).returncode != 0
