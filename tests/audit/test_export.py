"""The trail exported as FHIR R4 AuditEvent (IHE BALP) and as RFC 5424 syslog lines."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from konsil import cli
from konsil.audit import export
from konsil.audit.models import AuditEvent
from konsil.audit.services import emit
from konsil.core import context

SYSLOG = re.compile(r"^<(\d{1,3})>1 (\S+) (\S+) konsil - (\S+) "
                    r"\[konsil@32473( [a-zA-Z]+=\"(?:[^\"\\\]]|\\.)*\")+\] .*$")


@pytest.fixture
def events(db, patient_user):
    token = context.set_current(context.RequestContext(ip="198.51.100.7", channel="api"))
    try:
        patient = uuid.uuid4()
        emit(actor=patient_user, action="case.read", object_type="cases.case", object_id="c1",
             patient_id=patient, role="patient")
        emit(actor=patient_user, action="case.create", object_type="cases.case", object_id="c2",
             patient_id=patient, role="patient", detail={"note": 'quote " and ] bracket'})
        emit(actor='evil"] <x>', action="case.update", outcome="denied", role="coordinator",
             purpose="operations")
    finally:
        context.reset(token)
    return list(AuditEvent.objects.order_by("seq"))


def test_fhir_audit_event_balp_shape(events):
    read = export.to_fhir(events[0])
    assert read["resourceType"] == "AuditEvent"
    assert read["meta"]["profile"] == [export.BALP + "IHE.BasicAudit.PatientRead"]
    assert (read["action"], read["outcome"]) == ("R", "0")
    assert read["entity"][0]["what"]["reference"] == f"Patient/{events[0].patient_id}"
    assert read["entity"][0]["role"]["code"] == "1"
    assert read["agent"][0]["network"] == {"address": "198.51.100.7", "type": "2"}
    assert read["agent"][0]["requestor"] is True
    assert read["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"
    chain = {e["url"]: list(e.values())[1] for e in read["extension"][0]["extension"]}
    assert chain == {"seq": 1, "hash": events[0].hash, "alg": "hmac-sha256"}
    assert read["recorded"].endswith("Z")
    assert export.to_fhir(events[1])["action"] == "C"
    denied = export.to_fhir(events[2])
    assert (denied["action"], denied["outcome"], denied["meta"]["profile"][0].endswith("BasicAudit.Update")) == (
        "U", "4", True)
    assert denied["purposeOfEvent"][0]["coding"][0]["code"] == "HOPERAT"
    assert "entity" not in denied


def test_syslog_lines_follow_rfc5424(events):
    lines = [export.to_syslog(e, hostname="host one") for e in events]
    for line in lines:
        assert SYSLOG.match(line), line
    assert lines[0].startswith("<86>1 ")  # authpriv.info
    assert lines[2].startswith("<85>1 ")  # denied: authpriv.notice
    assert ' hostone ' in lines[0]
    assert 'actor="evil\\"\\] <x>"' in lines[2]
    assert f'hash="{events[0].hash}"' in lines[0]


@pytest.mark.parametrize("fmt", ["fhir", "syslog"])
def test_cli_export(events, fmt, tmp_path, capsys):
    out = tmp_path / "trail.txt"
    assert cli.main(["audit", "export", "--format", fmt, "--since", "1", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 2
    if fmt == "fhir":
        assert [json.loads(line)["id"] for line in lines] == [str(e.id) for e in events[1:]]
    exported = AuditEvent.objects.get(action="audit.export")
    assert exported.detail == {"format": fmt, "since": 1, "events": 2}
    assert cli.main(["audit", "export", "--format", fmt]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4


def test_cli_export_refuses_an_unknown_format(db):
    with pytest.raises(SystemExit):
        cli.main(["audit", "export", "--format", "csv"])


@pytest.mark.parametrize(("action", "code"), [("attachment.download", "R"), ("upload.cancel", "D"),
                                              ("opinion.save_draft", "U"), ("auth.login", "E"),
                                              ("case.create", "C")])
def test_crud_mapping(action, code):
    assert export.crud(action) == code
