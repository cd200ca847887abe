"""FHIR search over what a selector found: the parameters each type supports, paging with next links.

Unknown parameters are refused (an OperationOutcome 400), never ignored."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import urlencode

from django.utils.translation import gettext as _

from .errors import FhirError

COMMON = {"_id", "_lastUpdated", "_count", "_offset"}
PATIENT_TYPES = {"ServiceRequest", "Task", "Condition", "DocumentReference", "DiagnosticReport", "Consent",
                 "ImagingStudy", "AuditEvent", "QuestionnaireResponse", "Coverage"}
STATUS_TYPES = {"ServiceRequest", "Task", "DocumentReference", "DiagnosticReport", "Consent", "ImagingStudy",
                "Coverage", "QuestionnaireResponse"}
IDENTIFIER_TYPES = {"ServiceRequest", "Task", "Patient", "Practitioner", "Organization", "DiagnosticReport",
                    "PractitionerRole", "ImagingStudy", "Coverage"}
NOT_FILTERS = {"_count", "_offset", "_include"}  # paging and what to add to the page, not conditions
DEFAULT_COUNT, MAX_COUNT = 50, 200
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")


def allowed(rtype: str) -> set[str]:
    names = set(COMMON)
    if rtype in PATIENT_TYPES:
        names |= {"patient", "subject"}
    if rtype in STATUS_TYPES:
        names.add("status")
    if rtype in IDENTIFIER_TYPES:
        names.add("identifier")
    from .include import INCLUDES

    if rtype in INCLUDES:
        names.add("_include")
    return names


def parse(rtype: str, query) -> dict[str, list[str]]:
    """{name: [value, ...]} (each value may hold a comma-separated OR); unknown names refused."""
    params: dict[str, list[str]] = {}
    known = allowed(rtype)
    for name, values in query.lists():
        if name not in known:
            raise FhirError(_("Unknown search parameter '%(name)s' for %(type)s. Supported: %(names)s.")
                            % {"name": name[:64], "type": rtype, "names": ", ".join(sorted(known))},
                            code="not-supported", expression=name[:64])
        params[name] = [v for v in values]
    return params


def page_size(params) -> tuple[int, int]:
    try:
        count = int(params.get("_count", [DEFAULT_COUNT])[-1])
        offset = int(params.get("_offset", [0])[-1])
    except ValueError:
        raise FhirError(_("_count and _offset are whole numbers."), expression="_count") from None
    if count < 0 or offset < 0:
        raise FhirError(_("_count and _offset are whole numbers."), expression="_count")
    return min(count, MAX_COUNT), offset


def patient_ids(params) -> set[str] | None:
    """The patient ids named by `patient` / `subject` (Patient/<id> or <id>), or None when not searched."""
    ids = None
    for name in ("patient", "subject"):
        for value in params.get(name, []):
            wanted = {v.strip().removeprefix("Patient/") for v in value.split(",") if v.strip()}
            if any("/" in v for v in wanted):
                raise FhirError(_("Only Patient references are searched."), expression=name)
            ids = wanted if ids is None else ids & wanted
    return ids


def _when(raw: str, name: str) -> tuple[str, datetime, bool]:
    prefix = raw[:2] if raw[:2] in PREFIXES else "eq"
    text = raw[2:] if raw[:2] in PREFIXES else raw
    try:
        if len(text) == 10:
            return prefix, datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC), True
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return prefix, value if value.tzinfo else value.replace(tzinfo=UTC), False
    except ValueError:
        raise FhirError(_("Give a date as YYYY-MM-DD or an instant, with an optional prefix (ge, le, ...)."),
                        expression=name) from None


def _matches_date(stamp: str, raw: str, name: str) -> bool:
    prefix, when, day = _when(raw, name)
    at = datetime.fromisoformat(stamp)
    if day:
        d, w = at.astimezone(UTC).date(), when.date()
        return {"eq": d == w, "ne": d != w, "gt": d > w, "lt": d < w, "ge": d >= w, "le": d <= w}[prefix]
    return {"eq": at == when, "ne": at != when, "gt": at > when, "lt": at < when, "ge": at >= when,
            "le": at <= when}[prefix]


def _identifiers(resource: dict) -> list[dict]:
    value = resource.get("identifier") or []
    return value if isinstance(value, list) else [value]


def _matches_identifier(resource: dict, token: str) -> bool:
    system, _bar, value = token.rpartition("|") if "|" in token else ("", "", token)
    for ident in _identifiers(resource):
        if ident.get("value") == value and (not system or ident.get("system") == system):
            return True
    return False


def matches(resource: dict, params: dict[str, list[str]]) -> bool:
    """Every parameter (AND), each value a comma-separated OR."""
    for name, values in params.items():
        for value in values:
            options = [v.strip() for v in value.split(",")]
            if name == "_id" and resource["id"] not in options:
                return False
            if name == "status" and resource.get("status") not in options:
                return False
            if name == "identifier" and not any(_matches_identifier(resource, o) for o in options):
                return False
            if name == "_lastUpdated" and not _matches_date(resource["meta"]["lastUpdated"], value, name):
                return False
            if name in ("patient", "subject"):
                subject = (resource.get("subject") or resource.get("for") or resource.get("patient")
                           or resource.get("beneficiary") or {}).get(
                    "reference", "")
                if subject.removeprefix("Patient/") not in {o.removeprefix("Patient/") for o in options}:
                    return False
    return True


def bundle(rtype: str, found: list, params, *, base: str) -> tuple[dict, list]:
    """A searchset Bundle of one page, and the page's items (for the audit)."""
    count, offset = page_size(params)
    hits = [f for f in found if matches(f.resource, {k: v for k, v in params.items() if k not in NOT_FILTERS})]
    hits.sort(key=lambda f: f.resource["meta"]["lastUpdated"], reverse=True)
    page = hits[offset:offset + count]
    return page_bundle(rtype, page, params, base=base, total=len(hits)), page


def page_bundle(rtype: str, page: list, params, *, base: str, total: int) -> dict:
    """The searchset for a page already cut (by `bundle`, or by the database for plain case lists)."""
    count, offset = page_size(params)
    query = [(k, v) for k, vs in params.items() if k not in ("_count", "_offset") for v in vs]

    def link(relation: str, at: int) -> dict:
        return {"relation": relation,
                "url": f"{base}{rtype}?{urlencode([*query, ('_count', count), ('_offset', at)])}"}

    links = [link("self", offset)]
    if offset + count < total and count:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    return {
        "resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
        "entry": [{"fullUrl": f"{base}{rtype}/{f.resource['id']}", "resource": f.resource,
                   "search": {"mode": "match"}} for f in page],
    }
