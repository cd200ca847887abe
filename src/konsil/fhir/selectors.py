"""What a client may read, resource type by resource type: always through the cases selectors and the
permission registry, as its service user would on the pages. Reads are audited by the views (one event per
resource shown)."""

from __future__ import annotations

import uuid

from django.db.models import Q

from konsil.accounts.models import Organization
from konsil.accounts.roles import OrganizationKind
from konsil.cases.models import Attachment, Case, CaseDiagnosis, Consent, Patient
from konsil.cases.selectors import cases_for
from konsil.core import authz
from konsil.matching.models import Specialist
from konsil.opinions.models import Opinion
from konsil.records.models import Study

from .resources import mappers, more

TYPES = ("Patient", "ServiceRequest", "Task", "Condition", "DocumentReference", "DiagnosticReport",
         "Provenance", "Consent", "Practitioner", "PractitionerRole", "Organization", "ImagingStudy", "AuditEvent",
         "Coverage", "QuestionnaireResponse")


class Found:
    """One resource the actor may read: the dict, the patient it concerns (for the audit) and its model row."""

    __slots__ = ("resource", "patient_id", "obj")

    def __init__(self, resource: dict, patient_id, obj):
        self.resource, self.patient_id, self.obj = resource, patient_id, obj


def _cases(user, patient_ids=None, rid=None, rtype=""):
    qs = cases_for(user).prefetch_related("diagnoses", "questions")
    if patient_ids is not None:
        qs = qs.filter(patient_id__in=patient_ids)
    if rid is not None:
        qs = qs.filter(_case_of(rtype, rid))
    return qs


def _case_of(rtype: str, rid: str) -> Q:
    """The case a resource id belongs to (a read looks at that case only); nothing for a malformed id."""
    key = rid.removeprefix("report-").removeprefix("sig-")
    try:
        key = uuid.UUID(key)
    except ValueError:
        return Q(pk__in=[])
    if rtype in ("ServiceRequest", "Task"):
        return Q(pk=key)
    if rtype == "Patient":
        return Q(patient_id=key)
    if rtype in ("DiagnosticReport", "Provenance") or rid.startswith("report-"):
        return Q(opinions__pk=key)
    if rtype == "ImagingStudy":
        return Q(studies__pk=key)
    if rtype == "Coverage":
        return Q(enrollment__pk=key)
    if rtype == "QuestionnaireResponse":
        return Q(follow_ups__pk=key)
    return {"Condition": Q(diagnoses__pk=key), "DocumentReference": Q(attachments__pk=key),
            "Consent": Q(consent__pk=key)}.get(rtype, Q())


def _signed_opinions(user, cases) -> list[Opinion]:
    """The newest signed opinion of each case whose report the user may read ("case.read_report")."""
    out = []
    for case in cases:
        if case.status not in ("signed", "delivered", "closed") or not authz.can("case.read_report", user, case):
            continue
        opinion = case.opinions.filter(signed_at__isnull=False).select_related("case").order_by("-version").first()
        if opinion is not None:
            out.append(opinion)
    return out


def case_page(user, *, patient_ids=None, ids=None, statuses=None, offset: int = 0, count: int = 50):
    """One page of the user's cases, newest change first, and their number: ServiceRequest and Task searches
    with nothing but paging, patient, _id and status (as Konsil statuses) are cut by the database."""
    qs = _cases(user, patient_ids)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    if statuses is not None:
        qs = qs.filter(status__in=sorted(statuses))
    qs = qs.order_by("-updated_at")
    return list(qs[offset:offset + count]), qs.count()


def find(user, rtype: str, *, base: str, patient_ids=None, rid: str | None = None, cases=None) -> list[Found]:
    """Every `rtype` resource `user` may read (narrowed to `patient_ids`, or to the case of `rid`, when given;
    or made from `cases`, a page the caller already holds from `case_page`)."""
    cases = list(_cases(user, patient_ids, rid, rtype)) if cases is None else cases
    if rtype == "ServiceRequest":
        return [Found(mappers.service_request(c, referral=getattr(c, "fhir_referral", None)), c.patient_id, c)
                for c in Case.objects.filter(pk__in=[c.pk for c in cases]).select_related("fhir_referral")
                .prefetch_related("diagnoses", "questions")]
    if rtype == "Task":
        reports = {o.case_id: o.pk for o in _signed_opinions(user, cases)}
        return [Found(mappers.task(c, report_id=reports.get(c.pk)), c.patient_id, c) for c in cases]
    if rtype == "Patient":
        patients = Patient.objects.filter(pk__in={c.patient_id for c in cases})
        return [Found(mappers.patient(p), p.pk, p) for p in patients]
    if rtype == "Condition":
        rows = CaseDiagnosis.objects.filter(case__in=[c.pk for c in cases]).select_related("case")
        return [Found(mappers.condition(d), d.case.patient_id, d) for d in rows]
    if rtype == "DocumentReference":
        rows = Attachment.objects.filter(case__in=[c.pk for c in cases], parent__isnull=True).exclude(
            status=Attachment.Processing.FAILED).select_related("case")
        found = [Found(mappers.document_reference(a, base=base), a.case.patient_id, a) for a in rows]
        found += [Found(mappers.report_document_reference(o, base=base), o.case.patient_id, o)
                  for o in _signed_opinions(user, cases)]
        return found
    if rtype == "DiagnosticReport":
        return [Found(mappers.diagnostic_report(o, base=base), o.case.patient_id, o)
                for o in _signed_opinions(user, cases)]
    if rtype == "Provenance":
        return [Found(mappers.provenance(o), o.case.patient_id, o) for o in _signed_opinions(user, cases)]
    if rtype == "Consent":
        rows = Consent.objects.filter(case__in=[c.pk for c in cases]).select_related("case")
        return [Found(mappers.consent(c), c.case.patient_id, c) for c in rows]
    if rtype in ("Practitioner", "PractitionerRole"):
        rows = _specialists(user, cases)
        if rtype == "Practitioner":
            return [Found(mappers.practitioner(s), None, s) for s in rows]
        return [Found(more.practitioner_role(s), None, s)
                for s in rows.prefetch_related("specialties", "licenses")]
    if rtype == "ImagingStudy":
        rows = Study.objects.filter(case__in=[c.pk for c in cases]).select_related("case").prefetch_related("series")
        return [Found(more.imaging_study(st, base=base), st.case.patient_id, st) for st in rows]
    if rtype == "Organization":
        ids = {c.network_id for c in cases} | {c.sponsor_id for c in cases if c.sponsor_id}
        orgs = Organization.objects.filter(Q(pk__in=ids) | Q(memberships__user=user, memberships__active=True))
        return [Found(mappers.organization(o), None, o) for o in orgs.distinct()]
    if rtype == "Coverage":
        from konsil.programs.models import Enrollment

        rows = Enrollment.objects.filter(case__in=[c.pk for c in cases]).select_related(
            "case", "program__sponsor", "member")
        return [Found(more.coverage(e), e.case.patient_id, e) for e in rows]
    if rtype == "QuestionnaireResponse":
        return _responses(user, cases)
    raise KeyError(rtype)


def _responses(user, cases) -> list[Found]:
    """Answered follow-ups of the cases whose report the user may read (the outcome belongs with the opinion)."""
    import json

    from konsil.outcomes.models import FollowUp, FollowUpStatus

    readable = [c.pk for c in cases if authz.can("case.read_report", user, c)]
    out = []
    for f in FollowUp.objects.filter(case__in=readable, status=FollowUpStatus.ANSWERED).select_related("case"):
        try:
            stored = json.loads(f.response or "{}")
        except ValueError:
            continue
        out.append(Found(more.questionnaire_response(f, stored), f.case.patient_id, f))
    return out


def _specialists(user, cases):
    """The specialists on the user's cases (assigned, or signing an opinion), and the directory of the provider
    networks the user is a member of."""
    ids = {c.assigned_specialist_id for c in cases if c.assigned_specialist_id}
    ids |= set(Opinion.objects.filter(case__in=[c.pk for c in cases], signed_at__isnull=False)
               .values_list("author_id", flat=True))
    own = Q(network__memberships__user=user, network__memberships__active=True,
            network__kind=OrganizationKind.PROVIDER_NETWORK)
    return Specialist.objects.filter(Q(pk__in=ids) | own).select_related("user").distinct()


def audit_events(user, *, patient_ids=None, ids=None):
    """AuditEvents a client may read, newest first: the whole trail for an auditor, else the events about the
    patients of cases in the provider networks the client coordinates for (the network's own accounting of
    access). A query, paged by the caller: the trail is large."""
    from konsil.accounts.roles import Role
    from konsil.audit.models import AuditEvent

    qs = AuditEvent.objects.order_by("-occurred_at")
    if not authz.can("audit.view_trail", user):
        networks = user.organizations_for(Role.COORDINATOR).filter(kind=OrganizationKind.PROVIDER_NETWORK)
        patients = Case.objects.filter(network__in=networks).values("patient_id")
        qs = qs.filter(patient_id__in=patients)
    if patient_ids is not None:
        qs = qs.filter(patient_id__in=patient_ids)
    if ids is not None:
        qs = qs.filter(id__in=ids)
    return qs
