"""FHIR R4 import: a Bundle (Synthea, patient portal) or a single resource turned into a clinical summary.

Plain dict extraction over ``json``: no validation library, and every field is optional, because portal
exports are sparse and odd. Items are plain dicts so the summary stores as JSON; each one carries
``source`` ({"resourceType", "id"}) to link back to the record and ``date`` (ISO string or None).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .errors import RecordRejected
from .fhir_extract import EXTRACTORS, Index, as_dict, as_list, flatten, newest_first, patient_item, sort_key, text_of

SCHEMA_VERSION = 1
OBSERVATIONS_PER_CODE = 3
AS_TEXT_LIMIT = 20_000
ICD10_SYSTEMS = frozenset({
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://hl7.org/fhir/sid/icd-10",
    "urn:oid:2.16.840.1.113883.6.90",
    "urn:oid:2.16.840.1.113883.6.3",
})
SNOMED_SYSTEMS = frozenset({"http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96"})
VOID_VERIFICATION = frozenset({"entered-in-error", "refuted"})
ACTIVE_CONDITION_STATUSES = frozenset({"active", "recurrence", "relapse"})
CURRENT_MEDICATION_STATUSES = frozenset({"active", "on-hold", "intended", "draft", "unknown"})

SECTIONS = ("conditions", "medications", "procedures", "allergies", "observations", "immunizations",
            "encounters", "imaging_studies", "diagnostic_reports", "documents")
TIMELINE_KIND = {
    "conditions": "condition", "medications": "medication", "procedures": "procedure", "allergies": "allergy",
    "observations": "observation", "immunizations": "immunization", "encounters": "encounter",
    "imaging_studies": "imaging", "diagnostic_reports": "report", "documents": "document",
}
TIMELINE_LABEL_KEY = {
    "conditions": "display", "medications": "name", "procedures": "display", "allergies": "substance",
    "immunizations": "vaccine", "encounters": "type", "imaging_studies": "description",
    "diagnostic_reports": "title", "documents": "type",
}


# ---------------------------------------------------------------------------------------------- parsing


def parse(data: bytes) -> dict:
    """Decode FHIR JSON bytes into a resource dict, or raise RecordRejected."""
    if not data or not data.strip():
        raise RecordRejected("empty", "no JSON content")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecordRejected("fhir_invalid_json", f"not UTF-8 at byte {exc.start}") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise RecordRejected("fhir_invalid_json", "JSON nested too deeply") from None
    except ValueError as exc:
        detail = f"{exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) \
            else "unreadable JSON"
        raise RecordRejected("fhir_invalid_json", detail) from None
    check_resource(value)
    return value


def check_resource(value: Any) -> None:
    """Raise RecordRejected("fhir_invalid") unless value looks like a FHIR resource or Bundle."""
    if not isinstance(value, dict):
        raise RecordRejected("fhir_invalid", f"top-level JSON is {type(value).__name__}, not an object")
    resource_type = value.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type.strip():
        raise RecordRejected("fhir_invalid", "no string resourceType")
    if resource_type == "Bundle" and "entry" in value and not isinstance(value["entry"], list):
        raise RecordRejected("fhir_invalid", "Bundle.entry is not a list")


# ---------------------------------------------------------------------------------------------- summary


class TimelineEntry(NamedTuple):
    date: str
    kind: str
    label: str
    source: dict


@dataclass
class ClinicalSummary:
    """What a FHIR import says about the patient, as JSON-ready lists of items (newest first)."""

    patient: dict | None = None
    conditions: list[dict] = field(default_factory=list)
    medications: list[dict] = field(default_factory=list)
    procedures: list[dict] = field(default_factory=list)
    allergies: list[dict] = field(default_factory=list)
    observations: list[dict] = field(default_factory=list)
    immunizations: list[dict] = field(default_factory=list)
    encounters: list[dict] = field(default_factory=list)
    imaging_studies: list[dict] = field(default_factory=list)
    diagnostic_reports: list[dict] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)  # resource types with no section here, counted
    unreadable: dict[str, int] = field(default_factory=dict)  # resources whose extraction failed (a safety net)
    nonconforming: dict[str, int] = field(default_factory=dict)  # not valid R4 (fhir.resources), read tolerantly

    @property
    def counts(self) -> dict[str, int]:
        return {"patients": int(self.patient is not None)} | {name: len(getattr(self, name)) for name in SECTIONS}

    @property
    def active_conditions(self) -> list[dict]:
        """Conditions still active (or with no status and no abatement), not entered in error or refuted."""
        return [c for c in self.conditions if c.get("verification_status") not in VOID_VERIFICATION and (
            c.get("clinical_status") in ACTIVE_CONDITION_STATUSES
            or (not c.get("clinical_status") and not c.get("abatement")))]

    @property
    def current_medications(self) -> list[dict]:
        return [m for m in self.medications if (m.get("status") or "unknown") in CURRENT_MEDICATION_STATUSES]

    def icd10_codes(self, *, active_only: bool = False) -> list[str]:
        """ICD-10(-CM) codes of the conditions, first seen first."""
        return self._condition_codes(ICD10_SYSTEMS, active_only)

    def snomed_codes(self, *, active_only: bool = False) -> list[str]:
        """SNOMED CT codes of the conditions (what Synthea uses), first seen first."""
        return self._condition_codes(SNOMED_SYSTEMS, active_only)

    def _condition_codes(self, systems: frozenset[str], active_only: bool) -> list[str]:
        conditions = self.active_conditions if active_only else self.conditions
        codes = (c.get("code") for cond in conditions for c in cond.get("codes") or [] if c.get("system") in systems)
        return list(dict.fromkeys(code for code in codes if code))

    def timeline(self) -> list[TimelineEntry]:
        """Every dated item as (date, kind, label, source), newest first."""
        entries = [TimelineEntry(item["date"], TIMELINE_KIND[name], _timeline_label(name, item), item.get("source"))
                   for name in SECTIONS for item in getattr(self, name) if item.get("date")]
        return sorted(entries, key=lambda entry: sort_key(entry.date), reverse=True)

    def as_text(self, limit: int = AS_TEXT_LIMIT) -> str:
        """Plain text for the triage engine: problems, medications, allergies, results, procedures, notes."""
        text = "\n\n".join(block for block in _text_blocks(self) if block)
        marker = "\n[truncated]"
        if len(text) <= limit:
            return text
        return text[:limit] if limit <= len(marker) else text[: limit - len(marker)] + marker

    def to_dict(self) -> dict:
        """JSON-ready form (with derived counts) for storage."""
        data = {"schema": SCHEMA_VERSION, "patient": self.patient, "ignored": self.ignored,
                "unreadable": self.unreadable, "nonconforming": self.nonconforming, "counts": self.counts}
        return data | {name: getattr(self, name) for name in SECTIONS}

    @classmethod
    def from_dict(cls, data: dict) -> ClinicalSummary:
        """Rebuild from to_dict() output; missing sections come back empty."""
        data = as_dict(data)
        sections = {name: [i for i in as_list(data.get(name)) if isinstance(i, dict)] for name in SECTIONS}
        return cls(patient=data.get("patient") if isinstance(data.get("patient"), dict) else None,
                   ignored=dict(as_dict(data.get("ignored"))), unreadable=dict(as_dict(data.get("unreadable"))),
                   nonconforming=dict(as_dict(data.get("nonconforming"))), **sections)


def _timeline_label(section: str, item: dict) -> str:
    if section == "observations":
        return f"{item.get('display')}: {item['value']}" if item.get("value") else str(item.get("display"))
    return str(item.get(TIMELINE_LABEL_KEY[section]) or TIMELINE_KIND[section])


def summarize(resource: dict, *, observations_per_code: int = OBSERVATIONS_PER_CODE) -> ClinicalSummary:
    """Summarize a parsed FHIR resource or Bundle; unknown resource types are counted, never fatal."""
    check_resource(resource)
    resources = list(flatten(resource))
    index = Index(resources)
    summary = ClinicalSummary()
    ignored, unreadable, nonconforming = Counter(), Counter(), Counter()
    for _full_url, item in resources:
        resource_type = text_of(item.get("resourceType")) or "(no resourceType)"
        if (resource_type == "Patient" or resource_type in EXTRACTORS) and not conforms(item):
            nonconforming[resource_type] += 1
        try:
            _add(summary, resource_type, item, index, ignored)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            unreadable[resource_type] += 1
    for name in SECTIONS:
        setattr(summary, name, newest_first(getattr(summary, name)))
    summary.observations = _latest_per_code(summary.observations, observations_per_code)
    summary.ignored, summary.unreadable = dict(ignored), dict(unreadable)
    summary.nonconforming = dict(nonconforming)
    return summary


def conforms(resource: dict) -> bool:
    """Whether the resource is valid R4 as the fhir.resources models read it (the library the FHIR API uses).

    Real-world exports often are not (a missing required status, a date in the wrong shape); those are still
    read, field by field, by the tolerant extractors here, and counted so the summary says so."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except (KeyError, ValueError, TypeError):  # pydantic's ValidationError is a ValueError
        return False
    return True


def _add(summary: ClinicalSummary, resource_type: str, resource: dict, index: Index, ignored: Counter) -> None:
    if resource_type == "Patient":
        if summary.patient is None:
            summary.patient = patient_item(resource, index)
        else:
            ignored["Patient"] += 1
        return
    if resource_type not in EXTRACTORS:
        ignored[resource_type] += 1
        return
    section, extract = EXTRACTORS[resource_type]
    getattr(summary, section).append(extract(resource, index))


def _latest_per_code(observations: list[dict], keep: int) -> list[dict]:
    """The newest `keep` observations of each code (input already newest first)."""
    seen: Counter = Counter()
    kept = []
    for observation in observations:
        key = (observation.get("system"), observation.get("code")) if observation.get("code") \
            else ("display", (observation.get("display") or "").lower())
        seen[key] += 1
        if seen[key] <= keep:
            kept.append(observation)
    return kept


# ---------------------------------------------------------------------------------------------- plain text


def _day(date: str | None) -> str:
    return (date or "undated")[:10]


def _codes_note(item: dict) -> str:
    codes = [c["code"] for c in item.get("codes") or [] if c.get("code")]
    return f" [{', '.join(codes[:2])}]" if codes else ""


def _block(title: str, lines: list[str], cap: int) -> str:
    if not lines:
        return ""
    more = f"\n- ... {len(lines) - cap} more" if len(lines) > cap else ""
    return f"{title}:\n" + "\n".join(f"- {line}" for line in lines[:cap]) + more


def _text_blocks(summary: ClinicalSummary) -> list[str]:
    active = summary.active_conditions
    past = _except(summary.conditions, active)
    current = summary.current_medications
    earlier = _except(summary.medications, current)
    return [
        _patient_line(summary.patient),
        _block("Active problems", [f"{c.get('display')}{_codes_note(c)} since {_day(c.get('onset'))}"
                                   for c in active], 60),
        _block("Current medications", [_medication_line(m) for m in current], 60),
        _block("Allergies", [_allergy_line(a) for a in summary.allergies], 30),
        _block("Recent results", _result_lines(summary.observations), 60),
        _block("Procedures", [f"{_day(p.get('date'))} {p.get('display')}" for p in summary.procedures], 30),
        _block("Imaging", [f"{_day(i.get('date'))} {i.get('description')}" for i in summary.imaging_studies], 20),
        _block("Past problems", [f"{c.get('display')} ({_day(c.get('onset'))} to {_day(c.get('abatement'))})"
                                 for c in past], 30),
        _block("Past medications", [_medication_line(m) for m in earlier], 20),
        _block("Reports", [_report_line(r) for r in summary.diagnostic_reports if r.get("conclusion")], 20),
        _notes_block(summary),
    ]


def _except(items: list[dict], chosen: list[dict]) -> list[dict]:
    chosen_ids = {id(item) for item in chosen}
    return [item for item in items if id(item) not in chosen_ids]


def _patient_line(patient: dict | None) -> str:
    """Sex, birth date and death only: the triage engine needs no name or address."""
    if not patient:
        return ""
    parts = [patient.get("gender") or "sex unknown", f"born {patient.get('birth_date') or 'unknown'}"]
    if patient.get("deceased"):
        parts.append(f"deceased {patient.get('deceased_date') or ''}".strip())
    return "Patient: " + ", ".join(parts)


def _medication_line(medication: dict) -> str:
    details = [medication.get("status"), medication.get("dosage")]
    reasons = medication.get("reasons") or []
    line = f"{medication.get('name')} ({', '.join(d for d in details if d)}) since {_day(medication.get('date'))}"
    return line + (f" for {', '.join(reasons)}" if reasons else "")


def _allergy_line(allergy: dict) -> str:
    details = [f"criticality {allergy.get('criticality')}" if allergy.get("criticality") else None,
               allergy.get("status"), ", ".join(allergy.get("reactions") or []) or None]
    return f"{allergy.get('substance')} ({'; '.join(d for d in details if d)})"


def _result_lines(observations: list[dict]) -> list[str]:
    """The latest value of each code."""
    lines, seen = [], set()
    for obs in observations:
        key = obs.get("code") or obs.get("display")
        if key in seen or not obs.get("value"):
            continue
        seen.add(key)
        lines.append(f"{_day(obs.get('date'))} {obs.get('display')}: {obs['value']}")
    return lines


def _report_line(report: dict) -> str:
    return f"{_day(report.get('date'))} {report.get('title')}: {report.get('conclusion')}"


def _notes_block(summary: ClinicalSummary) -> str:
    notes = [item for item in newest_first(summary.documents + summary.diagnostic_reports) if item.get("text")]
    excerpts = [f"{_day(n.get('date'))} {n.get('type') or n.get('title')}: {' '.join(str(n['text']).split())[:1500]}"
                for n in notes[:5]]
    return _block("Notes (excerpts)", excerpts, 5)
