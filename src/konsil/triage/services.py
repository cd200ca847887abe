"""Triage writes: store an engine's proposal, record a coordinator's decision."""

from __future__ import annotations

from django.db import transaction

from konsil.audit.services import emit
from konsil.matching.models import Specialty

from .engine import engine
from .models import TriageDecision, TriageProposal


def propose(*, case) -> TriageProposal:
    """Run the configured engine on `case` and store its proposal."""
    eng = engine()
    result = eng.propose(case)
    codes = [r["code"] for r in result.ranked]
    known = set(Specialty.objects.filter(pk__in=codes).values_list("pk", flat=True))
    with transaction.atomic():
        proposal = TriageProposal.objects.create(
            case=case, engine=eng.name, model_version=eng.version,
            specialty_id=result.specialty if result.specialty in known else None,
            ranked=[r for r in result.ranked if r["code"] in known], urgency=result.urgency,
            red_flags=result.red_flags, reasons=result.reasons, abstain=result.abstain,
        )
        emit(actor="triage", action="triage.propose", obj=proposal, patient_id=case.patient_id,
             detail={"engine": eng.name, "version": eng.version, "specialty": proposal.specialty_id})
    return proposal


def latest_proposal(case) -> TriageProposal | None:
    return case.triage_proposals.order_by("-created_at").first()


def record_decision(*, case, actor, specialty_code: str, urgency: str, reason: str = "") -> TriageDecision:
    """Within the triage transition: set the case's specialty and keep what the coordinator changed."""
    proposal = latest_proposal(case)
    agreed = bool(proposal and proposal.specialty_id == specialty_code and proposal.urgency == urgency)
    case.specialty_id = specialty_code
    case.urgency = urgency
    case.save(update_fields=["specialty", "urgency", "updated_at"])
    return TriageDecision.objects.create(
        case=case, proposal=proposal, chosen_specialty_id=specialty_code, chosen_urgency=urgency,
        agreed=agreed, reason=reason, decided_by=actor,
    )
