"""Opinion writes: autosaved drafts, completeness, signature (hash + freeze), amendments, report shares."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.choices import Status
from konsil.core import icd10
from konsil.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from .models import Confidence, DiagnosisVerdict, Opinion, ReportShare, TreatmentVerdict, new_verify_code

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
    from .seats import require_settled

    require_settled(opinion.case)  # a panel's consensus waits for its open seats to be filled or waived


def content_hash(opinion: Opinion) -> str:
    """SHA-256 over the canonical content, the case and the version: what the signature covers."""
    body = {name: getattr(opinion, name) for name in CONTENT_FIELDS}
    body.update(case=str(opinion.case_id), version=opinion.version, author=str(opinion.author_id),
                amendment_reason=opinion.amendment_reason)
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _freeze(opinion: Opinion, actor) -> Opinion:
    opinion.content_hash = content_hash(opinion)
    opinion.verify_code = new_verify_code()
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
# The e-mail carries a link with the share's public id only; the physician then proves who they are with a code
# sent to their address or the patient's birth date. Codes and birth dates travel in POST bodies, never in URLs,
# so access logs and mail bodies hold nothing that opens the report. Only keyed hashes are stored.

SHARE_DAY_CHOICES = (7, 14, 30)
CODE_MINUTES = 10
CODE_RESEND_SECONDS = 60
MAX_CODES = 5
LOCK_AFTER = 5  # failed proofs in a row lock the share for LOCK_MINUTES
LOCK_MINUTES = 15
BLOCK_AFTER = 10  # failed proofs in all: the share is closed, the patient shares again
ACCESS_MINUTES = 60  # a proven browser session reads the report this long
SHARE_ACTOR = "treating_physician"


def patient_identity(case):
    """The identity the report is for: the version of the patient's identity the case was submitted with
    (cases.PatientIdentity) when the case has one, else the patient row."""
    return getattr(case, "identity", None) or case.patient


def _keyed(share: ReportShare, value: str) -> str:
    import hmac

    from django.conf import settings

    key = f"konsil.report-share:{settings.SECRET_KEY}".encode()
    return hmac.new(key, f"{share.pk}:{value}".encode(), hashlib.sha256).hexdigest()


def _share_actor(share: ReportShare) -> str:
    return f"share:{share.recipient_email}"


def _sharer_relations(actor, case) -> set:
    relations = rel.relations(actor, case)
    if not relations & {rel.PATIENT, rel.CAREGIVER, rel.REQUESTER, rel.COORDINATOR}:
        raise PermissionDenied(_("You may not share this report."))
    return relations


def share_report(*, actor, case, recipient_name: str, recipient_email: str, days=SHARE_DAY_CHOICES[1]
                 ) -> ReportShare:
    """Give the treating physician access to the report (they still prove who they are when they open it)."""
    relations = _sharer_relations(actor, case)
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
    elif len(recipient_name) > 200:
        errors["recipient_name"] = [_("Keep this under %(n)d characters.") % {"n": 200}]
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(recipient_email)
    except ValidationError:
        errors["recipient_email"] = [_("Enter a valid email address.")]
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if days not in SHARE_DAY_CHOICES:
        errors["days"] = [_("Choose one of the options.")]
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)
    with transaction.atomic():
        share = ReportShare.objects.create(
            case=case, recipient_name=recipient_name, recipient_email=recipient_email,
            expires_at=timezone.now() + timedelta(days=days), created_by=actor)
        emit(actor=actor, action="report.share", obj=share, patient_id=case.patient_id,
             role=rel.primary_relation(relations), detail={"days": days})
    return share


def revoke_share(*, actor, case, share_id) -> ReportShare:
    """The patient (or whoever may share) ends a share; the link stops working at once."""
    try:
        relations = _sharer_relations(actor, case)
    except PermissionDenied:
        emit(actor=actor, action="report.share_revoke", object_type="opinions.reportshare", object_id=str(share_id),
             patient_id=case.patient_id, outcome="denied")
        raise
    with transaction.atomic():
        share = ReportShare.objects.select_for_update().filter(case=case, pk=share_id).first()
        if share is None:
            raise NotFound(_("There is no such share."))
        if share.revoked_at is None:
            share.revoked_at, share.revoked_by = timezone.now(), actor
            share.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
        emit(actor=actor, action="report.share_revoke", obj=share, patient_id=case.patient_id,
             role=rel.primary_relation(relations))
    return share


def share_state(share: ReportShare | None) -> str:
    """unknown | revoked | expired | blocked | locked | open"""
    now = timezone.now()
    if share is None:
        return "unknown"
    if share.revoked_at:
        return "revoked"
    if share.expires_at <= now:
        return "expired"
    if share.blocked_at:
        return "blocked"
    if share.locked_until and share.locked_until > now:
        return "locked"
    return "open"


def find_share(public_id: str) -> ReportShare | None:
    return ReportShare.objects.select_related("case__patient").filter(public_id=str(public_id or "")[:32]).first()


def _refuse_closed(share: ReportShare | None, action: str, *, locked_ok: bool = False) -> ReportShare:
    state = share_state(share)
    if state == "open" or (state == "locked" and locked_ok):
        return share
    if share is not None:
        emit(actor=_share_actor(share), action=action, obj=share, patient_id=share.case.patient_id,
             role=SHARE_ACTOR, outcome="denied", detail={"reason": state})
    if state == "locked":
        raise Conflict(_("Too many attempts. Try again in %(n)d minutes.") % {"n": LOCK_MINUTES},
                       code="share_locked")
    if state == "blocked":
        raise NotFound(_("This link was closed after too many attempts. Ask the patient to share the report "
                         "again."), code="share_blocked")
    raise NotFound(_("This link is not valid or has expired."), code="share_closed")


def send_share_code(*, share: ReportShare | None) -> tuple[ReportShare, str]:
    """A fresh one-time code for the recipient's address (the caller e-mails it); returns the share and code."""
    share = _refuse_closed(share, "report.share_code")
    now = timezone.now()
    if share.code_sent_at and (now - share.code_sent_at).total_seconds() < CODE_RESEND_SECONDS:
        raise Conflict(_("A code was sent less than a minute ago: check your email."), code="code_recent")
    if share.codes_sent >= MAX_CODES:
        raise Conflict(_("Too many codes were sent for this link. Use the patient's date of birth, or ask the "
                         "patient to share the report again."), code="code_limit")
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        share.code_hash = _keyed(share, code)
        share.code_expires_at, share.code_sent_at = now + timedelta(minutes=CODE_MINUTES), now
        share.codes_sent += 1
        share.save(update_fields=["code_hash", "code_expires_at", "code_sent_at", "codes_sent", "updated_at"])
        emit(actor=_share_actor(share), action="report.share_code", obj=share, patient_id=share.case.patient_id,
             role=SHARE_ACTOR)
    return share, code


def _proof_matches(share: ReportShare, method: str, value: str) -> bool:
    import hmac

    value = str(value or "").strip()
    if method == ReportShare.Proof.EMAIL_CODE:
        digits = "".join(ch for ch in value if ch.isdigit())[:6]
        fresh = share.code_hash and share.code_expires_at and share.code_expires_at > timezone.now()
        return bool(fresh) and hmac.compare_digest(share.code_hash, _keyed(share, digits))
    if method == ReportShare.Proof.BIRTH_DATE:
        from django.utils.dateparse import parse_date

        try:
            given = parse_date(value)
        except ValueError:
            given = None
        return given is not None and given == patient_identity(share.case).birth_date
    return False


def prove_recipient(*, share: ReportShare | None, method: str, value: str) -> ReportShare:
    """Check the recipient's proof; failures count (lock after LOCK_AFTER, close after BLOCK_AFTER)."""
    if method not in ReportShare.Proof.values:
        raise ValidationFailed(_("Choose how to prove who you are."), field="method")
    if not str(value or "").strip():
        field = "code" if method == ReportShare.Proof.EMAIL_CODE else "birth_date"
        raise ValidationFailed(_("This field is required."), field=field)
    with transaction.atomic():
        if share is not None:
            share = ReportShare.objects.select_for_update().select_related("case__patient").get(pk=share.pk)
        share = _refuse_closed(share, "report.share_proof")
        ok = _proof_matches(share, method, value)
        now = timezone.now()
        if ok:
            share.locked_until = None
            if method == ReportShare.Proof.EMAIL_CODE:
                share.code_hash, share.code_expires_at = "", None  # single use
        else:  # failures are counted for the share's life: a lock every LOCK_AFTER, closed at BLOCK_AFTER
            share.failed_attempts += 1
            if share.failed_attempts >= BLOCK_AFTER:
                share.blocked_at = now
            elif share.failed_attempts % LOCK_AFTER == 0:
                share.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        share.save(update_fields=["failed_attempts", "locked_until", "blocked_at", "code_hash", "code_expires_at",
                                  "updated_at"])
        emit(actor=_share_actor(share), action="report.share_proof", obj=share, patient_id=share.case.patient_id,
             role=SHARE_ACTOR, outcome="success" if ok else "denied", detail={"method": method})
    if not ok:
        field = "code" if method == ReportShare.Proof.EMAIL_CODE else "birth_date"
        if method == ReportShare.Proof.EMAIL_CODE:
            message = _("The code is wrong or has expired.")
        else:
            message = _("The date of birth does not match.")
        raise ValidationFailed(message, field=field)
    return share


def open_shared_report(share: ReportShare | None, *, action: str = "report.read_shared") -> ReportShare:
    """A proven recipient reads the report: the share must still be open (a lock on proofs, perhaps caused by
    someone else's guesses, does not stop a browser that already proved itself); the read is audited."""
    share = _refuse_closed(share, action, locked_ok=True)
    share.last_viewed_at = timezone.now()
    share.save(update_fields=["last_viewed_at", "updated_at"])
    emit(actor=_share_actor(share), action=action, obj=share, patient_id=share.case.patient_id, role=SHARE_ACTOR)
    return share


# --- public verification -----------------------------------------------------------------------------------

@dataclass
class Verification:
    """What the public verification page says: valid | tampered | superseded | unknown, and by whom/when."""

    state: str
    opinion: Opinion | None = None
    latest: Opinion | None = None


def verify_report(code: str) -> Verification:
    """Check a printed report's verification code; the check is audited (no patient data is shown)."""
    code = "".join(ch for ch in str(code or "").upper() if ch.isalnum())[:16]
    opinion = (Opinion.objects.select_related("case__network", "signed_by").filter(
        verify_code=code, signed_at__isnull=False).first() if len(code) == 12 else None)
    if opinion is None:
        emit(actor="public", action="report.verify", object_type="opinions.opinion", outcome="denied",
             detail={"reason": "unknown"})
        return Verification("unknown")
    latest = latest_signed(opinion.case)
    if not verify_signature(opinion):
        state = "tampered"
    elif latest is not None and latest.pk != opinion.pk:
        state = "superseded"
    else:
        state = "valid"
    emit(actor="public", action="report.verify", obj=opinion, patient_id=opinion.case.patient_id, role="public",
         outcome="success" if state in ("valid", "superseded") else "denied", detail={"state": state})
    return Verification(state, opinion, latest)


# --- the network's letterhead ------------------------------------------------------------------------------

def save_letterhead(*, actor, organization, data: dict):
    """Create or update the letterhead (the caller checked that `actor` administers `organization`)."""
    from .models import Letterhead

    with transaction.atomic():
        row, _created = Letterhead.objects.select_for_update().get_or_create(
            organization=organization, defaults={"display_name": data["display_name"]})
        for name in ("display_name", "address", "phone", "email", "website"):
            setattr(row, name, (data.get(name) or "").strip())
        if data.get("remove_logo"):
            row.logo_png = ""
        elif data.get("logo"):
            row.logo_png = data["logo"]
        row.updated_by = actor
        row.save()
        emit(actor=actor, action="letterhead.update", obj=row, role="org_admin",
             detail={"logo": bool(row.logo_png)})
    return row
