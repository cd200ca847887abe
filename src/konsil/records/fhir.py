"""FHIR R4 import: a Bundle (Synthea, patient portal) or a single resource turned into a clinical summary.

Plain dict extraction over ``json``: no validation library, and every field is optional, because portal
exports are sparse and odd. Items are plain dicts so the summary stores as JSON; each one carries
``source`` ({"resourceType", "id"}) to link back to the record and ``date`` (ISO string or None).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .errors import RecordRejected

SCHEMA_VERSION = 1
OBSERVATIONS_PER_CODE = 3
ATTACHMENT_TEXT_LIMIT = 4000
AS_TEXT_LIMIT = 20_000
MAX_BUNDLE_DEPTH = 4

ICD10_SYSTEMS = frozenset({
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://hl7.org/fhir/sid/icd-10",
    "urn:oid:2.16.840.1.113883.6.90",
    "urn:oid:2.16.840.1.113883.6.3",
})
SNOMED_SYSTEMS = frozenset({"http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96"})
LOINC_SYSTEM = "http://loinc.org"
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
ACTIVE_CONDITION_STATUSES = frozenset({"active", "recurrence", "relapse"})
VOID_VERIFICATION = frozenset({"entered-in-error", "refuted"})
CURRENT_MEDICATION_STATUSES = frozenset({"active", "on-hold", "intended", "draft", "unknown"})
UNIT_DISPLAY = {"mm[Hg]": "mmHg", "[degF]": "°F", "Cel": "°C", "[lb_av]": "lb", "{beats}/min": "/min"}

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


# ---------------------------------------------------------------------------------------------- shape helpers


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    """A FHIR repeating element: a list as is, a lone object wrapped, anything else empty."""
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _dicts(value: Any) -> list[dict]:
    return [item for item in _list(value) if isinstance(item, dict)]


def _text(value: Any) -> str | None:
    """A non-empty string (numbers accepted as their text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _codings(concept: Any) -> list[dict]:
    """Codings of a CodeableConcept (or of a bare Coding, or a list of either) as {system, code, display}."""
    result = []
    for item in _dicts(concept):
        raw = item.get("coding") if "coding" in item else ([item] if "code" in item or "system" in item else [])
        for coding in _dicts(raw):
            entry = {"system": _text(coding.get("system")), "code": _text(coding.get("code")),
                     "display": _text(coding.get("display"))}
            if entry["code"] or entry["display"]:
                result.append(entry)
    return result


def _label(concept: Any) -> str | None:
    """Human label of a concept: a coding display, then its text, then a code."""
    for item in _list(concept):
        if isinstance(item, str) and item.strip():
            return item.strip()
        if not isinstance(item, dict):
            continue
        codings = _codings(item)
        label = next((c["display"] for c in codings if c["display"]), None) or _text(item.get("text"))
        label = label or next((c["code"] for c in codings if c["code"]), None)
        if label:
            return label
    return None


def _code(concept: Any) -> str | None:
    """The code of a status-like field: a plain string (STU3 style) or the first coding's code."""
    if isinstance(concept, str):
        return _text(concept)
    return next((c["code"] for c in _codings(concept) if c["code"]), None) or _text(_dict(concept).get("text"))


def _date(resource: dict, *names: str) -> str | None:
    """The first date found among the named fields; a Period gives its start."""
    for name in names:
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        if text := _text(value):
            return text
    return None


def _source(resource: dict) -> dict:
    return {"resourceType": resource.get("resourceType"), "id": _text(resource.get("id"))}


def _sort_key(date: str | None) -> str:
    """A sortable UTC form of an ISO date/dateTime; partial dates sort as written."""
    if not date:
        return ""
    try:
        parsed = datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        return date
    if parsed.tzinfo:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.isoformat()


def _newest_first(items: list[dict]) -> list[dict]:
    return sorted(items, key=lambda item: _sort_key(item.get("date")), reverse=True)


def _number(value: Any) -> str | None:
    """A measured number written briefly: 176.35499 → "176.35", 0.01234 → "0.0123"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _text(value)
    if not math.isfinite(value):
        return None
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) >= 1 else f"{value:.3g}"


# ---------------------------------------------------------------------------------------------- references


class _Index:
    """Resources of one import, addressable the ways a reference may name them."""

    def __init__(self, resources: list[tuple[str | None, dict]]):
        self._by_key: dict[str, dict] = {}
        for full_url, resource in resources:
            resource_id = _text(resource.get("id"))
            keys = [full_url]
            if resource_id:
                keys += [f"{resource.get('resourceType')}/{resource_id}", f"urn:uuid:{resource_id}"]
            for key in keys:
                if key:
                    self._by_key.setdefault(key, resource)

    def resolve(self, reference: Any, container: dict) -> dict | None:
        """The resource a Reference points at: contained (#id), by fullUrl, or by its Type/id tail."""
        ref = _text(_dict(reference).get("reference"))
        if not ref:
            return None
        if ref.startswith("#"):
            wanted = ref[1:]
            return next((c for c in _dicts(container.get("contained")) if _text(c.get("id")) == wanted), None)
        if ref in self._by_key:
            return self._by_key[ref]
        parts = ref.split("/_history/")[0].rstrip("/").split("/")
        return self._by_key.get("/".join(parts[-2:])) if len(parts) >= 2 else None

    def label(self, reference: Any, container: dict, *name_fields: str) -> str | None:
        """A referenced resource's name (first of name_fields, concepts allowed), else the reference display."""
        target = self.resolve(reference, container)
        for name in name_fields:
            if target and (found := _label(target.get(name))):
                return found
        return _text(_dict(reference).get("display"))


def _flatten(resource: dict, full_url: str | None = None, depth: int = 0) -> Iterator[tuple[str | None, dict]]:
    """Every resource inside a Bundle (nested Bundles too, e.g. in a batch-response), with its fullUrl."""
    if resource.get("resourceType") != "Bundle":
        yield full_url, resource
        return
    if depth >= MAX_BUNDLE_DEPTH:
        return
    for entry in _dicts(resource.get("entry")):
        inner = entry.get("resource")
        if inner is None:
            continue
        yield from _flatten(inner if isinstance(inner, dict) else {}, _text(entry.get("fullUrl")), depth + 1)


# ---------------------------------------------------------------------------------------------- extractors


def _patient(resource: dict, index: _Index) -> dict:
    """Patient: name display, gender, birth date, deceased, address state, language."""
    deceased = resource.get("deceasedBoolean")
    deceased_date = _text(resource.get("deceasedDateTime"))
    communication = _dicts(resource.get("communication"))
    preferred = next((c for c in communication if c.get("preferred") is True), None) or next(iter(communication), {})
    addresses = _dicts(resource.get("address"))
    address = next((a for a in addresses if a.get("use") == "home"), None) or next(iter(addresses), {})
    return {
        "name": _person_name(resource.get("name")),
        "gender": _text(resource.get("gender")),
        "birth_date": _text(resource.get("birthDate")),
        "deceased": bool(deceased is True or deceased_date),
        "deceased_date": deceased_date,
        "state": _text(address.get("state")),
        "language": _label(preferred.get("language")),
        "language_code": _code(preferred.get("language")),
        "date": _text(resource.get("birthDate")),
        "source": _source(resource),
    }


def _person_name(names: Any) -> str | None:
    """A HumanName list as one display string, preferring the official or usual name."""
    candidates = _dicts(names)
    chosen = next((n for n in candidates if n.get("use") in ("official", "usual")), None) \
        or next(iter(candidates), {})
    if text := _text(chosen.get("text")):
        return text
    parts = [_text(g) for g in _list(chosen.get("given"))] + [_text(chosen.get("family"))]
    return " ".join(p for p in parts if p) or None


def _condition(resource: dict, index: _Index) -> dict:
    """Condition: display, codes, clinical and verification status, onset, abatement."""
    onset = _date(resource, "onsetDateTime", "onsetPeriod", "onsetString")
    return {
        "display": _label(resource.get("code")) or "Unnamed condition",
        "codes": _codings(resource.get("code")),
        "clinical_status": _code(resource.get("clinicalStatus")),
        "verification_status": _code(resource.get("verificationStatus")),
        "category": _label(resource.get("category")),
        "onset": onset,
        "abatement": _date(resource, "abatementDateTime", "abatementPeriod", "abatementString"),
        "date": onset or _date(resource, "recordedDate", "assertedDate"),
        "source": _source(resource),
    }


def _medication(resource: dict, index: _Index) -> dict:
    """MedicationRequest / MedicationStatement: name (inline or resolved Medication), status, date, dosage."""
    concept = resource.get("medicationCodeableConcept")
    reference = resource.get("medicationReference")
    medication = index.resolve(reference, resource) or {}
    if medication.get("resourceType") != "Medication":
        medication = {}
    is_request = resource.get("resourceType") == "MedicationRequest"
    date = _date(resource, "authoredOn") if is_request else \
        _date(resource, "effectiveDateTime", "effectivePeriod", "dateAsserted")
    return {
        "name": _label(concept) or _label(medication.get("code")) or _text(_dict(reference).get("display"))
        or "Unnamed medication",
        "codes": _codings(concept) or _codings(medication.get("code")),
        "kind": "request" if is_request else "statement",
        "status": _text(resource.get("status")),
        "authored": date,
        "dosage": _dosage(resource.get("dosageInstruction" if is_request else "dosage")),
        "reasons": _reasons(resource, index),
        "date": date,
        "source": _source(resource),
    }


def _dosage(dosages: Any) -> str | None:
    """Dosage text, or a short rendering of dose, frequency and as-needed when there is no text."""
    rendered = [_one_dosage(d) for d in _dicts(dosages)]
    return "; ".join(r for r in rendered if r) or None


def _one_dosage(dosage: dict) -> str | None:
    if text := _text(dosage.get("text")):
        return text
    parts = []
    for dose_rate in _dicts(dosage.get("doseAndRate")):
        quantity = _dict(dose_rate.get("doseQuantity"))
        if (value := _number(quantity.get("value"))) is not None:
            parts.append(" ".join(p for p in (value, _text(quantity.get("unit"))) if p))
    repeat = _dict(_dict(dosage.get("timing")).get("repeat"))
    frequency, period = _number(repeat.get("frequency")), _number(repeat.get("period"))
    if frequency and period:
        parts.append(f"{frequency} per {period} {_text(repeat.get('periodUnit')) or ''}".strip())
    if dosage.get("asNeededBoolean") is True or dosage.get("asNeededCodeableConcept"):
        parts.append("as needed")
    return ", ".join(parts) or None


def _reasons(resource: dict, index: _Index) -> list[str]:
    """Reason codes and referenced reasons (a Condition's code, else the reference display)."""
    labels = [_label(c) for c in _list(resource.get("reasonCode"))]
    labels += [index.label(r, resource, "code") for r in _list(resource.get("reasonReference"))]
    return list(dict.fromkeys(label for label in labels if label))


def _procedure(resource: dict, index: _Index) -> dict:
    """Procedure: display, codes, date, status."""
    return {
        "display": _label(resource.get("code")) or "Unnamed procedure",
        "codes": _codings(resource.get("code")),
        "status": _text(resource.get("status")),
        "reasons": _reasons(resource, index),
        "date": _date(resource, "performedDateTime", "performedPeriod", "performedString"),
        "source": _source(resource),
    }


def _allergy(resource: dict, index: _Index) -> dict:
    """AllergyIntolerance: substance, criticality, reactions, clinical status."""
    reactions = _dicts(resource.get("reaction"))
    substance = _label(resource.get("code")) or next(
        (found for r in reactions if (found := _label(r.get("substance")))), None)
    manifestations = [_label(m) for r in reactions for m in _list(r.get("manifestation"))]
    return {
        "substance": substance or "Unnamed substance",
        "codes": _codings(resource.get("code")),
        "criticality": _text(resource.get("criticality")),
        "type": _text(resource.get("type")),
        "category": [c for c in (_text(x) for x in _list(resource.get("category"))) if c],
        "reactions": list(dict.fromkeys(m for m in manifestations if m)),
        "severity": next((s for r in reactions if (s := _text(r.get("severity")))), None),
        "status": _code(resource.get("clinicalStatus")),
        "verification_status": _code(resource.get("verificationStatus")),
        "date": _date(resource, "recordedDate", "onsetDateTime", "onsetPeriod", "assertedDate"),
        "source": _source(resource),
    }


def _observation(resource: dict, index: _Index) -> dict:
    """Observation (lab, vital sign, survey): display, code, value with unit, components, category, date."""
    codings = _codings(resource.get("code"))
    primary = next((c for c in codings if c["system"] == LOINC_SYSTEM and c["code"]), None) \
        or next((c for c in codings if c["code"]), {})
    value, number, unit = _value(resource)
    components = [_component(c) for c in _dicts(resource.get("component"))]
    if value is None and components:
        value, unit = _blood_pressure(components)
        value = value or "; ".join(f"{c['display']}: {c['value']}" for c in components if c["value"]) or None
    return {
        "display": _label(resource.get("code")) or "Unnamed observation",
        "code": primary.get("code"),
        "system": primary.get("system"),
        "codes": codings,
        "category": _code(resource.get("category")),
        "value": value,
        "number": number,
        "unit": unit,
        "components": components,
        "interpretation": _label(resource.get("interpretation")),
        "status": _text(resource.get("status")),
        "date": _date(resource, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"),
        "source": _source(resource),
    }


def _value(element: dict) -> tuple[str | None, float | None, str | None]:
    """(display text, number, unit) of an Observation or component value[x]."""
    quantity = element.get("valueQuantity")
    if isinstance(quantity, dict):
        raw = quantity.get("value")
        unit = _unit_display(_text(quantity.get("unit")) or _text(quantity.get("code")))
        shown = _number(raw)
        comparator = _text(quantity.get("comparator")) or ""
        number = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        number = number if number is not None and math.isfinite(number) else None
        text = " ".join(p for p in (comparator + shown, unit) if p) if shown is not None else None
        return text, number, unit
    if "valueCodeableConcept" in element:
        return _label(element.get("valueCodeableConcept")), None, None
    if isinstance(element.get("valueBoolean"), bool):
        return ("yes" if element["valueBoolean"] else "no"), None, None
    for name in ("valueString", "valueInteger", "valueDateTime", "valueTime"):
        if (text := _text(element.get(name))) is not None:
            number = element[name] if name == "valueInteger" and isinstance(element[name], int) else None
            return text, number, None
    absent = _label(element.get("dataAbsentReason"))
    return (f"absent: {absent}" if absent else None), None, None


def _unit_display(unit: str | None) -> str | None:
    """A UCUM unit as people write it: mm[Hg] → mmHg, {score} → score."""
    if not unit:
        return None
    if unit in UNIT_DISPLAY:
        return UNIT_DISPLAY[unit]
    return unit[1:-1] if unit.startswith("{") and unit.endswith("}") and len(unit) > 2 else unit


def _component(component: dict) -> dict:
    value, number, unit = _value(component)
    return {"display": _label(component.get("code")) or "Component", "code": _code(component.get("code")),
            "value": value, "number": number, "unit": unit}


def _blood_pressure(components: list[dict]) -> tuple[str | None, str | None]:
    """("120/80 mmHg", "mmHg") when the components hold a systolic and a diastolic pressure."""
    by_code = {c["code"]: c for c in components if c["number"] is not None}
    systolic, diastolic = by_code.get(SYSTOLIC), by_code.get(DIASTOLIC)
    if not (systolic and diastolic):
        return None, None
    unit = systolic["unit"] or diastolic["unit"]
    return f"{round(systolic['number'])}/{round(diastolic['number'])} {unit or ''}".strip(), unit


def _immunization(resource: dict, index: _Index) -> dict:
    """Immunization: vaccine and date."""
    return {
        "vaccine": _label(resource.get("vaccineCode")) or "Unnamed vaccine",
        "codes": _codings(resource.get("vaccineCode")),
        "status": _text(resource.get("status")),
        "date": _date(resource, "occurrenceDateTime", "occurrenceString", "date", "recorded"),
        "source": _source(resource),
    }


def _encounter(resource: dict, index: _Index) -> dict:
    """Encounter: type, class, period, reason, provider organization name."""
    period = _dict(resource.get("period"))
    return {
        "type": _label(resource.get("type")) or _label(resource.get("class")) or "Encounter",
        "class": _label(resource.get("class")),
        "status": _text(resource.get("status")),
        "start": _text(period.get("start")),
        "end": _text(period.get("end")),
        "reasons": _reasons(resource, index),
        "provider": index.label(resource.get("serviceProvider"), resource, "name"),
        "date": _text(period.get("start")) or _text(period.get("end")),
        "source": _source(resource),
    }


def _imaging_study(resource: dict, index: _Index) -> dict:
    """ImagingStudy: started, modalities, body sites, series and instance counts, description."""
    series = _dicts(resource.get("series"))
    modalities = [_code(m) for m in _list(resource.get("modality"))] + [_code(s.get("modality")) for s in series]
    body_sites = [_label(s.get("bodySite")) for s in series]
    instances = resource.get("numberOfInstances")
    if not isinstance(instances, int) or isinstance(instances, bool):
        instances = sum(len(_list(s.get("instance"))) for s in series)
    series_count = resource.get("numberOfSeries")
    modality_list = list(dict.fromkeys(m for m in modalities if m))
    site_list = list(dict.fromkeys(b for b in body_sites if b))
    description = _text(resource.get("description")) or _text(next(
        (s.get("description") for s in series if _text(s.get("description"))), None))
    return {
        "description": description or " ".join([*modality_list, *site_list]) or "Imaging study",
        "started": _text(resource.get("started")),
        "modalities": modality_list,
        "body_sites": site_list,
        "series_count": series_count if isinstance(series_count, int) and not isinstance(series_count, bool)
        else len(series),
        "instance_count": instances,
        "date": _text(resource.get("started")) or next((d for s in series if (d := _text(s.get("started")))), None),
        "source": _source(resource),
    }


def _attachments_text(attachments: list[dict]) -> dict:
    """Decoded text/plain attachment data (truncated), its full length and the content types seen."""
    texts, types = [], []
    for attachment in attachments:
        content_type = _text(attachment.get("contentType")) or ""
        types.append(content_type or None)
        data = attachment.get("data")
        if content_type.lower().startswith("text/plain") and isinstance(data, str):
            try:
                texts.append(base64.b64decode(data).decode("utf-8", errors="replace"))
            except (binascii.Error, ValueError):
                continue
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    return {"text": text[:ATTACHMENT_TEXT_LIMIT] or None, "text_length": len(text),
            "text_truncated": len(text) > ATTACHMENT_TEXT_LIMIT,
            "content_types": list(dict.fromkeys(t for t in types if t))}


def _diagnostic_report(resource: dict, index: _Index) -> dict:
    """DiagnosticReport: title, category, date, conclusion, presentedForm text."""
    return {
        "title": _label(resource.get("code")) or "Report",
        "codes": _codings(resource.get("code")),
        "category": _label(resource.get("category")),
        "status": _text(resource.get("status")),
        "conclusion": _text(resource.get("conclusion"))
        or "; ".join(c for c in map(_label, _list(resource.get("conclusionCode"))) if c) or None,
        "result_count": len(_list(resource.get("result"))),
        **_attachments_text(_dicts(resource.get("presentedForm"))),
        "date": _date(resource, "effectiveDateTime", "effectivePeriod", "issued"),
        "source": _source(resource),
    }


def _document(resource: dict, index: _Index) -> dict:
    """DocumentReference: type, category, date, description, decoded text/plain attachment."""
    attachments = [_dict(c.get("attachment")) for c in _dicts(resource.get("content"))]
    context = _dict(resource.get("context"))
    return {
        "type": _label(resource.get("type")) or _text(resource.get("description")) or "Document",
        "category": _label(resource.get("category")),
        "status": _text(resource.get("status")),
        "description": _text(resource.get("description")),
        "title": next((t for a in attachments if (t := _text(a.get("title")))), None),
        **_attachments_text(attachments),
        "date": _date(resource, "date") or _date(context, "period") or _date(resource, "indexed"),
        "source": _source(resource),
    }


Extractor = Callable[[dict, _Index], dict]
EXTRACTORS: dict[str, tuple[str, Extractor]] = {
    "Condition": ("conditions", _condition),
    "MedicationRequest": ("medications", _medication),
    "MedicationStatement": ("medications", _medication),
    "Procedure": ("procedures", _procedure),
    "AllergyIntolerance": ("allergies", _allergy),
    "Observation": ("observations", _observation),
    "Immunization": ("immunizations", _immunization),
    "Encounter": ("encounters", _encounter),
    "ImagingStudy": ("imaging_studies", _imaging_study),
    "DiagnosticReport": ("diagnostic_reports", _diagnostic_report),
    "DocumentReference": ("documents", _document),
}


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
        return sorted(entries, key=lambda entry: _sort_key(entry.date), reverse=True)

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
        data = _dict(data)
        sections = {name: [i for i in _list(data.get(name)) if isinstance(i, dict)] for name in SECTIONS}
        return cls(patient=data.get("patient") if isinstance(data.get("patient"), dict) else None,
                   ignored=dict(_dict(data.get("ignored"))), unreadable=dict(_dict(data.get("unreadable"))),
                   nonconforming=dict(_dict(data.get("nonconforming"))), **sections)


def _timeline_label(section: str, item: dict) -> str:
    if section == "observations":
        return f"{item.get('display')}: {item['value']}" if item.get("value") else str(item.get("display"))
    return str(item.get(TIMELINE_LABEL_KEY[section]) or TIMELINE_KIND[section])


def summarize(resource: dict, *, observations_per_code: int = OBSERVATIONS_PER_CODE) -> ClinicalSummary:
    """Summarize a parsed FHIR resource or Bundle; unknown resource types are counted, never fatal."""
    check_resource(resource)
    resources = list(_flatten(resource))
    index = _Index(resources)
    summary = ClinicalSummary()
    ignored, unreadable, nonconforming = Counter(), Counter(), Counter()
    for _full_url, item in resources:
        resource_type = _text(item.get("resourceType")) or "(no resourceType)"
        if (resource_type == "Patient" or resource_type in EXTRACTORS) and not conforms(item):
            nonconforming[resource_type] += 1
        try:
            _add(summary, resource_type, item, index, ignored)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            unreadable[resource_type] += 1
    for name in SECTIONS:
        setattr(summary, name, _newest_first(getattr(summary, name)))
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


def _add(summary: ClinicalSummary, resource_type: str, resource: dict, index: _Index, ignored: Counter) -> None:
    if resource_type == "Patient":
        if summary.patient is None:
            summary.patient = _patient(resource, index)
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
    notes = [item for item in _newest_first(summary.documents + summary.diagnostic_reports) if item.get("text")]
    excerpts = [f"{_day(n.get('date'))} {n.get('type') or n.get('title')}: {' '.join(str(n['text']).split())[:1500]}"
                for n in notes[:5]]
    return _block("Notes (excerpts)", excerpts, 5)
