"""FHIR R4 resources read field by field: the shape helpers, references between resources, and one
extractor per resource type (records.fhir builds the clinical summary from them).

Plain dict extraction over ``json``, tolerant of sparse and odd portal exports: every field is optional. Items
are plain dicts; each carries ``source`` ({"resourceType", "id"}) and ``date`` (ISO string or None).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

ATTACHMENT_TEXT_LIMIT = 4000
MAX_BUNDLE_DEPTH = 4

LOINC_SYSTEM = "http://loinc.org"
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
UNIT_DISPLAY = {"mm[Hg]": "mmHg", "[degF]": "°F", "Cel": "°C", "[lb_av]": "lb", "{beats}/min": "/min"}


# ---------------------------------------------------------------------------------------------- shape helpers


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    """A FHIR repeating element: a list as is, a lone object wrapped, anything else empty."""
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _dicts(value: Any) -> list[dict]:
    return [item for item in as_list(value) if isinstance(item, dict)]


def text_of(value: Any) -> str | None:
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
            entry = {"system": text_of(coding.get("system")), "code": text_of(coding.get("code")),
                     "display": text_of(coding.get("display"))}
            if entry["code"] or entry["display"]:
                result.append(entry)
    return result


def _label(concept: Any) -> str | None:
    """Human label of a concept: a coding display, then its text, then a code."""
    for item in as_list(concept):
        if isinstance(item, str) and item.strip():
            return item.strip()
        if not isinstance(item, dict):
            continue
        codings = _codings(item)
        label = next((c["display"] for c in codings if c["display"]), None) or text_of(item.get("text"))
        label = label or next((c["code"] for c in codings if c["code"]), None)
        if label:
            return label
    return None


def _code(concept: Any) -> str | None:
    """The code of a status-like field: a plain string (STU3 style) or the first coding's code."""
    if isinstance(concept, str):
        return text_of(concept)
    return next((c["code"] for c in _codings(concept) if c["code"]), None) or text_of(as_dict(concept).get("text"))


def _date(resource: dict, *names: str) -> str | None:
    """The first date found among the named fields; a Period gives its start."""
    for name in names:
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        if text := text_of(value):
            return text
    return None


def _source(resource: dict) -> dict:
    return {"resourceType": resource.get("resourceType"), "id": text_of(resource.get("id"))}


def sort_key(date: str | None) -> str:
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


def newest_first(items: list[dict]) -> list[dict]:
    return sorted(items, key=lambda item: sort_key(item.get("date")), reverse=True)


def _number(value: Any) -> str | None:
    """A measured number written briefly: 176.35499 → "176.35", 0.01234 → "0.0123"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return text_of(value)
    if not math.isfinite(value):
        return None
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) >= 1 else f"{value:.3g}"


# ---------------------------------------------------------------------------------------------- references


class Index:
    """Resources of one import, addressable the ways a reference may name them."""

    def __init__(self, resources: list[tuple[str | None, dict]]):
        self._by_key: dict[str, dict] = {}
        for full_url, resource in resources:
            resource_id = text_of(resource.get("id"))
            keys = [full_url]
            if resource_id:
                keys += [f"{resource.get('resourceType')}/{resource_id}", f"urn:uuid:{resource_id}"]
            for key in keys:
                if key:
                    self._by_key.setdefault(key, resource)

    def resolve(self, reference: Any, container: dict) -> dict | None:
        """The resource a Reference points at: contained (#id), by fullUrl, or by its Type/id tail."""
        ref = text_of(as_dict(reference).get("reference"))
        if not ref:
            return None
        if ref.startswith("#"):
            wanted = ref[1:]
            return next((c for c in _dicts(container.get("contained")) if text_of(c.get("id")) == wanted), None)
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
        return text_of(as_dict(reference).get("display"))


def flatten(resource: dict, full_url: str | None = None, depth: int = 0) -> Iterator[tuple[str | None, dict]]:
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
        yield from flatten(inner if isinstance(inner, dict) else {}, text_of(entry.get("fullUrl")), depth + 1)


# ---------------------------------------------------------------------------------------------- extractors


def patient_item(resource: dict, index: Index) -> dict:
    """Patient: name display, gender, birth date, deceased, address state, language."""
    deceased = resource.get("deceasedBoolean")
    deceased_date = text_of(resource.get("deceasedDateTime"))
    communication = _dicts(resource.get("communication"))
    preferred = next((c for c in communication if c.get("preferred") is True), None) or next(iter(communication), {})
    addresses = _dicts(resource.get("address"))
    address = next((a for a in addresses if a.get("use") == "home"), None) or next(iter(addresses), {})
    return {
        "name": _person_name(resource.get("name")),
        "gender": text_of(resource.get("gender")),
        "birth_date": text_of(resource.get("birthDate")),
        "deceased": bool(deceased is True or deceased_date),
        "deceased_date": deceased_date,
        "state": text_of(address.get("state")),
        "language": _label(preferred.get("language")),
        "language_code": _code(preferred.get("language")),
        "date": text_of(resource.get("birthDate")),
        "source": _source(resource),
    }


def _person_name(names: Any) -> str | None:
    """A HumanName list as one display string, preferring the official or usual name."""
    candidates = _dicts(names)
    chosen = next((n for n in candidates if n.get("use") in ("official", "usual")), None) \
        or next(iter(candidates), {})
    if text := text_of(chosen.get("text")):
        return text
    parts = [text_of(g) for g in as_list(chosen.get("given"))] + [text_of(chosen.get("family"))]
    return " ".join(p for p in parts if p) or None


def _condition(resource: dict, index: Index) -> dict:
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


def _medication(resource: dict, index: Index) -> dict:
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
        "name": _label(concept) or _label(medication.get("code")) or text_of(as_dict(reference).get("display"))
        or "Unnamed medication",
        "codes": _codings(concept) or _codings(medication.get("code")),
        "kind": "request" if is_request else "statement",
        "status": text_of(resource.get("status")),
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
    if text := text_of(dosage.get("text")):
        return text
    parts = []
    for dose_rate in _dicts(dosage.get("doseAndRate")):
        quantity = as_dict(dose_rate.get("doseQuantity"))
        if (value := _number(quantity.get("value"))) is not None:
            parts.append(" ".join(p for p in (value, text_of(quantity.get("unit"))) if p))
    repeat = as_dict(as_dict(dosage.get("timing")).get("repeat"))
    frequency, period = _number(repeat.get("frequency")), _number(repeat.get("period"))
    if frequency and period:
        parts.append(f"{frequency} per {period} {text_of(repeat.get('periodUnit')) or ''}".strip())
    if dosage.get("asNeededBoolean") is True or dosage.get("asNeededCodeableConcept"):
        parts.append("as needed")
    return ", ".join(parts) or None


def _reasons(resource: dict, index: Index) -> list[str]:
    """Reason codes and referenced reasons (a Condition's code, else the reference display)."""
    labels = [_label(c) for c in as_list(resource.get("reasonCode"))]
    labels += [index.label(r, resource, "code") for r in as_list(resource.get("reasonReference"))]
    return list(dict.fromkeys(label for label in labels if label))


def _procedure(resource: dict, index: Index) -> dict:
    """Procedure: display, codes, date, status."""
    return {
        "display": _label(resource.get("code")) or "Unnamed procedure",
        "codes": _codings(resource.get("code")),
        "status": text_of(resource.get("status")),
        "reasons": _reasons(resource, index),
        "date": _date(resource, "performedDateTime", "performedPeriod", "performedString"),
        "source": _source(resource),
    }


def _allergy(resource: dict, index: Index) -> dict:
    """AllergyIntolerance: substance, criticality, reactions, clinical status."""
    reactions = _dicts(resource.get("reaction"))
    substance = _label(resource.get("code")) or next(
        (found for r in reactions if (found := _label(r.get("substance")))), None)
    manifestations = [_label(m) for r in reactions for m in as_list(r.get("manifestation"))]
    return {
        "substance": substance or "Unnamed substance",
        "codes": _codings(resource.get("code")),
        "criticality": text_of(resource.get("criticality")),
        "type": text_of(resource.get("type")),
        "category": [c for c in (text_of(x) for x in as_list(resource.get("category"))) if c],
        "reactions": list(dict.fromkeys(m for m in manifestations if m)),
        "severity": next((s for r in reactions if (s := text_of(r.get("severity")))), None),
        "status": _code(resource.get("clinicalStatus")),
        "verification_status": _code(resource.get("verificationStatus")),
        "date": _date(resource, "recordedDate", "onsetDateTime", "onsetPeriod", "assertedDate"),
        "source": _source(resource),
    }


def _observation(resource: dict, index: Index) -> dict:
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
        "status": text_of(resource.get("status")),
        "date": _date(resource, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"),
        "source": _source(resource),
    }


def _value(element: dict) -> tuple[str | None, float | None, str | None]:
    """(display text, number, unit) of an Observation or component value[x]."""
    quantity = element.get("valueQuantity")
    if isinstance(quantity, dict):
        raw = quantity.get("value")
        unit = _unit_display(text_of(quantity.get("unit")) or text_of(quantity.get("code")))
        shown = _number(raw)
        comparator = text_of(quantity.get("comparator")) or ""
        number = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        number = number if number is not None and math.isfinite(number) else None
        text = " ".join(p for p in (comparator + shown, unit) if p) if shown is not None else None
        return text, number, unit
    if "valueCodeableConcept" in element:
        return _label(element.get("valueCodeableConcept")), None, None
    if isinstance(element.get("valueBoolean"), bool):
        return ("yes" if element["valueBoolean"] else "no"), None, None
    for name in ("valueString", "valueInteger", "valueDateTime", "valueTime"):
        if (text := text_of(element.get(name))) is not None:
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


def _immunization(resource: dict, index: Index) -> dict:
    """Immunization: vaccine and date."""
    return {
        "vaccine": _label(resource.get("vaccineCode")) or "Unnamed vaccine",
        "codes": _codings(resource.get("vaccineCode")),
        "status": text_of(resource.get("status")),
        "date": _date(resource, "occurrenceDateTime", "occurrenceString", "date", "recorded"),
        "source": _source(resource),
    }


def _encounter(resource: dict, index: Index) -> dict:
    """Encounter: type, class, period, reason, provider organization name."""
    period = as_dict(resource.get("period"))
    return {
        "type": _label(resource.get("type")) or _label(resource.get("class")) or "Encounter",
        "class": _label(resource.get("class")),
        "status": text_of(resource.get("status")),
        "start": text_of(period.get("start")),
        "end": text_of(period.get("end")),
        "reasons": _reasons(resource, index),
        "provider": index.label(resource.get("serviceProvider"), resource, "name"),
        "date": text_of(period.get("start")) or text_of(period.get("end")),
        "source": _source(resource),
    }


def _imaging_study(resource: dict, index: Index) -> dict:
    """ImagingStudy: started, modalities, body sites, series and instance counts, description."""
    series = _dicts(resource.get("series"))
    modalities = [_code(m) for m in as_list(resource.get("modality"))] + [_code(s.get("modality")) for s in series]
    body_sites = [_label(s.get("bodySite")) for s in series]
    instances = resource.get("numberOfInstances")
    if not isinstance(instances, int) or isinstance(instances, bool):
        instances = sum(len(as_list(s.get("instance"))) for s in series)
    series_count = resource.get("numberOfSeries")
    modality_list = list(dict.fromkeys(m for m in modalities if m))
    site_list = list(dict.fromkeys(b for b in body_sites if b))
    description = text_of(resource.get("description")) or text_of(next(
        (s.get("description") for s in series if text_of(s.get("description"))), None))
    return {
        "description": description or " ".join([*modality_list, *site_list]) or "Imaging study",
        "started": text_of(resource.get("started")),
        "modalities": modality_list,
        "body_sites": site_list,
        "series_count": series_count if isinstance(series_count, int) and not isinstance(series_count, bool)
        else len(series),
        "instance_count": instances,
        "date": text_of(resource.get("started")) or next((d for s in series if (d := text_of(s.get("started")))), None),
        "source": _source(resource),
    }


def _attachments_text(attachments: list[dict]) -> dict:
    """Decoded text/plain attachment data (truncated), its full length and the content types seen."""
    texts, types = [], []
    for attachment in attachments:
        content_type = text_of(attachment.get("contentType")) or ""
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


def _diagnostic_report(resource: dict, index: Index) -> dict:
    """DiagnosticReport: title, category, date, conclusion, presentedForm text."""
    return {
        "title": _label(resource.get("code")) or "Report",
        "codes": _codings(resource.get("code")),
        "category": _label(resource.get("category")),
        "status": text_of(resource.get("status")),
        "conclusion": text_of(resource.get("conclusion"))
        or "; ".join(c for c in map(_label, as_list(resource.get("conclusionCode"))) if c) or None,
        "result_count": len(as_list(resource.get("result"))),
        **_attachments_text(_dicts(resource.get("presentedForm"))),
        "date": _date(resource, "effectiveDateTime", "effectivePeriod", "issued"),
        "source": _source(resource),
    }


def _document(resource: dict, index: Index) -> dict:
    """DocumentReference: type, category, date, description, decoded text/plain attachment."""
    attachments = [as_dict(c.get("attachment")) for c in _dicts(resource.get("content"))]
    context = as_dict(resource.get("context"))
    return {
        "type": _label(resource.get("type")) or text_of(resource.get("description")) or "Document",
        "category": _label(resource.get("category")),
        "status": text_of(resource.get("status")),
        "description": text_of(resource.get("description")),
        "title": next((t for a in attachments if (t := text_of(a.get("title")))), None),
        **_attachments_text(attachments),
        "date": _date(resource, "date") or _date(context, "period") or _date(resource, "indexed"),
        "source": _source(resource),
    }


Extractor = Callable[[dict, Index], dict]
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
