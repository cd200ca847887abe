"""The trail in the shapes other systems read: FHIR R4 AuditEvent (IHE BALP) and RFC 5424 syslog lines.

Both carry each event's sequence number and chain hash, so a SIEM or an audit repository holding the export can
later show that the database still agrees with what it received.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Iterator
from datetime import UTC

from .models import AuditEvent, Outcome

BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
READ_WORDS = ("read", "list", "download", "pdf", "preview", "frame", "thumbnail", "view", "candidates", "export")
CREATE_WORDS = ("create", "upload", "sign", "propose", "request", "share", "submit", "seed", "import", "assemble")
DELETE_WORDS = ("delete", "revoke", "cancel", "dissolve", "purge")
PURPOSES = {"treatment": "TREAT", "emergency": "ETREAT", "operations": "HOPERAT", "compliance": "HOPERAT",
            "payment": "HPAYMT", "patient": "PATRQT"}
OUTCOMES = {Outcome.SUCCESS: "0", Outcome.DENIED: "4", Outcome.FAILURE: "8"}
SEVERITY = {Outcome.SUCCESS: 6, Outcome.DENIED: 5, Outcome.FAILURE: 4}  # info, notice, warning
FACILITY_AUTHPRIV = 10
SD_ID = "konsil@32473"  # 32473: the private enterprise number RFC 5612 reserves for documentation; set your own


def crud(action: str) -> str:
    """The FHIR AuditEvent.action code (C, R, U, D, E) for a Konsil action."""
    verb = action.rpartition(".")[2]
    if any(word in verb for word in DELETE_WORDS):
        return "D"
    if any(word in verb for word in READ_WORDS):
        return "R"
    if any(word in verb for word in CREATE_WORDS):
        return "C"
    if "update" in verb or "save" in verb or "set" in verb or "amend" in verb:
        return "U"
    return "E"


def _recorded(event: AuditEvent) -> str:
    return event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_fhir(event: AuditEvent) -> dict:
    """One event as a FHIR R4 AuditEvent shaped after IHE BALP (PatientRead/PatientCreate/... when a patient)."""
    action = crud(event.action)
    kind = {"R": "Read", "C": "Create", "U": "Update", "D": "Delete", "E": "Query"}[action]
    profile = f"IHE.BasicAudit.Patient{kind}" if event.patient_id else f"IHE.BasicAudit.{kind}"
    user = {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                 "code": "IRCP", "display": "information recipient"}]},
            "who": {"identifier": {"system": "urn:konsil:user",
                                   "value": str(event.actor_id) if event.actor_id else event.actor_label},
                    "display": event.actor_label},
            "requestor": True}
    if event.role:
        user["role"] = [{"coding": [{"system": "urn:konsil:role", "code": event.role}]}]
    if event.ip:
        user["network"] = {"address": event.ip, "type": "2"}
    entities = []
    if event.patient_id:
        entities.append({"what": {"reference": f"Patient/{event.patient_id}"},
                         "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1",
                                  "display": "Person"},
                         "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1",
                                  "display": "Patient"}})
    if event.object_type or event.object_id:
        entities.append({"what": {"identifier": {"system": f"urn:konsil:{event.object_type or 'object'}",
                                                 "value": event.object_id}},
                         "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2",
                                  "display": "System Object"},
                         "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "4",
                                  "display": "Domain Resource"}})
    resource = {
        "resourceType": "AuditEvent",
        "id": str(event.id),
        "meta": {"profile": [BALP + profile]},
        "extension": [{"url": "urn:konsil:audit-chain", "extension": [
            {"url": "seq", "valueInteger": event.seq}, {"url": "hash", "valueString": event.hash},
            {"url": "alg", "valueString": event.alg}]}],
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
                 "display": "Restful Operation"},
        "subtype": [{"system": "urn:konsil:action", "code": event.action}],
        "action": action,
        "recorded": _recorded(event),
        "outcome": OUTCOMES.get(event.outcome, "8"),
        "purposeOfEvent": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                        "code": PURPOSES.get(event.purpose, "HOPERAT")}]}],
        "agent": [user],
        "source": {"observer": {"display": "Konsil"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4",
                             "display": "Application Server"}]},
    }
    if event.channel:
        resource["source"]["site"] = event.channel
    if entities:
        resource["entity"] = entities
    return resource


def _sd_value(value) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _ascii_token(value: str, limit: int) -> str:
    """RFC 5424 header fields: printable US-ASCII without spaces, '-' when empty."""
    token = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return token or "-"


def to_syslog(event: AuditEvent, hostname: str | None = None) -> str:
    """One RFC 5424 line: <PRI>1 TIMESTAMP HOST konsil - MSGID [konsil@32473 ...] message."""
    pri = FACILITY_AUTHPRIV * 8 + SEVERITY.get(event.outcome, 4)
    host = _ascii_token(hostname or socket.gethostname(), 255)
    params = {"seq": event.seq, "action": event.action, "outcome": event.outcome, "actor": event.actor_label,
              "role": event.role, "objectType": event.object_type, "objectId": event.object_id,
              "patient": event.patient_id or "", "purpose": event.purpose, "ip": event.ip or "",
              "channel": event.channel, "alg": event.alg, "hash": event.hash}
    sd = "[" + SD_ID + "".join(f' {name}="{_sd_value(value)}"' for name, value in params.items() if value != "") + "]"
    message = f"{event.actor_label} {event.action} {event.object_type}/{event.object_id} {event.outcome}"
    return f"<{pri}>1 {_recorded(event)} {host} konsil - {_ascii_token(event.action, 32)} {sd} {message}"


def events(since_seq: int = 0) -> Iterator[AuditEvent]:
    return AuditEvent.objects.filter(seq__gt=since_seq).order_by("seq").iterator(chunk_size=2000)


def lines(fmt: str, items: Iterable[AuditEvent]) -> Iterator[str]:
    """NDJSON FHIR AuditEvents, or syslog lines."""
    for event in items:
        if fmt == "fhir":
            yield json.dumps(to_fhir(event), ensure_ascii=False, separators=(",", ":"))
        else:
            yield to_syslog(event)
