"""Blinded review (against anchoring): the reviewer records an independent assessment before the first opinion's
diagnosis and proposed treatment are shown, then sees them and completes the opinion.

The coordinator turns it on per case (ReviewPlan) before the case is accepted. What stays hidden until the
reviewer's assessment is saved: the submitted diagnoses (first opinion), the proposed treatment and its CPT code,
and the triage proposal (which repeats the diagnoses).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.choices import Status
from konsil.core import icd10
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed

from .models import IndependentAssessment, ReviewPlan
from .panels import clean_text

PLAN_FROM = frozenset({Status.DRAFT, Status.SUBMITTED, Status.TRIAGED, Status.OFFERED})
ASSESS_IN = frozenset({Status.ACCEPTED, Status.IN_REVIEW, Status.INFO_REQUESTED})


def is_blinded(case) -> bool:
    return ReviewPlan.objects.filter(case=case, blinded=True).exists()


def assessment_of(case, specialist) -> IndependentAssessment | None:
    if specialist is None:
        return None
    return IndependentAssessment.objects.filter(case=case, specialist=specialist).first()


def _reviewer(user, case):
    """The user's specialist profile when they review the case (assigned, or chair of its panel)."""
    specialist = getattr(user, "specialist", None) if hasattr(user, "specialist") else None
    if specialist is None:
        return None
    if case.assigned_specialist_id == specialist.pk:
        return specialist
    if case.panels.filter(status="convened", chair=specialist).exists():
        return specialist
    return None


def hidden_for(user, case) -> bool:
    """True while `user` reviews a blinded case and has not yet recorded an independent assessment."""
    reviewer = _reviewer(user, case)
    return reviewer is not None and is_blinded(case) and assessment_of(case, reviewer) is None


def require_unblinded(*, actor, case) -> None:
    """Refuse opinion writing until the blinded reviewer has recorded an independent assessment."""
    if hidden_for(actor, case):
        raise Conflict(_("Record your independent assessment first: this case is under blinded review."),
                       code="blinded")


def set_review_plan(*, actor, case, blinded) -> ReviewPlan:
    """The coordinator turns blinded review on or off, before a specialist holds the case."""
    if rel.COORDINATOR not in rel.relations(actor, case):
        raise PermissionDenied(_("Only the case's coordinators set how it is reviewed."))
    if case.status not in PLAN_FROM:
        raise Conflict(_("Blinded review can be set only until a specialist accepts the case."),
                       code="plan_not_now")
    if not isinstance(blinded, bool):
        raise ValidationFailed(_("Choose whether the review is blinded."), field="blinded")
    with transaction.atomic():
        plan, _created = ReviewPlan.objects.update_or_create(case=case, defaults={"blinded": blinded,
                                                                                   "set_by": actor})
        emit(actor=actor, action="review_plan.set", obj=plan, patient_id=case.patient_id, role=rel.COORDINATOR,
             detail={"blinded": blinded})
    return plan


def record_assessment(*, actor, case, diagnosis_impression: str, recommended_treatment: str,
                      impression_code: str = "") -> IndependentAssessment:
    """The reviewer's own impression and treatment, time-stamped and kept unchanged; it unblinds the case."""
    reviewer = _reviewer(actor, case)
    if reviewer is None:
        raise PermissionDenied(_("Only the reviewing specialist records the independent assessment."))
    if not is_blinded(case):
        raise Conflict(_("This case is not under blinded review."), code="not_blinded")
    if case.status not in ASSESS_IN:
        raise Conflict(_("The independent assessment is recorded during the review."), code="not_in_review")
    if assessment_of(case, reviewer) is not None:
        raise Conflict(_("Your independent assessment is already recorded."), code="already_recorded")
    errors: dict = {}
    impression = clean_text(diagnosis_impression, "diagnosis_impression", errors)
    treatment = clean_text(recommended_treatment, "recommended_treatment", errors)
    code = str(impression_code or "").strip()
    if code and not icd10.is_valid(code):
        errors["impression_code"] = [_("Unknown ICD-10-CM code.")]
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)
    try:
        with transaction.atomic():
            assessment = IndependentAssessment.objects.create(
                case=case, specialist=reviewer, diagnosis_impression=impression,
                impression_code=icd10.normalize(code) if code else "", recommended_treatment=treatment,
                recorded_at=timezone.now())
            _emit_assessment(actor, case, assessment)
    except IntegrityError:  # a double submit: the first one recorded it (one_assessment_per_reviewer)
        raise Conflict(_("Your independent assessment is already recorded."), code="already_recorded") from None
    return assessment


def _emit_assessment(actor, case, assessment) -> None:
    emit(actor=actor, action="review.independent_assessment", obj=assessment, patient_id=case.patient_id,
         role=rel.SPECIALIST, detail={"code": assessment.impression_code})


def for_report(case) -> list[IndependentAssessment]:
    """Independent assessments recorded on a blinded case, oldest first."""
    return list(IndependentAssessment.objects.filter(case=case).select_related("specialist__user"))
