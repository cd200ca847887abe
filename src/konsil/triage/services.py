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
    codes = [r["code"] for r in result.ranked] + [result.subspecialty] + list(result.panel_roles)
    known = set(Specialty.objects.filter(pk__in=[c for c in codes if c]).values_list("pk", flat=True))
    with transaction.atomic():
        proposal = TriageProposal.objects.create(
            case=case, engine=eng.name, model_version=eng.version,
            specialty_id=result.specialty if result.specialty in known else None,
            ranked=[r for r in result.ranked if r["code"] in known], urgency=result.urgency,
            red_flags=result.red_flags, reasons=result.reasons, abstain=result.abstain, labels=result.labels,
            subspecialty_id=result.subspecialty if result.subspecialty in known else None,
            multidisciplinary=result.multidisciplinary, panel_roles=[r for r in result.panel_roles if r in known],
            checklist=result.checklist, inconsistencies=result.inconsistencies, summary=result.summary,
        )
        emit(actor="triage", action="triage.propose", obj=proposal, patient_id=case.patient_id,
             detail={"engine": eng.name, "version": eng.version, "specialty": proposal.specialty_id,
                     "red_flags": [f.get("code") for f in proposal.red_flags]})
        if proposal.red_flags:
            _raise_the_alarm(case, proposal)
    return proposal


URGENCY_RANK = {"routine": 0, "urgent": 1, "stat": 2}


def _raise_the_alarm(case, proposal: TriageProposal) -> None:
    """Red flags are never silently routine: escalate the case's urgency (never lower it) and alert coordinators."""
    from konsil.cases import relations as rel
    from konsil.cases.notify import notify

    if URGENCY_RANK.get(proposal.urgency, 0) > URGENCY_RANK.get(case.urgency, 0):
        previous = case.urgency
        case.urgency = proposal.urgency
        case.save(update_fields=["urgency", "updated_at"])
        emit(actor="triage", action="triage.escalate", obj=case, patient_id=case.patient_id,
             detail={"from": previous, "to": case.urgency})
    notify(case, "red_flag", {rel.COORDINATOR})


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
