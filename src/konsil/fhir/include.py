"""_include: the resources a page of search results references, added to the Bundle with search.mode "include".

Each included resource is found through the same selectors as a search of its type (a client never receives
through _include what it could not read directly) and is audited like any read."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .errors import FhirError

# "Type:param" -> (the element holding the reference(s), the type referenced)
INCLUDES = {
    "ServiceRequest": {"subject": ("subject", "Patient"), "patient": ("subject", "Patient"),
                       "performer": ("performer", "Practitioner")},
    "Task": {"focus": ("focus", "ServiceRequest"), "patient": ("for", "Patient"), "owner": ("owner", "Organization"),
             "based-on": ("basedOn", "ServiceRequest")},
    "DiagnosticReport": {"subject": ("subject", "Patient"), "patient": ("subject", "Patient"),
                         "performer": ("performer", "Practitioner"), "based-on": ("basedOn", "ServiceRequest")},
    "DocumentReference": {"subject": ("subject", "Patient"), "patient": ("subject", "Patient")},
    "Condition": {"subject": ("subject", "Patient"), "patient": ("subject", "Patient")},
    "ImagingStudy": {"subject": ("subject", "Patient"), "patient": ("subject", "Patient"),
                     "basedon": ("basedOn", "ServiceRequest")},
    "Consent": {"patient": ("patient", "Patient")},
    "Provenance": {"target": ("target", "DiagnosticReport")},
    "Coverage": {"beneficiary": ("beneficiary", "Patient"), "patient": ("beneficiary", "Patient"),
                 "payor": ("payor", "Organization")},
    "QuestionnaireResponse": {"subject": ("subject", "Patient"), "patient": ("subject", "Patient"),
                              "based-on": ("basedOn", "ServiceRequest")},
    "PractitionerRole": {"practitioner": ("practitioner", "Practitioner"),
                         "organization": ("organization", "Organization")},
}


def parse(rtype: str, params) -> list[tuple[str, str]]:
    """[(element, target type)] for the _include values (Type:param, optionally :Target); others refused."""
    out = []
    for value in params.get("_include", []):
        for item in (v.strip() for v in value.split(",") if v.strip()):
            parts = item.split(":")
            known = INCLUDES.get(rtype, {})
            if len(parts) not in (2, 3) or parts[0] != rtype or parts[1] not in known:
                raise FhirError(_("_include supports: %(names)s.")
                                % {"names": ", ".join(f"{rtype}:{p}" for p in sorted(known)) or "-"},
                                code="not-supported", expression="_include")
            element, target = known[parts[1]]
            if len(parts) == 3 and parts[2] != target:
                raise FhirError(_("%(item)s points at %(target)s.") % {"item": item[:64], "target": target},
                                code="not-supported", expression="_include")
            out.append((element, target))
    return out


def _references(resource: dict, element: str, target: str) -> set[str]:
    value = resource.get(element)
    items = value if isinstance(value, list) else [value] if value else []
    prefix = f"{target}/"
    return {i["reference"][len(prefix):] for i in items if isinstance(i, dict)
            and str(i.get("reference", "")).startswith(prefix)}


def included(user, page: list, wanted: list[tuple[str, str]], *, base: str) -> list:
    """The Found resources the page references along `wanted`, each once, only those the user may read."""
    from . import selectors

    ids_by_type: dict[str, set[str]] = {}
    for element, target in wanted:
        for f in page:
            ids_by_type.setdefault(target, set()).update(_references(f.resource, element, target))
    out = []
    for target, ids in ids_by_type.items():
        if not ids:
            continue
        if target == "Patient":
            found = selectors.find(user, "Patient", base=base, patient_ids=list(ids))
        else:
            found = selectors.find(user, target, base=base)
        out += [f for f in found if f.resource["id"] in ids]
    return out
