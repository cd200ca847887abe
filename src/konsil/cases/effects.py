"""Guards and effects of the lifecycle's transitions (see lifecycle.py for the table)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.core.errors import Conflict, ValidationFailed

from .choices import MessageKind, OfferStatus, Urgency
from .models import Message, Offer


def _text(params: dict, name: str, *, required: bool = True, max_length: int = 5000) -> str:
    value = params.get(name)
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise ValidationFailed(_("This field is required."), field=name)
    if len(value) > max_length:
        raise ValidationFailed(_("Keep this under %(n)d characters.") % {"n": max_length}, field=name)
    return value


# --- guards -------------------------------------------------------------------------------------------------

def guard_submit(*, case, params, actor) -> None:
    errors: dict[str, list[str]] = {}
    if not case.questions.exists():
        errors["questions"] = [_("Ask at least one question for the specialist.")]
    if not hasattr(case, "consent"):
        errors["consent"] = [_("The authorization to obtain and share records must be signed.")]
    p = case.identity
    if not p.state and p.country == "US":
        errors["patient.state"] = [_("Tell us the US state where the patient lives.")]
    if errors:
        raise ValidationFailed(_("The case is not ready to submit."), errors=errors)


def guard_triage(*, case, params, actor) -> None:
    from konsil.matching.models import Specialty

    code = params.get("specialty")
    if not code:
        raise ValidationFailed(_("Choose a specialty."), field="specialty")
    if not Specialty.objects.filter(pk=code).exists():
        raise ValidationFailed(_("Unknown specialty."), field="specialty")
    urgency = params.get("urgency")
    if urgency and urgency not in Urgency.values:
        raise ValidationFailed(_("Choose routine, urgent or STAT."), field="urgency")


def guard_retriage(*, case, params, actor) -> None:
    """Re-triage: a known specialty other than the current one, and the reason (kept as triage feedback)."""
    from konsil.matching.models import Specialty

    errors: dict[str, list[str]] = {}
    code = str(params.get("specialty") or "").strip()
    if not code:
        errors["specialty"] = [_("Choose a specialty.")]
    elif not Specialty.objects.filter(pk=code).exists():
        errors["specialty"] = [_("Unknown specialty.")]
    elif code == case.specialty_id:
        errors["specialty"] = [_("The case already has this specialty: choose another one.")]
    try:
        _text(params, "reason", max_length=2000)
    except ValidationFailed as exc:
        errors["reason"] = [str(exc.message)]
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)


def guard_offer(*, case, params, actor) -> None:
    from konsil.matching import selectors as matching

    specialist_id = params.get("specialist")
    if not specialist_id:
        raise ValidationFailed(_("Choose a specialist."), field="specialist")
    problem = matching.ineligibility(case, specialist_id)
    if problem:
        raise ValidationFailed(problem, field="specialist")
    from . import offers

    offers.check_override(case=case, specialist_id=specialist_id, reason=params.get("reason"))


def guard_reason(*, case, params, actor) -> None:
    _text(params, "reason")


def guard_message(*, case, params, actor) -> None:
    _text(params, "message", max_length=10000)


def guard_opinion_complete(*, case, params, actor) -> None:
    from konsil.opinions import services as opinions

    opinions.check_complete(opinions.current_draft(case))


def guard_amend(*, case, params, actor) -> None:
    _text(params, "reason")
    if not isinstance(params.get("opinion"), dict):
        raise ValidationFailed(_("Give the amended opinion."), field="opinion")


# --- effects ------------------------------------------------------------------------------------------------

def on_submit(*, case, params, actor, relation) -> None:
    case.submitted_at = timezone.now()
    case.save(update_fields=["submitted_at", "updated_at"])
    from . import coding

    coding.refresh(actor=actor or "system", case=case)  # codes read in the words and records, to be confirmed
    from konsil.matching import routing
    from konsil.triage import tasks as triage_tasks

    if not routing.after_submit(case):  # auto-routing triages, then routes
        triage_tasks.enqueue_proposal(case.pk)


def on_triage(*, case, params, actor, relation) -> None:
    from konsil.triage import services as triage

    if actor is None:  # auto-routing confirms a confident proposal: nobody decided, so no feedback is recorded
        case.specialty_id, case.urgency = params["specialty"], params.get("urgency") or case.urgency
        case.save(update_fields=["specialty", "urgency", "updated_at"])
        return
    triage.record_decision(
        case=case, actor=actor, specialty_code=params["specialty"],
        urgency=params.get("urgency") or case.urgency, reason=_text(params, "reason", required=False),
    )


def on_retriage(*, case, params, actor, relation) -> None:
    """A new specialty: any pending offer is withdrawn, the coordinator's reason kept as triage feedback, and the
    case is matched afresh (no longer escalated)."""
    from konsil.triage import services as triage

    reason = _text(params, "reason", max_length=2000)
    if case.offers.filter(status=OfferStatus.PENDING).exists():
        _close_pending_offer(case, OfferStatus.WITHDRAWN, reason)
    triage.record_decision(case=case, actor=actor, specialty_code=str(params["specialty"]).strip(),
                           urgency=case.urgency, reason=reason)
    if case.escalated_at is not None:
        case.escalated_at = None
        case.save(update_fields=["escalated_at", "updated_at"])
    from konsil.matching import routing

    routing.after_retriage(case)  # the network routes automatically: offered afresh once this commits


def on_offer(*, case, params, actor, relation) -> None:
    from . import offers

    offers.open_offer(case=case, specialist_id=params["specialist"], offered_by=actor,
                      reason=_text(params, "reason", required=False))


def _close_pending_offer(case, status: str, reason: str = "") -> Offer | None:
    offer = case.offers.filter(status=OfferStatus.PENDING).first()
    if offer is None:
        raise Conflict(_("This case has no pending offer."))
    offer.status, offer.reason, offer.responded_at = status, reason or offer.reason, timezone.now()
    offer.save(update_fields=["status", "reason", "responded_at", "updated_at"])
    return offer


def on_retract_offer(*, case, params, actor, relation) -> None:
    _close_pending_offer(case, OfferStatus.WITHDRAWN, _text(params, "reason", required=False))


def on_expire_offer(*, case, params, actor, relation) -> None:
    _close_pending_offer(case, OfferStatus.EXPIRED)


def on_accept(*, case, params, actor, relation) -> None:
    from . import offers, sla

    offers.check_open(case)
    offer = _close_pending_offer(case, OfferStatus.ACCEPTED)
    case.assigned_specialist = offer.specialist
    case.save(update_fields=["assigned_specialist", "updated_at"])
    sla.start_clock(case)


def on_decline(*, case, params, actor, relation) -> None:
    from . import offers

    _close_pending_offer(case, OfferStatus.DECLINED, _text(params, "reason"))
    offers.after_decline(case)


def on_request_info(*, case, params, actor, relation) -> None:
    Message.objects.create(case=case, author=actor, author_role=relation, kind=MessageKind.INFO_REQUEST,
                           body=_text(params, "message", max_length=10000))


def on_provide_info(*, case, params, actor, relation) -> None:
    Message.objects.create(case=case, author=actor, author_role=relation, kind=MessageKind.INFO_RESPONSE,
                           body=_text(params, "message", max_length=10000))


def on_sign(*, case, params, actor, relation) -> None:
    from konsil.opinions import services as opinions

    opinions.sign(case=case, actor=actor)


def on_deliver(*, case, params, actor, relation) -> None:
    case.delivered_at = timezone.now()
    case.save(update_fields=["delivered_at", "updated_at"])


def on_close(*, case, params, actor, relation) -> None:
    case.closed_at = timezone.now()
    case.save(update_fields=["closed_at", "updated_at"])


def on_amend(*, case, params, actor, relation) -> None:
    from konsil.opinions import services as opinions

    opinions.amend(case=case, actor=actor, reason=_text(params, "reason"), content=params["opinion"])


def on_end(*, case, params, actor, relation) -> None:
    """Cancel or withdraw: pending offers are withdrawn, the reason kept on the timeline."""
    case.offers.filter(status=OfferStatus.PENDING).update(
        status=OfferStatus.WITHDRAWN, responded_at=timezone.now()
    )
    case.closed_at = timezone.now()
    case.save(update_fields=["closed_at", "updated_at"])
