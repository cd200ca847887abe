"""/fhir/R4/: thin views over selectors and services; every answer is FHIR JSON, every refusal an
OperationOutcome (OAuth errors at the token endpoint follow RFC 6749)."""

from __future__ import annotations

import functools
import json
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from konsil.audit.services import emit, emit_many
from konsil.core.errors import DomainError

from . import auth, include, search, selectors, services
from . import scopes as smart_scopes
from .errors import FHIR_JSON, NOT_FOUND, UNKNOWN_TYPE, FhirError, operation_outcome
from .resources import mappers
from .resources.capability import capability_statement, smart_configuration

log = logging.getLogger(__name__)


def fhir_json(body: dict, status: int = 200, **headers) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=FHIR_JSON)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def base_url(request) -> str:
    return request.build_absolute_uri(reverse("fhir:base"))


def fhir_endpoint(fn):
    """CSRF-exempt (bearer tokens, no cookies); every error an OperationOutcome, never a 500 page."""

    @csrf_exempt
    @functools.wraps(fn)
    def wrapper(request, *args, **kwargs):
        try:
            return fn(request, *args, **kwargs)
        except FhirError as exc:
            return fhir_json(exc.outcome(), exc.status)
        except DomainError as exc:
            return fhir_json(operation_outcome([{"code": "invalid", "diagnostics": str(exc.message)}]), exc.status)
        except Exception:  # noqa: BLE001 - a bug must still answer in FHIR
            log.exception("FHIR endpoint failed")
            return fhir_json(operation_outcome([{"code": "exception", "severity": "fatal",
                                                 "diagnostics": _("The server could not answer this request.")}]),
                             500)

    return wrapper


def _token(request, rtype: str, permission: str):
    token = auth.authenticate(request.headers.get("Authorization", ""))
    if token is None:
        raise FhirError(_("Send a bearer token from the token endpoint."), status=401, code="login")
    if not smart_scopes.allows(token.scopes, rtype, permission):
        emit(actor=token.client.service_user, action="fhir.scope", object_type="fhir.client",
             object_id=str(token.client_id), outcome="denied", detail={"type": rtype, "permission": permission})
        raise FhirError(_("The token's scopes do not allow this."), status=403, code="forbidden")
    return token


def _type(rtype: str) -> str:
    if rtype not in selectors.TYPES:
        raise FhirError(UNKNOWN_TYPE, status=404, code="not-supported", expression=rtype[:64])
    return rtype


# --- discovery and tokens -----------------------------------------------------------------------------------

@fhir_endpoint
def metadata(request):
    return fhir_json(capability_statement(base_url(request)))


@fhir_endpoint
def smart_config(request):
    return JsonResponse(smart_configuration(base_url(request)))


@csrf_exempt
def token(request):
    if request.method != "POST":
        return JsonResponse({"error": "invalid_request", "error_description": "POST the token request"}, status=405)
    try:
        body = auth.issue_token(grant_type=request.POST.get("grant_type", ""),
                                assertion_type=request.POST.get("client_assertion_type", ""),
                                assertion=request.POST.get("client_assertion", ""),
                                scope=request.POST.get("scope", ""),
                                audience=request.build_absolute_uri(reverse("fhir:token")))
    except auth.OAuthError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


# --- read and search ----------------------------------------------------------------------------------------

def _audit(user, rtype: str, found: list, action: str) -> None:
    emit_many(actor=user, events=[{"action": action, "object_type": f"fhir.{rtype}"[:64],
                                   "object_id": str(f.resource["id"])[:64], "patient_id": f.patient_id}
                                  for f in found])


@fhir_endpoint
def type_level(request, rtype):
    rtype = _type(rtype)
    if request.method != "GET":
        raise FhirError(_("Use GET to search, or POST a transaction Bundle to the base."), status=405,
                        code="not-supported")
    tok = _token(request, rtype, "s")
    user = tok.client.service_user
    params = search.parse(rtype, request.GET)
    patient_ids = search.patient_ids(params) if rtype != "Patient" else None
    base = base_url(request)
    includes = include.parse(rtype, params)
    if rtype == "AuditEvent":
        return _audit_events(request, user, params, patient_ids, base)
    if rtype in ("ServiceRequest", "Task") and set(params) <= DB_PAGED:
        count, offset = search.page_size(params)
        ids = [i for v in params.get("_id", []) for i in v.split(",")] if "_id" in params else None
        statuses = None
        if "status" in params:  # every value AND-ed, each a comma-separated OR of FHIR codes
            for value in params["status"]:
                wanted = mappers.konsil_statuses(rtype, [v.strip() for v in value.split(",")])
                statuses = wanted if statuses is None else statuses & wanted
        cases, total = selectors.case_page(user, patient_ids=_valid_ids(patient_ids), ids=_valid_ids(ids),
                                           statuses=statuses, offset=offset, count=count)
        page = selectors.find(user, rtype, base=base, cases=cases)
        body = search.page_bundle(rtype, page, params, base=base, total=total)
    else:
        found = selectors.find(user, rtype, base=base, patient_ids=_valid_ids(patient_ids))
        body, page = search.bundle(rtype, found, params, base=base)
    _audit(user, rtype, page, "fhir.search")
    if includes:
        extra = include.included(user, page, includes, base=base)
        for f in extra:
            body["entry"].append({"fullUrl": f"{base}{f.resource['resourceType']}/{f.resource['id']}",
                                  "resource": f.resource, "search": {"mode": "include"}})
            _audit(user, f.resource["resourceType"], [f], "fhir.search")
    return fhir_json(body)


DB_PAGED = {"_count", "_offset", "patient", "subject", "_id", "status", "_include"}  # the database pages these


def _audit_events(request, user, params, patient_ids, base):
    """AuditEvent search, paged by the database (the trail is large); _lastUpdated is when the event occurred."""
    from .resources.more import audit_event

    count, offset = search.page_size(params)
    ids = [i for v in params.get("_id", []) for i in v.split(",")] if "_id" in params else None
    qs = selectors.audit_events(user, patient_ids=_valid_ids(patient_ids), ids=_valid_ids(ids))
    for raw in (v for vs in params.get("_lastUpdated", []) for v in vs.split(",")):
        prefix, when, day = search._when(raw.strip(), "_lastUpdated")
        field = "occurred_at__date" if day else "occurred_at"
        value = when.date() if day else when
        lookup = {"eq": "", "gt": "__gt", "lt": "__lt", "ge": "__gte", "le": "__lte"}.get(prefix)
        qs = qs.exclude(**{field: value}) if prefix == "ne" else qs.filter(**{f"{field}{lookup}": value})
    total = qs.count()
    page = [selectors.Found(audit_event(e), e.patient_id, e) for e in qs[offset:offset + count]]
    body = search.page_bundle("AuditEvent", page, params, base=base, total=total)
    _audit(user, "AuditEvent", page, "fhir.search")
    return fhir_json(body)


def _valid_ids(ids):
    """Patient ids as UUIDs; a malformed id finds nothing instead of failing."""
    if ids is None:
        return None
    import uuid

    out = []
    for value in ids:
        try:
            out.append(uuid.UUID(value))
        except ValueError:
            continue
    return out


def _one(request, rtype: str, rid: str):
    tok = _token(request, rtype, "r")
    user = tok.client.service_user
    base = base_url(request)
    if rtype == "AuditEvent":
        from .resources.more import audit_event

        found = [selectors.Found(audit_event(e), e.patient_id, e)
                 for e in selectors.audit_events(user, ids=_valid_ids([rid]))[:1]]
    else:
        found = selectors.find(user, rtype, base=base, rid=rid)
    for f in found:
        if f.resource["id"] == rid:
            _audit(user, rtype, [f], "fhir.read")
            return user, f, base
    emit(actor=user, action="fhir.read", object_type=f"fhir.{rtype}", object_id=rid[:64], outcome="denied")
    raise FhirError(NOT_FOUND, status=404, code="not-found")


@fhir_endpoint
def instance(request, rtype, rid):
    rtype = _type(rtype)
    if request.method != "GET":
        raise FhirError(_("This server takes referrals as a transaction Bundle."), status=405, code="not-supported")
    _user, found, _base = _one(request, rtype, rid)
    return fhir_json(found.resource, ETag=f'W/"{found.resource["meta"]["lastUpdated"]}"')


@fhir_endpoint
def document(request, rid):
    """DiagnosticReport/<id>/$document: the signed opinion as a document Bundle, Composition first."""
    user, found, base = _one(request, "DiagnosticReport", rid)
    opinion = found.obj
    case = opinion.case
    parts = [mappers.composition(opinion), found.resource, mappers.patient(case.patient),
             mappers.service_request(case, referral=getattr(case, "fhir_referral", None))]
    if opinion.author_id:
        parts.append(mappers.practitioner(opinion.author))
    emit(actor=user, action="fhir.document", obj=opinion, patient_id=case.patient_id)
    return fhir_json({
        "resourceType": "Bundle", "id": f"doc-{opinion.pk}", "type": "document",
        "identifier": {"system": "urn:konsil:report", "value": f"{case.reference}-v{opinion.version}"},
        "timestamp": opinion.signed_at.isoformat(),
        "entry": [{"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r} for r in parts],
    })


@fhir_endpoint
def binary(request, rid):
    """The bytes a DocumentReference points at: a record (decrypted) or the report PDF."""
    user, found, _base = _one(request, "DocumentReference", rid)
    obj = found.obj
    if rid.startswith("report-"):
        from konsil.opinions import report

        case = obj.case
        pdf = report.render_pdf(report.report_context(case, request))
        emit(actor=user, action="report.download", obj=case, patient_id=case.patient_id)
        return HttpResponse(pdf, content_type="application/pdf")
    from konsil.cases.services import read_attachment

    return HttpResponse(read_attachment(actor=user, attachment=obj), content_type=obj.content_type)


# --- referrals in -------------------------------------------------------------------------------------------

@fhir_endpoint
def base(request):
    if request.method != "POST":
        raise FhirError(_("POST a transaction Bundle here; read resources under their type."), status=405,
                        code="not-supported")
    tok = _token(request, "ServiceRequest", "c")
    # Inline documents make referrals larger than ordinary form posts: read the stream with our own limit.
    limit = 2 * settings.KONSIL_MAX_ATTACHMENT_BYTES + 64 * 1024  # about one maximal file in base64, and more
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise FhirError(_("The Bundle is too large."), status=413, code="too-costly")
    try:
        bundle = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise FhirError(_("The body is not JSON."), code="structure") from None
    case, created = services.import_referral(client=tok.client, bundle=bundle)
    status = "201 Created" if created else "200 OK"
    locations = [f"ServiceRequest/{case.pk}", f"Task/{case.pk}", f"Patient/{case.patient_id}"]
    return fhir_json({
        "resourceType": "Bundle", "type": "transaction-response",
        "entry": [{"response": {"status": status, "location": loc}} for loc in locations],
    }, 201 if created else 200, Location=f"{base_url(request)}ServiceRequest/{case.pk}")
