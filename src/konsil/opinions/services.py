"""Opinion writes: autosaved drafts, completeness, signature (hash + freeze), amendments, report shares."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.choices import Status
from konsil.core import icd10
from konsil.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from .models import Confidence, DiagnosisVerdict, Opinion, ReportShare, TreatmentVerdict

CONTENT_FIELDS = ("diagnosis_verdict", "revised_diagnosis", "diagnosis_comment", "treatment_verdict",
                  "treatment_recommendation", "answers", "further_tests", "narrative", "confidence")
DRAFTABLE = frozenset({Status.IN_REVIEW, Status.INFO_REQUESTED})
SHARE_DAYS = 30


def current_draft(case) -> Opinion | None:
    return case.opinions.filter(signed_at__isnull=True).order_by("-version").first()


def latest_signed(case) -> Opinion | None:
    return case.opinions.filter(signed_at__isnull=False).order_by("-version").first()


def _clean(case, data: dict, *, partial: bool) -> dict:
    """Validate opinion fields; on a partial save (autosave) only the fields given are checked."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    for name in CONTENT_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name == "answers":
            if not isinstance(value, dict):
                errors[name] = [_("Answers must map each question to its answer.")]
                continue
            question_ids = {str(q) for q in case.questions.values_list("pk", flat=True)}
            unknown = [k for k in value if str(k) not in question_ids]
            if unknown:
                errors[name] = [_("Answers name a question this case does not have.")]
                continue
            clean[name] = {str(k): str(v or "").strip()[:10000] for k, v in value.items()}
            continue
        value = "" if value is None else str(value).strip()
        if len(value) > 20000:
            errors[name] = [_("Keep this under %(n)d characters.") % {"n": 20000}]
        clean[name] = value
    choices = {"diagnosis_verdict": DiagnosisVerdict, "treatment_verdict": TreatmentVerdict,
               "confidence": Confidence}
    for name, enum in choices.items():
        if clean.get(name) and clean[name] not in enum.values:
            errors[name] = [_("Choose one of the options.")]
    code = clean.get("revised_diagnosis")
    if code:
        if not icd10.is_valid(code):
            errors["revised_diagnosis"] = [_("Unknown ICD-10-CM code.")]
        else:
            clean["revised_diagnosis"] = icd10.normalize(code)
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)
    return clean


def _author(actor, case):
    if rel.SPECIALIST not in rel.relations(actor, case):
        raise PermissionDenied(_("Only the assigned specialist writes the opinion."))
    return actor.specialist


def save_draft(*, actor, case, data: dict) -> Opinion:
    """Create or update the working draft (autosave: partial data is fine)."""
    from .blinded import require_unblinded

    author = _author(actor, case)
    require_unblinded(actor=actor, case=case)
    if case.status not in DRAFTABLE:
        raise Conflict(_("The opinion can be edited only while the case is in review."), code="not_editable")
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give the opinion's fields."), field="opinion")
    clean = _clean(case, data, partial=True)
    with transaction.atomic():
        draft = current_draft(case)
        if draft is None:
            last = case.opinions.order_by("-version").first()
            draft = Opinion(case=case, author=author, version=(last.version + 1) if last else 1)
        for key, value in clean.items():
            setattr(draft, key, value)
        draft.save()
        emit(actor=actor, action="opinion.save_draft", obj=draft, patient_id=case.patient_id,
             role=rel.SPECIALIST, detail={"fields": sorted(clean)})
    return draft


def check_complete(opinion: Opinion | None) -> None:
    """What a signable opinion must hold; raises with every missing field."""
    if opinion is None:
        raise ValidationFailed(_("Write the opinion first."), field="opinion")
    errors: dict[str, list[str]] = {}
    required = _("This field is required.")
    if not opinion.diagnosis_verdict:
        errors["diagnosis_verdict"] = [required]
    elif opinion.diagnosis_verdict != DiagnosisVerdict.CONFIRMED and not opinion.revised_diagnosis:
        errors["revised_diagnosis"] = [_("Give the refined or new ICD-10-CM code.")]
    if not opinion.treatment_verdict:
        errors["treatment_verdict"] = [required]
    elif opinion.treatment_verdict != TreatmentVerdict.AGREE and not opinion.treatment_recommendation:
        errors["treatment_recommendation"] = [_("Say what you recommend instead.")]
    question_ids = [str(q) for q in opinion.case.questions.values_list("pk", flat=True)]
    if any(not (opinion.answers or {}).get(q) for q in question_ids):
        errors["answers"] = [_("Answer each of the patient's questions.")]
    if not opinion.narrative:
        errors["narrative"] = [required]
    if not opinion.confidence:
        errors["confidence"] = [required]
    if errors:
        raise ValidationFailed(_("The opinion is not complete."), errors=errors)


def content_hash(opinion: Opinion) -> str:
    """SHA-256 over the canonical content, the case and the version: what the signature covers."""
    body = {name: getattr(opinion, name) for name in CONTENT_FIELDS}
    body.update(case=str(opinion.case_id), version=opinion.version, author=str(opinion.author_id),
                amendment_reason=opinion.amendment_reason)
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _freeze(opinion: Opinion, actor) -> Opinion:
    opinion.content_hash = content_hash(opinion)
    opinion.signed_by, opinion.signed_at = actor, timezone.now()
    opinion.save()
    emit(actor=actor, action="opinion.sign", obj=opinion, patient_id=opinion.case.patient_id,
         role=rel.SPECIALIST, detail={"version": opinion.version, "content_hash": opinion.content_hash})
    return opinion


def sign(*, case, actor) -> Opinion:
    """Within the sign transition: freeze the current draft with the signer, time and content hash."""
    draft = current_draft(case)
    check_complete(draft)
    return _freeze(draft, actor)


def amend(*, case, actor, reason: str, content: dict) -> Opinion:
    """Within the amend transition: a new signed version carrying its reason."""
    previous = latest_signed(case)
    if previous is None:
        raise Conflict(_("There is no signed opinion to amend."))
    if previous.author.user_id != actor.pk:
        raise PermissionDenied(_("Only the signing specialist amends the opinion."))
    merged = {name: getattr(previous, name) for name in CONTENT_FIELDS}
    merged.update(_clean(case, content, partial=True))
    opinion = Opinion(case=case, author=previous.author, version=previous.version + 1,
                      amendment_reason=reason, **merged)
    check_complete(opinion)
    opinion.save()
    return _freeze(opinion, actor)


def verify_signature(opinion: Opinion) -> bool:
    return bool(opinion.signed_at) and content_hash(opinion) == opinion.content_hash


# --- report access for the treating physician --------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share_report(*, actor, case, recipient_name: str, recipient_email: str) -> tuple[ReportShare, str]:
    """Give the treating physician access to the report; returns the share and the one-time secret token."""
    relations = rel.relations(actor, case)
    if not relations & {rel.PATIENT, rel.CAREGIVER, rel.REQUESTER, rel.COORDINATOR}:
        raise PermissionDenied(_("You may not share this report."))
    if case.status not in (Status.DELIVERED, Status.CLOSED):
        raise Conflict(_("The report can be shared once it is delivered."))
    consent = getattr(case, "consent", None)
    if consent is None or "share_report" not in consent.scope:
        raise Conflict(_("The patient has not authorized sending the report to a physician."),
                       field="consent")
    errors = {}
    recipient_name = str(recipient_name or "").strip()
    recipient_email = str(recipient_email or "").strip()
    if not recipient_name:
        errors["recipient_name"] = [_("This field is required.")]
    if "@" not in recipient_email or len(recipient_email) > 254:
        errors["recipient_email"] = [_("Enter a valid email address.")]
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        share = ReportShare.objects.create(
            case=case, recipient_name=recipient_name[:200], recipient_email=recipient_email,
            token_hash=_token_hash(token), expires_at=timezone.now() + timedelta(days=SHARE_DAYS),
            created_by=actor,
        )
        emit(actor=actor, action="report.share", obj=share, patient_id=case.patient_id,
             role=rel.primary_relation(relations))
    return share, token


def open_shared_report(token: str) -> ReportShare:
    """The share behind a secret link, or NotFound when it is unknown, revoked or expired."""
    digest = _token_hash(str(token or ""))
    share = ReportShare.objects.select_related("case__patient").filter(token_hash=digest).first()
    if share is None or share.revoked_at or share.expires_at < timezone.now():
        raise NotFound(_("This link is not valid or has expired."))
    share.last_viewed_at = timezone.now()
    share.save(update_fields=["last_viewed_at", "updated_at"])
    emit(actor=f"share:{share.recipient_email}", action="report.read_shared", obj=share,
         patient_id=share.case.patient_id, role="treating_physician")
    return share
