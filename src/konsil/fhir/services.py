"""Every write of the fhir app: registering a client, and a referral Bundle becoming a case."""

from __future__ import annotations

import base64
import binascii
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from pydantic import ValidationError as PydanticError

from konsil.accounts.models import Membership, User
from konsil.accounts.roles import OrganizationKind, Role
from konsil.audit.services import emit
from konsil.cases import services as cases
from konsil.cases.choices import US_STATES, Channel, ConsentScope, SignerRelationship
from konsil.core import files
from konsil.core.errors import DomainError

from . import patients, referral_coverage, remote_docs
from . import scopes as smart_scopes
from .auth import load_keyset
from .errors import FhirError
from .models import FhirClient, Referral
from .resources import validate
from .resources.mappers import ICD10

ROLE_BY_KIND = {OrganizationKind.PROVIDER_NETWORK: Role.COORDINATOR, OrganizationKind.PAYER: Role.PAYER_ADMIN,
                OrganizationKind.EMPLOYER: Role.EMPLOYER_ADMIN}
STATE_NAMES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
    "connecticut": "CT", "delaware": "DE", "district of columbia": "DC", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS",
    "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD", "massachusetts": "MA",
    "michigan": "MI", "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM",
    "new york": "NY", "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
    "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
}
PRIORITY = {"routine": "routine", "urgent": "urgent", "asap": "urgent", "stat": "stat"}
ACCEPTED = {"Patient", "ServiceRequest", "Condition", "DocumentReference", "Consent", "Coverage"}


# --- clients ------------------------------------------------------------------------------------------------

def clean_origins(origins) -> list[str]:
    """Browser origins as scheme://host[:port] (no path, no credentials); https unless on localhost."""
    from urllib.parse import urlsplit

    out = []
    for raw in origins or []:
        text = str(raw or "").strip().rstrip("/")
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            parts = None
        local = parts is not None and parts.hostname in ("localhost", "127.0.0.1", "::1")
        if (parts is None or not parts.hostname or parts.path or parts.query or parts.fragment or parts.username
                or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not local)
                or len(text) > 200):
            raise FhirError(_("Give each origin as https://host[:port], without a path."), expression="origins")
        out.append(text.lower())
    return sorted(set(out))


def register_client(*, actor, name: str, organization, jwks, scopes: str, network=None,
                    origins=None, source_base: str = "", fetch_token: str = "") -> FhirClient:
    """A backend client of `organization`, acting through a new service user holding the organization's role."""
    name = str(name or "").strip()
    if not name or len(name) > 200:
        raise FhirError(_("Give the client a name."), expression="name")
    try:
        load_keyset(jwks)
    except Exception as exc:  # joserfc raises several types for malformed keys
        raise FhirError(_("The JWKS is not a set of public RSA or EC keys: %(e)s") % {"e": exc},
                        expression="jwks") from None
    words = str(scopes or "").split()
    if not words or not all(smart_scopes.valid(w) for w in words):
        raise FhirError(_("Give SMART system scopes, like system/ServiceRequest.crs."), expression="scope")
    if network is None and organization.kind == OrganizationKind.PROVIDER_NETWORK:
        network = organization
    origins = clean_origins(origins)
    source_base = str(source_base or "").strip()
    if source_base and (not source_base.startswith(("https://", "http://")) or len(source_base) > 300):
        raise FhirError(_("Give the sender's FHIR base URL as http(s)://..."), expression="source_base")
    client_id = secrets.token_urlsafe(18)
    with transaction.atomic():
        user = User.objects.create_user(email=f"fhir-{client_id.lower()}@clients.konsil.invalid",
                                        first_name=name[:150], last_name="(FHIR client)")
        user.set_unusable_password()
        user.save(update_fields=["password"])
        Membership.objects.create(user=user, organization=organization,
                                  role=ROLE_BY_KIND.get(organization.kind, Role.REFERRING_CLINICIAN))
        client = FhirClient.objects.create(name=name, client_id=client_id, organization=organization,
                                           network=network, service_user=user, jwks=jwks, scopes=words,
                                           allowed_origins=origins, source_base=source_base,
                                           fetch_token=str(fetch_token or "").strip())
        emit(actor=actor, action="fhir.client.create", obj=client, detail={"scopes": words, "origins": origins})
    return client


# --- referrals ----------------------------------------------------------------------------------------------

def import_referral(*, client: FhirClient, bundle) -> tuple:
    """A transaction Bundle (Patient, ServiceRequest, Condition*, DocumentReference*, Consent?) -> (case,
    created). Posting the same ServiceRequest identifier again returns the first case. Nothing is kept on error."""
    entries = _entries(bundle)
    by_type: dict[str, list] = {}
    for i, (full_url, resource) in enumerate(entries):
        by_type.setdefault(resource["resourceType"], []).append((i, full_url, resource))
    for rtype in ("Patient", "ServiceRequest"):
        if len(by_type.get(rtype, [])) != 1:
            raise FhirError(_("A referral holds exactly one %(type)s.") % {"type": rtype}, expression="Bundle.entry")
    p_index, patient_url, patient = by_type["Patient"][0]
    s_index, _url, request = by_type["ServiceRequest"][0]
    patient_refs = {patient_url, f"Patient/{patient.get('id')}"} - {None, "Patient/None"}
    if len(by_type.get("Coverage", [])) > 1:
        raise FhirError(_("A referral holds at most one Coverage."), expression="Bundle.entry")
    for rtype in ("ServiceRequest", "Condition", "DocumentReference", "Consent", "Coverage"):
        for i, _u, res in by_type.get(rtype, []):
            field = {"Consent": "patient", "Coverage": "beneficiary"}.get(rtype, "subject")
            reference = (res.get(field) or {}).get("reference")
            if rtype == "Consent" and reference is None:
                continue
            if reference not in patient_refs:
                raise FhirError(_("%(path)s names a patient that is not in the Bundle.")
                                % {"path": f"{rtype}.{field}"}, expression=f"Bundle.entry[{i}].resource.{field}")
    identifier = next((x for x in request.get("identifier") or [] if x.get("value")), None)
    if identifier is None:
        raise FhirError(_("The ServiceRequest needs an identifier (it makes posting it twice safe)."),
                        expression=f"Bundle.entry[{s_index}].resource.identifier")
    system, value = str(identifier.get("system") or "")[:255], str(identifier["value"])[:255]
    existing = Referral.objects.filter(client=client, system=system, value=value).select_related("case").first()
    if existing is not None:
        return existing.case, False
    network = client.network
    if network is None:
        raise FhirError(_("This client has no provider network to send referrals to."), status=403,
                        code="forbidden")
    data = _case_data(patient, request, [r for _i, _u, r in by_type.get("Condition", [])], p_index)
    program = eligible = None
    if by_type.get("Coverage"):
        c_index, _u, coverage = by_type["Coverage"][0]
        program, eligible = referral_coverage.check(client=client, coverage=coverage, index=c_index,
                                                    details=data["patient"])
        data["channel"] = {"payer": Channel.PAYER, "employer": Channel.EMPLOYER}.get(program.sponsor.kind,
                                                                                    Channel.CLINICIAN)
    documents = [(i, r) for i, _u, r in by_type.get("DocumentReference", [])]
    attachments = [(i, j, att) for i, doc in documents
                   for j, att in enumerate(c.get("attachment") or {} for c in doc.get("content") or [])]
    remote = [(i, j, att, remote_docs.resolve(client, att, i, j)) for i, j, att in attachments if not att.get("data")]
    decoded = [(i, j, att, _decode(att, i, j)) for i, j, att in attachments if att.get("data")]
    consent = next((r for _i, _u, r in by_type.get("Consent", []) if r.get("status") == "active"), None)
    actor = client.service_user
    stored: list[str] = []
    try:
        with transaction.atomic():
            matched, how = patients.match(organization=client.organization, network=network, resource=patient,
                                          details=data["patient"])
            case = cases.create_case(actor=actor, network=network, data=data, patient=matched,
                                     sponsor=program.sponsor if program else None)
            if program is not None:
                referral_coverage.record(actor=actor, case=case, program=program, result=eligible)
            patients.link(organization=client.organization, patient=case.patient, resource=patient)
            for i, j, att, content in decoded:
                record = _store(actor, case, att, content, i, j)
                stored.append(record.storage_name)
            remote_docs.plan(case=case, client=client, items=[(att, url) for _i, _j, att, url in remote])
            if consent is not None:
                performer = next((p.get("display") for p in consent.get("performer") or [] if p.get("display")),
                                 None)
                cases.sign_consent(actor=actor, case=case, scope=list(ConsentScope.values),
                                   signer_name=performer or client.organization.name,
                                   signer_relationship=SignerRelationship.TREATING_CLINICIAN)
                case = cases.transition(actor=actor, case=case, action="submit")
            Referral.objects.create(client=client, system=system, value=value, case=case)
            emit(actor=actor, action="fhir.referral", obj=case, patient_id=case.patient_id,
                 detail={"documents": len(decoded), "by_url": len(remote), "submitted": consent is not None,
                         "patient_match": how or "new"})
    except IntegrityError:
        _discard(stored)
        existing = Referral.objects.filter(client=client, system=system, value=value).first()
        if existing is None:
            raise
        return existing.case, False
    except DomainError as exc:
        _discard(stored)
        raise _outcome_of(exc) from None
    except BaseException:
        _discard(stored)
        raise
    return case, True


def _entries(bundle) -> list[tuple[str | None, dict]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError(_("Post a Bundle."), expression="resourceType")
    if bundle.get("type") != "transaction":
        raise FhirError(_("The Bundle must be a transaction."), expression="Bundle.type")
    raw = bundle.get("entry")
    if not isinstance(raw, list) or not raw:
        raise FhirError(_("The Bundle has no entries."), expression="Bundle.entry")
    out, issues = [], []
    for i, entry in enumerate(raw):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        where = f"Bundle.entry[{i}].resource"
        if not isinstance(resource, dict) or resource.get("resourceType") not in ACCEPTED:
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            issues.append({"code": "not-supported", "expression": where,
                           "diagnostics": _("A referral does not take a %(type)s.") % {"type": str(kind)[:64]}})
            continue
        try:
            validate(resource)
        except (PydanticError, ValueError, TypeError) as exc:
            errors = exc.errors() if isinstance(exc, PydanticError) else [{"loc": (), "msg": str(exc)}]
            for err in errors[:10]:
                path = ".".join(str(x) for x in err.get("loc", ()))
                issues.append({"code": "structure", "expression": f"{where}.{path}".rstrip("."),
                               "diagnostics": str(err.get("msg", ""))[:300]})
            continue
        out.append((entry.get("fullUrl"), resource))
    if issues:
        raise FhirError(_("The Bundle holds invalid resources."), issues=issues)
    return out


def _case_data(patient: dict, request: dict, conditions: list[dict], p_index: int) -> dict:
    name = next(iter(patient.get("name") or []), {})
    address = next(iter(patient.get("address") or []), {})
    country = str(address.get("country") or "US").strip().upper()
    country = {"USA": "US", "UNITED STATES": "US"}.get(country, country)
    state = str(address.get("state") or "").strip()
    state = state.upper() if state.upper() in US_STATES else STATE_NAMES.get(state.lower(), state.upper()[:2])
    telecom = {t.get("system"): t.get("value") for t in patient.get("telecom") or []}
    language = next((c.get("code") for com in patient.get("communication") or []
                     for c in (com.get("language") or {}).get("coding") or []), "en")
    codes, words = [], []
    for cond in conditions:
        code = cond.get("code") or {}
        icd = [c["code"] for c in code.get("coding") or [] if c.get("system") == ICD10 and c.get("code")]
        codes += icd
        text = code.get("text") or next((c.get("display") for c in code.get("coding") or [] if c.get("display")),
                                        "")
        if text:
            words.append(text)
    words += [r.get("text") for r in request.get("reasonCode") or [] if r.get("text")]
    return {
        "channel": Channel.CLINICIAN,
        "patient": {"given_name": " ".join(name.get("given") or []), "family_name": name.get("family") or "",
                    "birth_date": patient.get("birthDate") or "", "sex": patient.get("gender") or "unknown",
                    "country": country, "state": state, "language": str(language or "en").split("-")[0],
                    "email": telecom.get("email") or "", "phone": telecom.get("phone") or ""},
        "questions": [n["text"] for n in request.get("note") or [] if n.get("text")],
        "diagnoses": codes,
        "diagnosis_text": "; ".join(dict.fromkeys(words))[:5000],
        "urgency": PRIORITY.get(request.get("priority") or "routine", "routine"),
        "treating_physician": str((request.get("requester") or {}).get("display") or "")[:200],
    }


def _decode(att: dict, i: int, j: int) -> bytes:
    where = f"Bundle.entry[{i}].resource.content[{j}].attachment"
    try:
        content = base64.b64decode(att["data"], validate=True)
    except (binascii.Error, ValueError):
        raise FhirError(_("attachment.data is not base64."), expression=f"{where}.data") from None
    if len(content) > settings.KONSIL_MAX_ATTACHMENT_BYTES:
        raise FhirError(_("The document is too large."), status=413, code="too-costly", expression=where)
    return content


def _store(actor, case, att: dict, content: bytes, i: int, j: int):
    from konsil.records.intake import store_record

    try:
        return store_record(actor=actor, case=case, content=content, filename=att.get("title") or "document",
                            content_type=att.get("contentType") or "")
    except DomainError as exc:
        exc.field = f"Bundle.entry[{i}].resource.content[{j}].attachment"
        raise


def _discard(names: list[str]) -> None:
    for name in names:
        files.delete(name)


def _outcome_of(exc: DomainError) -> FhirError:
    body = exc.as_dict()
    issues = [{"code": "invalid" if exc.status == 400 else "business-rule", "expression": field,
               "diagnostics": "; ".join(messages)} for field, messages in (body["errors"] or {}).items()]
    status = exc.status if exc.status in (400, 403, 404, 409) else 400
    return FhirError(exc.message, status=422 if status == 400 else status,
                     code="forbidden" if status == 403 else "invalid", issues=issues or None)
