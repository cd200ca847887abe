"""What this server does: the CapabilityStatement and the SMART configuration."""

from __future__ import annotations

from konsil.fhir import search
from konsil.fhir.include import INCLUDES
from konsil.fhir.selectors import TYPES

SEARCH_TYPES = {"_id": "token", "_lastUpdated": "date", "_count": "number", "_offset": "number",
                "patient": "reference", "subject": "reference", "status": "token", "identifier": "token"}
SCOPES = [f"system/{t}.rs" for t in TYPES] + ["system/ServiceRequest.c", "system/*.rs"]


def capability_statement(base: str) -> dict:
    resources = []
    for rtype in TYPES:
        interactions = [{"code": "read"}, {"code": "search-type"}]
        item = {
            "type": rtype, "interaction": interactions,
            "searchParam": [{"name": n, "type": SEARCH_TYPES[n]} for n in sorted(search.allowed(rtype))
                            if n != "_include"],
        }
        if rtype in INCLUDES:
            item["searchInclude"] = [f"{rtype}:{p}" for p in sorted(INCLUDES[rtype])]
        if rtype == "DiagnosticReport":
            item["operation"] = [{"name": "document",
                                  "definition": "http://hl7.org/fhir/OperationDefinition/Composition-document"}]
        resources.append(item)
    resources.append({"type": "Binary", "interaction": [{"code": "read"}]})
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-12-04",
        "kind": "instance", "fhirVersion": "4.0.1", "format": ["application/fhir+json"],
        "software": {"name": "Konsil"},
        "implementation": {"description": "Konsil second opinions: FHIR R4 API", "url": base},
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                         "code": "SMART-on-FHIR"}]}],
                "description": "SMART Backend Services (client credentials, private_key_jwt, RS384/ES384)",
                "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                               "extension": [{"url": "token", "valueUri": f"{base}auth/token"}]}],
            },
            "resource": resources,
            "interaction": [{"code": "transaction",
                             "documentation": "A referral: Patient, ServiceRequest, Condition(s), "
                                              "DocumentReference(s) with inline attachments, optional Consent"}],
        }],
    }


def smart_configuration(base: str) -> dict:
    return {
        "token_endpoint": f"{base}auth/token",
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": SCOPES,
        "capabilities": ["client-confidential-asymmetric", "permission-v2", "permission-v1"],
    }
