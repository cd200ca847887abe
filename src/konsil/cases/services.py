"""Every write to a case: keyword-only, one transaction each, audited in the same transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.roles import Role
from konsil.audit.services import emit
from konsil.core import context, geo, icd10
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.core.models import remember_missing, remember_related

from . import coding, identity, lifecycle, signers
from . import relations as rel
from .choices import (
    LANGUAGE_CHOICES,
    US_STATES,
    Channel,
    ConsentScope,
    Delivery,
    MessageKind,
    Sex,
    Status,
    Urgency,
)
from .models import Attachment, Case, CaseDiagnosis, CaseQuestion, Consent, Message, Patient, StatusChange
from .notify import notify

log = logging.getLogger(__name__)

EDITABLE = frozenset({Status.DRAFT})
MAX_QUESTIONS = 10


# --- transitions --------------------------------------------------------------------------------------------

def transition(*, actor, case: Case, action: str, **params) -> Case:
    """Take `action` on `case` as `actor`, per the lifecycle table. Refusals are audited too.

    `actor` is a user, or the name of an automatic process ("matching"): that holds the `system` relation only.
    """
    try:
        with transaction.atomic():
            case = Case.objects.select_for_update(of=("self",)).select_related("patient").get(pk=case.pk)
            return _apply(actor=actor, case=case, action=action, params=params)
    except (Conflict, PermissionDenied, ValidationFailed) as exc:
        known = isinstance(action, str) and action in lifecycle.table()
        emit(actor=actor, action=f"case.{action}" if known else "case.unknown_action", obj=case,
             patient_id=case.patient_id, outcome="denied", detail={"code": exc.code, "status": case.status})
        raise


def _apply(*, actor, case: Case, action: str, params: dict) -> Case:
    t = lifecycle.table().get(action) if isinstance(action, str) else None
    if t is None:
        raise ValidationFailed(_("Unknown action."), field="action", code="unknown_action")
    system = isinstance(actor, str)
    user = None if system else actor  # effects, the timeline and notifications take a user or None
    relations = {rel.SYSTEM} if system else rel.relations(actor, case)
    if not relations & (rel.CLINICAL_RELATIONS | {rel.SYSTEM}):
        raise PermissionDenied(_("You do not have access to this case."))
    # Whoever may see the case learns that the move is illegal in its state; only then who may take it.
    if case.status not in t.sources:
        raise Conflict(
            _("A case that is %(status)s cannot be moved with '%(action)s'.")
            % {"status": case.get_status_display().lower(), "action": str(t.label)},
            code="illegal_transition",
        )
    allowed_roles = t.roles & relations
    if not allowed_roles:
        raise PermissionDenied(_("You may not %(action)s this case.") % {"action": str(t.label).lower()})
    relation = rel.primary_relation(allowed_roles)
    t.guard(case=case, params=params, actor=actor)
    source = case.status
    # A pending offer is closed by every move out of `offered`: tell its specialist before the effect.
    before_effect = t.notify & {rel.OFFERED} if source == Status.OFFERED else set()
    if before_effect:
        notify(case, action, before_effect, actor=user)
    t.effect(case=case, params=params, actor=user, relation=relation)
    case.status = t.target_from(source)
    case.save(update_fields=["status", "updated_at"])
    StatusChange.objects.create(
        case=case, action=action, from_status=source, to_status=case.status, actor=user, role=relation,
        note=str(params.get("reason") or "")[:2000],
    )
    emit(actor=actor, action=f"case.{action}", obj=case, patient_id=case.patient_id, role=relation,
         detail={"from": source, "to": case.status})
    notify(case, action, t.notify - before_effect, actor=user)
    return case


# --- intake -------------------------------------------------------------------------------------------------

def _require_editable(case: Case) -> None:
    if case.status not in EDITABLE:
        raise Conflict(_("A submitted case can no longer be edited."), code="not_editable")


def _patient_fields(data) -> dict:
    """Validate the patient's details; raises with every field at fault (keyed "patient.<field>")."""
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give the patient's details."), field="patient")
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    for name in ("given_name", "family_name"):
        value = str(data.get(name) or "").strip()
        if not value:
            errors[name] = [_("This field is required.")]
        elif len(value) > 100:
            errors[name] = [_("Keep this under %(n)d characters.") % {"n": 100}]
        clean[name] = value
    birth = data.get("birth_date")
    try:
        birth = birth.date() if isinstance(birth, datetime) else birth
        birth = birth if isinstance(birth, date) else date.fromisoformat(str(birth or ""))
        if birth > timezone.localdate() or birth.year < 1900:
            errors["birth_date"] = [_("Enter a real birth date.")]
        clean["birth_date"] = birth
    except ValueError:
        errors["birth_date"] = [_("Enter a date as YYYY-MM-DD.")]
    clean["sex"] = str(data.get("sex") or "")
    if clean["sex"] not in Sex.values:
        errors["sex"] = [_("Choose one of the options.")]
    country = str(data.get("country") or "US").strip().upper()
    if len(country) != 2 or not country.isalpha():
        errors["country"] = [_("Use the two-letter country code (e.g. US, MX, JP).")]
    clean["country"] = country
    state = str(data.get("state") or "").strip().upper()
    if country == "US" and state not in US_STATES:
        errors["state"] = [_("Choose the US state where the patient lives.")]
    clean["state"] = state if country == "US" else ""
    county = str(data.get("county") or "").strip()[:5]
    if county and (country != "US" or not geo.county_in_state(county, state)):
        errors["county"] = [_("Choose a county of the patient's state.")]
    clean["county"] = county if country == "US" else ""
    language = str(data.get("language") or "en")
    if language not in dict(LANGUAGE_CHOICES):
        errors["language"] = [_("Choose a language from the list.")]
    clean["language"] = language
    clean["email"] = str(data.get("email") or "").strip()
    if clean["email"] and ("@" not in clean["email"] or len(clean["email"]) > 254):
        errors["email"] = [_("Enter a valid email address.")]
    clean["phone"] = str(data.get("phone") or "").strip()[:32]
    if errors:
        raise ValidationFailed(_("Check the patient's details."),
                               errors={f"patient.{k}": v for k, v in errors.items()})
    return clean


CASE_FIELDS = ("urgency", "preferred_delivery", "diagnosis_text", "proposed_treatment", "proposed_cpt",
               "treating_physician", "treating_physician_email", "treating_facility", "clinical_summary")


def _case_fields(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    clean = {}
    for name in CASE_FIELDS:
        if name in data:
            clean[name] = str(data[name] if data[name] is not None else "").strip()
    if "urgency" in clean and clean["urgency"] not in Urgency.values:
        errors["urgency"] = [_("Choose routine, urgent or STAT.")]
    if "preferred_delivery" in clean and clean["preferred_delivery"] not in Delivery.values:
        errors["preferred_delivery"] = [_("Choose one of the options.")]
    if "interpreter_needed" in data:
        value = data["interpreter_needed"]
        if isinstance(value, bool):
            clean["interpreter_needed"] = value
        elif str(value).lower() in ("true", "false", "1", "0", "on", ""):
            clean["interpreter_needed"] = str(value).lower() in ("true", "1", "on")
        else:
            errors["interpreter_needed"] = [_("Answer yes or no.")]
    cpt = clean.get("proposed_cpt", "")
    if cpt and not (len(cpt) == 5 and cpt[:4].isdigit() and (cpt[4].isdigit() or cpt[4] in "FTU")):
        errors["proposed_cpt"] = [_("A CPT code has five characters, like 27447.")]
    email = clean.get("treating_physician_email", "")
    if email and "@" not in email:
        errors["treating_physician_email"] = [_("Enter a valid email address.")]
    for name, limit in (("treating_physician", 200), ("treating_facility", 200), ("proposed_treatment", 5000),
                        ("diagnosis_text", 5000), ("clinical_summary", 20000)):
        if len(clean.get(name, "")) > limit:
            errors[name] = [_("Keep this under %(n)d characters.") % {"n": limit}]
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)
    return clean


def validate_codes(codes, *, optional: bool = True) -> list[str]:
    """Normalize ICD-10-CM codes; unknown codes are refused with their position. `optional`: the form also takes
    the diagnosis in words (a case's intake), so the refusal says so."""
    if isinstance(codes, str):
        codes = [c for c in codes.replace(";", ",").replace("\n", ",").split(",")]
    if not isinstance(codes, list | tuple):
        raise ValidationFailed(_("Give a list of ICD-10-CM codes."), field="diagnoses")
    clean, bad = [], []
    for raw in codes:
        code = str(raw or "").split(" — ")[0].strip().upper()  # "C50.911 — title" picked from the lookup
        if not code:
            continue
        if not icd10.is_valid(code):
            bad.append(code[:12])
        elif icd10.normalize(code) not in clean:
            clean.append(icd10.normalize(code))
    if bad and not optional:
        raise ValidationFailed(_("Unknown ICD-10-CM code(s): %(codes)s.") % {"codes": ", ".join(bad)},
                               field="diagnoses")
    if bad:
        raise ValidationFailed(
            _("Unknown ICD-10-CM code(s): %(codes)s. Codes are optional: describe the diagnosis in words "
              "instead.") % {"codes": ", ".join(bad)}, field="diagnoses"
        )
    return clean


def validate_questions(questions) -> list[str]:
    if isinstance(questions, str):
        questions = questions.splitlines()
    if not isinstance(questions, list | tuple):
        raise ValidationFailed(_("Give a list of questions."), field="questions")
    clean = [str(q).strip() for q in questions if str(q or "").strip()]
    if len(clean) > MAX_QUESTIONS:
        raise ValidationFailed(_("Ask at most %(n)d questions.") % {"n": MAX_QUESTIONS}, field="questions")
    if any(len(q) > 2000 for q in clean):
        raise ValidationFailed(_("Keep each question under 2000 characters."), field="questions")
    return clean


REQUESTER_ROLES = (Role.PATIENT, Role.CAREGIVER, Role.REFERRING_CLINICIAN, Role.COORDINATOR)


def _requester_defaults(actor, network, channel: str):
    """The checks on who requests a case through which channel."""
    if not isinstance(channel, str) or channel not in Channel.values:
        raise ValidationFailed(_("Choose a channel."), field="channel")
    if not actor.has_role(*REQUESTER_ROLES):
        raise PermissionDenied(_("You may not request second opinions."))
    if channel == Channel.PATIENT and not actor.has_role(Role.PATIENT, Role.CAREGIVER):
        raise PermissionDenied(_("Only patients and caregivers submit cases directly."))
    if channel == Channel.CLINICIAN and not actor.has_role(Role.REFERRING_CLINICIAN, Role.COORDINATOR):
        raise PermissionDenied(_("Only clinicians refer patients."))


def _validated(checks: dict) -> dict:
    """Run every check (name -> callable) and raise once with the errors of all of them."""
    clean, errors = {}, {}
    for name, check in checks.items():
        try:
            clean[name] = check()
        except ValidationFailed as exc:
            errors.update(exc.as_dict()["errors"] or {exc.field or name: [str(exc.message)]})
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)
    return clean


def _list_checks(data: dict) -> dict:
    checks = {}
    if "questions" in data:
        checks["questions"] = lambda: validate_questions(data["questions"])
    if "diagnoses" in data:
        checks["diagnoses"] = lambda: validate_codes(data["diagnoses"])
    return checks


def create_case(*, actor, network, data: dict, patient: Patient | None = None, sponsor=None) -> Case:
    """Start a draft case (intake step 1): the patient and the channel. Nothing is saved on bad input."""
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give the case's details."), field="case")
    channel = data.get("channel") or (Channel.CLINICIAN if actor.has_role(Role.REFERRING_CLINICIAN)
                                      else Channel.PATIENT)
    _requester_defaults(actor, network, channel)
    checks = {"case": lambda: _case_fields(data), **_list_checks(data)}
    if patient is None or data.get("patient"):  # a known patient's new details make a new identity version
        checks["patient"] = lambda: _patient_fields(data.get("patient") or {})
    clean = _validated(checks)
    # A patient requests for themselves (directly or through a payer or employer program).
    own_record = channel != Channel.CLINICIAN and actor.has_role(Role.PATIENT)
    with transaction.atomic():
        if patient is None:
            patient = Patient.objects.filter(network=network, user=actor).first() if own_record else None
            if patient is None:
                patient = Patient.objects.create(network=network, user=actor if own_record else None,
                                                 **clean["patient"])
                emit(actor=actor, action="patient.create", obj=patient, patient_id=patient.pk)
        # The new case gets its own identity version when its details differ; other cases keep theirs.
        version = identity.for_new_case(actor=actor, patient=patient, values=clean.get("patient"))
        case = Case.objects.create(network=network, patient=patient, identity=version, requester=actor,
                                   channel=channel, sponsor=sponsor, **clean["case"])
        _write_lists(case, clean, new=True)
        # What a new case has, kept for the rest of the request (their writers, _write_lists and coding.refresh,
        # keep them true): the response does not read them back.
        for name in ("questions", "diagnoses", "code_suggestions"):
            if name not in case.__dict__.get("_prefetched_objects_cache", {}):
                remember_related(case, name, [])
        remember_missing(case, "consent")  # sign_consent's row replaces it (Django sets the reverse side)
        emit(actor=actor, action="case.create", obj=case, patient_id=patient.pk)
        if coding.WORD_FIELDS & (set(clean["case"]) | set(clean)):
            coding.refresh(actor=actor, case=case, records=False)
    return case


def _write_lists(case: Case, clean: dict, *, new: bool = False) -> None:
    """Replace the questions and diagnoses given in `clean` (already validated); a `new` case has none to delete."""
    if "questions" in clean:
        if not new:
            case.questions.all().delete()
        remember_related(case, "questions", CaseQuestion.objects.bulk_create(
            [CaseQuestion(case=case, position=i, text=q) for i, q in enumerate(clean["questions"])]
        ))
    if "diagnoses" in clean:
        if not new:
            case.diagnoses.all().delete()
        remember_related(case, "diagnoses", CaseDiagnosis.objects.bulk_create(
            [CaseDiagnosis(case=case, position=i, code=c) for i, c in enumerate(clean["diagnoses"])]
        ))


def _wizard_step(value) -> int:
    try:
        return max(1, min(6, int(value)))
    except (TypeError, ValueError):
        raise ValidationFailed(_("Invalid step."), field="wizard_step") from None


def update_case(*, actor, case: Case, data: dict) -> Case:
    """Save intake answers on a draft (save and resume). Nothing is saved on bad input."""
    _require_editable(case)
    if not rel.relations(actor, case) & (lifecycle.REQUEST_SIDE | {rel.COORDINATOR}):
        raise PermissionDenied(_("You may not edit this case."))
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give the case's details."), field="case")
    checks = {"case": lambda: _case_fields(data), **_list_checks(data)}
    if "patient" in data:
        checks["patient"] = lambda: _patient_fields(data["patient"] or {})
    if "wizard_step" in data:
        checks["wizard_step"] = lambda: _wizard_step(data["wizard_step"])
    clean = _validated(checks)
    with transaction.atomic():
        if "patient" in clean:  # a new version when another case uses this one (cases.identity)
            identity.update_for_case(actor=actor, case=case, values=clean["patient"])
        for key, value in clean["case"].items():
            setattr(case, key, value)
        if "wizard_step" in clean:
            case.wizard_step = clean["wizard_step"]
        case.save()
        _write_lists(case, clean)
        emit(actor=actor, action="case.update", obj=case, patient_id=case.patient_id,
             detail={"fields": sorted(str(k)[:64] for k in set(data) - {"patient"})})
        if coding.WORD_FIELDS & (set(clean["case"]) | set(clean)):
            coding.refresh(actor=actor, case=case)
    return case


def sign_consent(*, actor, case: Case, scope, signer_name: str, signer_relationship: str = "") -> Consent:
    """Record the HIPAA authorization (scope, signer, timestamp) for a draft case. The signer's relationship must
    be one that this signer may record (cases.signers); blank takes their default where they have one."""
    _require_editable(case)
    relations = rel.relations(actor, case)
    if not relations & lifecycle.REQUEST_SIDE:
        raise PermissionDenied(_("Only the patient's side signs the authorization."))
    scope = list(dict.fromkeys(scope)) if isinstance(scope, list | tuple | set | frozenset) else []
    kind = signers.signer_kind(actor, relations)
    errors = {}
    if not scope or any(s not in ConsentScope.values for s in scope):
        errors["scope"] = [_("Choose what you authorize.")]
    elif ConsentScope.SHARE_WITH_REVIEWERS not in scope:
        errors["scope"] = [_("Reviewers need your records: this part of the authorization is required.")
                           if kind == signers.PATIENT
                           else _("Reviewers need the patient's records: this part of the authorization is required.")]
    signer_name = str(signer_name or "").strip()
    if not signer_name:
        errors["signer_name"] = [_("Type your full name to sign.")]
    relationship, refusal = signers.checked_relationship(kind, signer_relationship)
    if refusal:
        errors["signer_relationship"] = [refusal]
    if errors:
        raise ValidationFailed(_("The authorization is incomplete."), errors=errors)
    with transaction.atomic():
        consent, _created = Consent.objects.update_or_create(
            case=case,
            defaults={"scope": scope, "signer_name": signer_name[:200],
                      "signer_relationship": relationship,
                      "signed_at": timezone.now(), "ip": context.current().ip},
        )
        emit(actor=actor, action="consent.sign", obj=consent, patient_id=case.patient_id,
             detail={"scope": scope})
    return consent


# --- attachments and messages -------------------------------------------------------------------------------

def add_attachment(*, actor, case: Case, upload, description: str = "") -> Attachment:
    """A document sent through the plain upload form: stored encrypted, then processed like any record."""
    from konsil.records.intake import check_can_add, store_record

    check_can_add(actor, case)
    if upload is None:
        raise ValidationFailed(_("Choose a file."), field="file")
    if upload.size > settings.KONSIL_MAX_ATTACHMENT_BYTES:
        raise ValidationFailed(_("The file is too large."), field="file")
    return store_record(actor=actor, case=case, content=upload.read(), filename=getattr(upload, "name", ""),
                        content_type=getattr(upload, "content_type", ""), description=description)


def read_attachment(*, actor, attachment: Attachment) -> bytes:
    """Decrypt a document for download; the caller got `attachment` through a scoped selector."""
    from konsil.records.intake import read_record

    return read_record(actor=actor, attachment=attachment)


def post_message(*, actor, case: Case, body: str) -> Message:
    """A message in the case's thread; after delivery it is a follow-up question."""
    relations = rel.relations(actor, case)
    if not relations & (rel.CLINICAL_RELATIONS - {rel.OFFERED, rel.PANEL_MEMBER}):
        raise PermissionDenied(_("You may not write on this case."))
    if case.status == Status.DRAFT:
        raise Conflict(_("Messages open once the case is submitted."))
    if case.status in (Status.CANCELLED, Status.WITHDRAWN):
        raise Conflict(_("This case has ended: its messages are closed."))
    body = str(body or "").strip()
    if not body:
        raise ValidationFailed(_("Write a message."), field="body")
    if len(body) > 10000:
        raise ValidationFailed(_("Keep this under %(n)d characters.") % {"n": 10000}, field="body")
    relation = rel.primary_relation(relations)
    patient_side = relation in lifecycle.REQUEST_SIDE
    kind = MessageKind.FOLLOW_UP if patient_side and case.status in (Status.DELIVERED, Status.CLOSED) \
        else MessageKind.MESSAGE
    with transaction.atomic():
        message = Message.objects.create(case=case, author=actor, author_role=relation, kind=kind, body=body)
        emit(actor=actor, action="message.create", obj=message, patient_id=case.patient_id, role=relation)
        others = ({rel.COORDINATOR, rel.SPECIALIST} if patient_side
                  else {rel.PATIENT, rel.CAREGIVER, rel.REQUESTER, rel.COORDINATOR, rel.SPECIALIST})
        notify(case, "message", others, actor=actor)
    return message


def mark_notifications_read(*, actor, ids=None) -> int:
    """Mark the actor's unread notifications (all, or those in `ids`) as read; returns how many."""
    qs = actor.notifications.filter(read_at__isnull=True)
    if ids is not None:
        try:
            ids = [uuid.UUID(str(i)) for i in ids]
        except (TypeError, ValueError, AttributeError):
            raise ValidationFailed(_("Unknown notification."), field="ids") from None
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
