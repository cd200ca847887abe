"""Konsil -> FHIR R4, the directory and imaging side: PractitionerRole, ImagingStudy; and AuditEvent (IHE BALP, the
audit app's own mapping)."""

from __future__ import annotations

from .mappers import _clean, _instant, _meta, ref

NUCC = "http://nucc.org/provider-taxonomy"
DICOM_UID = "urn:dicom:uid"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
STATE_LICENSE = "urn:konsil:state-license"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def practitioner_role(s, *, specialties=None, licenses=None) -> dict:
    """What a specialist does for Konsil: the network, the specialties (NUCC taxonomy), languages, availability."""
    specialties = list(s.specialties.all()) if specialties is None else specialties
    licenses = list(s.licenses.all()) if licenses is None else licenses
    times = []  # validated weekly slots {day 0-6 from Monday, start, end HH:MM} in the specialist's time zone
    for slot in s.availability or []:
        if isinstance(slot, dict) and isinstance(slot.get("day"), int) and 0 <= slot["day"] <= 6:
            times.append(_clean({"daysOfWeek": [DAYS[slot["day"]]], "availableStartTime": _hms(slot.get("start")),
                                 "availableEndTime": _hms(slot.get("end"))}))
    return _clean({
        "resourceType": "PractitionerRole", "id": str(s.pk), "meta": _meta(s),
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": s.npi}],
        "active": bool(s.accepting),
        "practitioner": ref("Practitioner", s.pk), "organization": ref("Organization", s.network_id),
        "code": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "doctor",
                              "display": "Doctor"}], "text": "Second-opinion reviewer"}],
        "specialty": [_clean({"coding": [{"system": NUCC, "code": sp.nucc_code}] if sp.nucc_code else [],
                              "text": str(sp.name)}) for sp in specialties],
        "availableTime": [t for t in times if t.get("daysOfWeek")],
        "extension": [{"url": STATE_LICENSE, "valueString": f"{lic.country}-{lic.state}" if lic.state
                       else lic.country} for lic in licenses],
    })


def _hms(value) -> str | None:
    text = str(value or "").strip()
    if len(text) == 5 and text[2] == ":":
        return f"{text}:00"
    return text if len(text) == 8 and text[2] == ":" and text[5] == ":" else None


def imaging_study(study, *, base: str) -> dict:
    """A DICOM study of a case with its series; the endpoint is the case's DICOMweb service (WADO-RS)."""
    case = study.case
    series = list(study.series.all())
    modalities = sorted({s.modality for s in series if s.modality} | set(filter(None, study.modalities.split("\\"))))
    root = base.split("/fhir/R4/")[0]
    return _clean({
        "resourceType": "ImagingStudy", "id": str(study.pk), "meta": _meta(study),
        "identifier": [{"system": DICOM_UID, "value": f"urn:oid:{study.study_uid}"}]
        + ([{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]},
             "value": study.accession_number}] if study.accession_number else []),
        "status": "available", "subject": ref("Patient", case.patient_id),
        "basedOn": [ref("ServiceRequest", case.pk)],
        "started": _instant(study.study_date) if study.study_date else None,
        "modality": [{"system": DCM, "code": m} for m in modalities],
        "numberOfSeries": len(series), "numberOfInstances": sum(s.instance_count for s in series),
        "description": (study.description or "")[:500] or None,
        "contained": [{"resourceType": "Endpoint", "id": "wado", "status": "active",
                       "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                                          "code": "dicom-wado-rs"},
                       "payloadType": [{"text": "DICOM"}], "payloadMimeType": ["application/dicom"],
                       "address": f"{root}/dicomweb/cases/{case.pk}/"}],
        "endpoint": [{"reference": "#wado"}],
        "series": [_clean({"uid": s.series_uid, "number": s.number,
                           "modality": {"system": DCM, "code": s.modality or "OT"},
                           "numberOfInstances": s.instance_count,
                           "bodySite": {"display": s.body_part} if s.body_part else None})
                   for s in series],
    })


def audit_event(event) -> dict:
    """The audit app's IHE BALP mapping (one place for it), with the FHIR id of the event."""
    from konsil.audit.export import to_fhir

    resource = to_fhir(event)
    resource["meta"] = {**resource.get("meta", {}), "lastUpdated": event.occurred_at.isoformat()}
    return resource


RELATIONSHIP = {"subscriber": "self", "spouse": "spouse", "child": "child", "other": "other"}


def coverage(enrollment) -> dict:
    """The program funding a case, as the member's Coverage: payor = the sponsor, class = the program."""
    case, program, member = enrollment.case, enrollment.program, enrollment.member
    system = f"urn:konsil:program:{program.slug}:member"
    period = {}
    if member is not None:
        period = _clean({"start": member.coverage_start.isoformat(),
                         "end": member.coverage_end.isoformat() if member.coverage_end else None})
    return _clean({
        "resourceType": "Coverage", "id": str(enrollment.pk), "meta": _meta(enrollment),
        "identifier": [{"system": system, "value": member.member_id}] if member is not None else [],
        "status": "active" if enrollment.eligible else "cancelled",
        "type": {"text": "Self-pay" if enrollment.self_pay else str(program.sponsor.get_kind_display())},
        "subscriberId": (member.subscriber_id or member.member_id) if member is not None else None,
        "beneficiary": ref("Patient", case.patient_id),
        "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                     "code": RELATIONSHIP.get(member.relationship, "other")}]}
        if member is not None else None,
        "period": period,
        "payor": [ref("Organization", program.sponsor_id)],
        "class": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                        "code": "plan"}]}, "value": program.slug, "name": program.name}],
    })


def questionnaire_response(follow_up, stored: dict) -> dict:
    """A follow-up's answers as stored (already a QuestionnaireResponse), with its id, subject and source."""
    case = follow_up.case
    resource = {k: v for k, v in stored.items() if k in ("questionnaire", "status", "language", "authored", "item",
                                                          "identifier")}
    source = ref("Patient", case.patient_id) if follow_up.respondent == "patient" else None
    return _clean({
        "resourceType": "QuestionnaireResponse", "id": str(follow_up.pk), "meta": _meta(follow_up), **resource,
        "basedOn": [ref("ServiceRequest", case.pk)], "subject": ref("Patient", case.patient_id),
        "authored": _instant(follow_up.answered_at) or resource.get("authored"), "source": source,
    })
