"""Konsil -> FHIR R4 (US Core shapes where they apply). Each function returns a resource as a dict."""

from __future__ import annotations

from django.utils.html import escape

from konsil.cases.choices import Status

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
NPI = "http://hl7.org/fhir/sid/us-npi"
CASE_SYSTEM = "urn:konsil:case"
ORG_SYSTEM = "urn:konsil:organization"
CONSULT_NOTE = {"coding": [{"system": LOINC, "code": "11488-4", "display": "Consult note"}],
                "text": "Second opinion"}
REFERRAL_CODE = {"coding": [{"system": SNOMED, "code": "103696004",
                             "display": "Patient referral to specialist"}], "text": "Second opinion"}

SERVICE_REQUEST_STATUS = {Status.DRAFT: "draft", Status.CANCELLED: "revoked", Status.WITHDRAWN: "revoked",
                          Status.DELIVERED: "completed", Status.CLOSED: "completed"}
TASK_STATUS = {
    Status.DRAFT: "draft", Status.SUBMITTED: "requested", Status.TRIAGED: "received", Status.OFFERED: "ready",
    Status.ACCEPTED: "accepted", Status.IN_REVIEW: "in-progress", Status.INFO_REQUESTED: "on-hold",
    Status.OPINION_DRAFTED: "in-progress", Status.SIGNED: "in-progress", Status.DELIVERED: "completed",
    Status.CLOSED: "completed", Status.CANCELLED: "cancelled", Status.WITHDRAWN: "cancelled",
}
PRIORITY = {"routine": "routine", "urgent": "urgent", "stat": "stat"}


def konsil_statuses(rtype: str, fhir_codes) -> set[str]:
    """The Konsil statuses a ServiceRequest or Task search by FHIR `status` stands for (the mappings inverted)."""
    if rtype == "Task":
        return {s for s, code in TASK_STATUS.items() if code in fhir_codes}
    return {s for s in Status.values if SERVICE_REQUEST_STATUS.get(s, "active") in fhir_codes}


def ref(kind: str, pk) -> dict:
    return {"reference": f"{kind}/{pk}"}


def _meta(obj) -> dict:
    return {"lastUpdated": obj.updated_at.isoformat()}


def _instant(value) -> str | None:
    return value.isoformat() if value else None


def _clean(resource: dict) -> dict:
    """Drop empty values (FHIR has no empty elements)."""
    return {k: v for k, v in resource.items() if v not in (None, "", [], {})}


def patient(p) -> dict:
    """The patient's newest identity version (cases keep theirs: ServiceRequest names the case's patient)."""
    ident = p.identities.order_by("-version").first() or p
    address = _clean({"state": ident.state, "country": ident.country})
    telecom = [t for t in ({"system": "email", "value": ident.email} if ident.email else None,
                           {"system": "phone", "value": ident.phone} if ident.phone else None) if t]
    return _clean({
        "resourceType": "Patient", "id": str(p.pk), "meta": _meta(p),
        "identifier": [{"system": "urn:konsil:patient", "value": str(p.pk)}],
        "name": [_clean({"use": "official", "family": ident.family_name, "given": [ident.given_name]})],
        "gender": ident.sex, "birthDate": ident.birth_date.isoformat(),
        "address": [address] if address else [],
        "telecom": telecom,
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": ident.language}]}}],
        "managingOrganization": ref("Organization", p.network_id),
    })


def organization(org) -> dict:
    return _clean({
        "resourceType": "Organization", "id": str(org.pk), "meta": _meta(org), "active": org.active,
        "identifier": [{"system": ORG_SYSTEM, "value": org.slug}], "name": org.name,
        "type": [{"text": org.get_kind_display() and str(org.get_kind_display())}],
    })


def practitioner(s) -> dict:
    user = s.user
    return _clean({
        "resourceType": "Practitioner", "id": str(s.pk), "meta": _meta(s), "active": True,
        "identifier": [{"system": NPI, "value": s.npi}],
        "name": [_clean({"family": user.last_name, "given": [user.first_name] if user.first_name else [],
                         "text": user.get_full_name() or None})],
    })


def condition(d) -> dict:
    case = d.case
    return _clean({
        "resourceType": "Condition", "id": str(d.pk), "meta": _meta(d),
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": "encounter-diagnosis"}]}],
        "code": {"coding": [_clean({"system": ICD10, "code": d.code, "display": d.description})]},
        "subject": ref("Patient", case.patient_id),
        "recordedDate": _instant(d.created_at),
    })


def service_request(case, *, referral=None) -> dict:
    identifiers = [{"system": CASE_SYSTEM, "value": case.reference}]
    if referral is not None:
        identifiers.append(_clean({"system": referral.system, "value": referral.value}))
    assigned = case.assigned_specialist_id
    return _clean({
        "resourceType": "ServiceRequest", "id": str(case.pk), "meta": _meta(case), "identifier": identifiers,
        "status": SERVICE_REQUEST_STATUS.get(case.status, "active"), "intent": "order",
        "category": [{"coding": [{"system": SNOMED, "code": "386053000", "display": "Evaluation procedure"}]}],
        "priority": PRIORITY.get(case.urgency, "routine"), "code": REFERRAL_CODE,
        "subject": ref("Patient", case.patient_id),
        "authoredOn": _instant(case.submitted_at or case.created_at),
        "performer": [ref("Practitioner", assigned)] if assigned else [],
        "reasonCode": [{"coding": [{"system": ICD10, "code": d.code}]} for d in case.diagnoses.all()],
        "reasonReference": [ref("Condition", d.pk) for d in case.diagnoses.all()],
        "note": [{"text": q.text} for q in case.questions.all()],
        "requester": {"display": case.treating_physician} if case.treating_physician else None,
    })


def task(case, *, report_id=None) -> dict:
    return _clean({
        "resourceType": "Task", "id": str(case.pk), "meta": _meta(case),
        "identifier": [{"system": CASE_SYSTEM, "value": case.reference}],
        "basedOn": [ref("ServiceRequest", case.pk)], "focus": ref("ServiceRequest", case.pk),
        "status": TASK_STATUS.get(case.status, "requested"),
        "businessStatus": {"coding": [{"system": "urn:konsil:case-status", "code": case.status,
                                       "display": str(case.get_status_display())}]},
        "intent": "order", "priority": PRIORITY.get(case.urgency, "routine"),
        "for": ref("Patient", case.patient_id), "owner": ref("Organization", case.network_id),
        "authoredOn": _instant(case.created_at), "lastModified": _instant(case.updated_at),
        "output": [{"type": {"text": "opinion"}, "valueReference": ref("DiagnosticReport", report_id)}]
        if report_id else [],
    })


def document_reference(a, *, base: str) -> dict:
    return _clean({
        "resourceType": "DocumentReference", "id": str(a.pk), "meta": _meta(a), "status": "current",
        "type": {"text": a.kind or "document"},
        "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                                  "code": "clinical-note"}]}],
        "subject": ref("Patient", a.case.patient_id), "date": _instant(a.created_at),
        "description": a.description or None,
        "content": [{"attachment": _clean({"contentType": a.content_type, "size": a.size, "title": a.filename,
                                           "url": f"{base}Binary/{a.pk}", "creation": _instant(a.created_at)})}],
        "context": {"related": [ref("ServiceRequest", a.case_id)]},
    })


def report_document_reference(opinion, *, base: str) -> dict:
    case = opinion.case
    return _clean({
        "resourceType": "DocumentReference", "id": f"report-{opinion.pk}", "meta": _meta(opinion),
        "status": "current", "docStatus": "final", "type": CONSULT_NOTE,
        "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                                  "code": "clinical-note"}]}],
        "subject": ref("Patient", case.patient_id), "date": _instant(opinion.signed_at),
        "author": [ref("Practitioner", opinion.author_id)],
        "content": [{"attachment": {"contentType": "application/pdf", "title": f"Second opinion {case.reference}",
                                    "url": f"{base}Binary/report-{opinion.pk}"}}],
        "context": {"related": [ref("ServiceRequest", case.pk), ref("DiagnosticReport", opinion.pk)]},
    })


def diagnostic_report(opinion, *, base: str) -> dict:
    case = opinion.case
    return _clean({
        "resourceType": "DiagnosticReport", "id": str(opinion.pk), "meta": _meta(opinion),
        "identifier": [{"system": "urn:konsil:report", "value": f"{case.reference}-v{opinion.version}"}],
        "basedOn": [ref("ServiceRequest", case.pk)],
        "status": "final" if opinion.version == 1 else "amended",
        "category": [{"text": "Second opinion"}],
        "code": CONSULT_NOTE, "subject": ref("Patient", case.patient_id),
        "effectiveDateTime": _instant(opinion.signed_at), "issued": _instant(opinion.signed_at),
        "performer": [ref("Practitioner", opinion.author_id)],
        "resultsInterpreter": [ref("Practitioner", opinion.author_id)],
        "conclusion": opinion.narrative or None,
        "conclusionCode": [{"coding": [{"system": ICD10, "code": opinion.revised_diagnosis}]}]
        if opinion.revised_diagnosis else [],
        "presentedForm": [{"contentType": "application/pdf", "url": f"{base}Binary/report-{opinion.pk}",
                           "title": f"Second opinion {case.reference}"}],
    })


def _div(paragraphs: list[str]) -> dict:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs if p) or "<p>-</p>"
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def composition(opinion) -> dict:
    case = opinion.case
    answers = opinion.answers or {}
    questions = [f"{q.text} — {answers.get(str(q.pk), '')}" for q in case.questions.all()]
    sections = [
        ("Diagnosis", [str(opinion.get_diagnosis_verdict_display() or ""), opinion.revised_diagnosis,
                       opinion.diagnosis_comment]),
        ("Treatment", [str(opinion.get_treatment_verdict_display() or ""), opinion.treatment_recommendation]),
        ("Answers to the questions", questions),
        ("Further tests", [opinion.further_tests]),
        ("Narrative", [opinion.narrative]),
    ]
    return {
        "resourceType": "Composition", "id": f"doc-{opinion.pk}", "meta": _meta(opinion),
        "identifier": {"system": "urn:konsil:report", "value": f"{case.reference}-v{opinion.version}"},
        "status": "final" if opinion.version == 1 else "amended", "type": CONSULT_NOTE,
        "subject": ref("Patient", case.patient_id), "date": _instant(opinion.signed_at),
        "author": [ref("Practitioner", opinion.author_id)], "title": f"Second opinion {case.reference}",
        "attester": [{"mode": "legal", "time": _instant(opinion.signed_at),
                      "party": ref("Practitioner", opinion.author_id)}],
        "section": [{"title": title, "text": _div([str(x) for x in parts if x])} for title, parts in sections],
    }


def consent(c) -> dict:
    """The HIPAA authorization signed for the case (what it permits, who signed, when)."""
    return _clean({
        "resourceType": "Consent", "id": str(c.pk), "meta": _meta(c), "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": LOINC, "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": ref("Patient", c.case.patient_id), "dateTime": _instant(c.signed_at),
        "performer": [{"display": c.signer_name}] if c.signer_name else [],
        "provision": {"type": "permit", "code": [{"coding": [{"system": "urn:konsil:consent-scope", "code": s}]}
                                                 for s in c.scope or []]},
    })


def provenance(opinion) -> dict:
    """Who signed the opinion and when, with the hash of the signed content."""
    signature = {
        "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1",
                  "display": "Author's Signature"}],
        "when": _instant(opinion.signed_at), "who": ref("Practitioner", opinion.author_id),
    }
    if opinion.content_hash:
        import base64

        try:
            signature["data"] = base64.b64encode(bytes.fromhex(opinion.content_hash)).decode()
            signature["sigFormat"] = "application/octet-stream"
        except ValueError:
            pass
    return {
        "resourceType": "Provenance", "id": f"sig-{opinion.pk}", "meta": _meta(opinion),
        "target": [ref("DiagnosticReport", opinion.pk)], "recorded": _instant(opinion.signed_at),
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                 "code": "UPDATE"}], "text": "signed"},
        "agent": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                        "code": "author"}]}, "who": ref("Practitioner", opinion.author_id)}],
        "signature": [signature],
    }
