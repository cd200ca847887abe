"""Triage writes: store an engine's proposal, record a coordinator's decision."""

from __future__ import annotations

import inspect

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from konsil.audit.services import emit
from konsil.core import context
from konsil.core.errors import Conflict, ValidationFailed
from konsil.core.prepared import ID, Prepared
from konsil.matching.models import Specialty

from . import clarify
from .engine import engine
from .knowledge import catalog_parents
from .models import Clarification, TriageDecision, TriageProposal
from .person import case_language
from .reasons import to_data as why_data


def propose(*, case) -> TriageProposal:
    """Run the configured engine on `case` (with the patient's clarifying answers, when given) and store its
    proposal. The proposed specialty is the most specific one the evidence supports (a subspecialty when the
    knowledge finds one); when triage is unsure and no questions were asked yet, clarifying questions are."""
    eng = engine()
    answered = case.clarifications.filter(answered_at__isnull=False).order_by("-answered_at").first()
    extra = clarify.as_text(answered.answers, answered.note) if answered else ""
    with translation.override(settings.LANGUAGE_CODE):  # reasons are for the care team, whoever's request ran it
        result = _run(eng, case, extra)
        after_answers = clarify.posterior(list(result.ranked), answered.answers) if answered else None
    ranked, reasons, abstain = list(result.ranked), list(result.reasons), result.abstain
    engine_top = result.specialty
    if answered:
        ranked, why = after_answers
        reasons += why
        top = float(ranked[0]["probability"]) if ranked else 0.0
        # confident only when the engine (reading the answers too) agrees, or the answers lift one of the
        # engine's own first three candidates over its abstention threshold: answers alone never route a case
        agrees = bool(ranked) and not result.abstain and ranked[0]["code"] == engine_top
        supported = bool(ranked) and ranked[0]["code"] in [r["code"] for r in result.ranked[:3]]
        abstain = not (agrees or (supported and top >= _threshold(getattr(result, "register", ""))))
    top_code = ranked[0]["code"] if ranked else None
    subspecialty = result.subspecialty
    if subspecialty and top_code != engine_top and subspecialty != top_code and \
            catalog_parents().get(subspecialty) != top_code:
        subspecialty = None  # the answers moved the proposal away from what the subspecialty refined
    evidence = dict(getattr(result, "specialty_evidence", None) or {}) if subspecialty else {}
    codes = [r["code"] for r in ranked] + [subspecialty] + list(result.panel_roles)
    known = set(Specialty.objects.filter(pk__in=[c for c in codes if c]).values_list("pk", flat=True))
    chosen = subspecialty if subspecialty in known else top_code if top_code in known else None
    with transaction.atomic():
        proposal = TriageProposal.objects.create(
            case=case, engine=eng.name, model_version=eng.version, specialty_id=chosen,
            engine_specialty=(engine_top or "") if engine_top != chosen else "",
            ranked=[r for r in ranked if r["code"] in known], urgency=result.urgency,
            red_flags=result.red_flags, reasons=[str(r) for r in reasons],
            reasons_data=[why_data(r) for r in reasons], abstain=abstain, labels=result.labels,
            subspecialty_id=subspecialty if subspecialty in known else None, specialty_evidence=evidence,
            multidisciplinary=result.multidisciplinary, panel_roles=[r for r in result.panel_roles if r in known],
            checklist=result.checklist, inconsistencies=result.inconsistencies, summary=result.summary,
            clarification=answered,
        )
        emit(actor="triage", action="triage.propose", obj=proposal, patient_id=case.patient_id,
             detail={"engine": eng.name, "version": eng.version, "specialty": proposal.specialty_id,
                     "red_flags": [f.get("code") for f in proposal.red_flags],
                     **({"clarification": str(answered.pk)} if answered else {})})
        if proposal.red_flags:
            _raise_the_alarm(case, proposal)
        if answered is None and clarify.unsure(proposal.ranked, proposal.abstain):
            ask_questions(case=case, proposal=proposal)
    return proposal


def _run(eng, case, extra: str):
    """The engine's proposal, reading `extra` (the clarifying answers) beside the case when there is any."""
    if "extra_text" in inspect.signature(eng.propose).parameters:
        return eng.propose(case, extra_text=extra)
    if not extra:
        return eng.propose(case)
    if hasattr(eng, "propose_for"):  # the model engine: its own inputs with the answers added to the text
        from .ml import case_inputs

        data = case_inputs(case)
        data["text"] = "\n".join(part for part in (data.get("text", ""), extra) if part)
        return eng.propose_for(**data, case_urgency=case.urgency)
    return eng.propose(case)


def _threshold(register: str = "") -> float:
    """The engine's abstention threshold (for the text's register when the model has one per register)."""
    try:
        from .model import load

        model = load()
        if register and hasattr(model, "threshold_for"):
            return float(model.threshold_for(register))
        return float(model.threshold)
    except Exception:  # an engine without the model: a plain majority
        return 0.5


def ask_questions(*, case, proposal: TriageProposal | None) -> Clarification | None:
    """Store the one to three most informative questions for `case` and tell the patient's side; None when no
    question would change anything or questions were already asked. Call inside the caller's transaction."""
    if case.clarifications.exists():
        return None
    questions = clarify.choose(proposal.ranked if proposal else [])
    if not questions:
        return None
    from konsil.cases import relations as rel
    from konsil.cases.notify import notify

    clarification = Clarification.objects.create(case=case, proposal=proposal, questions=questions,
                                                 language=case_language(case))
    emit(actor="triage", action="triage.questions", obj=clarification, patient_id=case.patient_id,
         detail={"questions": [q["code"] for q in questions]})
    notify(case, "triage_questions", rel.PATIENT_SIDE)
    return clarification


def open_clarification(case) -> Clarification | None:
    """The clarification still waiting for answers, if any."""
    return case.clarifications.filter(answered_at__isnull=True).order_by("-created_at").first()


def answer_questions(*, actor, case, answers, note="") -> TriageProposal:
    """Keep the patient's answers, then triage again. Raises ValidationFailed with the fields at fault (nothing is
    saved) and Conflict when no question is waiting or the case has left triage."""
    from django.utils.translation import gettext as _

    from konsil.cases import relations as rel

    clarification = open_clarification(case)
    if clarification is None or case.status != "submitted":
        emit(actor=actor, action="triage.answers", obj=case, patient_id=case.patient_id, outcome="denied",
             role=rel.primary_relation(rel.relations(actor, case)), detail={"reason": "no_open_questions"})
        raise Conflict(_("There are no questions waiting for answers on this case."), code="no_open_questions")
    clean, note, errors = clarify.validate(clarification.questions, answers, note)
    if errors:
        emit(actor=actor, action="triage.answers", obj=clarification, patient_id=case.patient_id, outcome="failure",
             role=rel.primary_relation(rel.relations(actor, case)), detail={"fields": sorted(errors)})
        raise ValidationFailed(_("Check the answers."), errors=errors)
    with transaction.atomic():
        clarification.answers, clarification.note = clean, note
        clarification.answered_at, clarification.answered_by = timezone.now(), actor
        clarification.save(update_fields=["answers", "note", "answered_at", "answered_by", "updated_at"])
        emit(actor=actor, action="triage.answers", obj=clarification, patient_id=case.patient_id,
             role=rel.primary_relation(rel.relations(actor, case)),
             detail={"answers": sorted(clean), "note": bool(note)})
        proposal = propose(case=case)
        if not proposal.abstain and proposal.specialty_id:
            _route_when_confident(case)
        return proposal


def _route_when_confident(case) -> None:
    """Where the network routes automatically, a proposal made confident by the answers is routed like a fresh one."""
    try:
        from konsil.matching import routing, tasks
    except ImportError:  # matching without auto-routing
        return
    if routing.auto_route_on(case.network):
        case_id = str(case.pk)
        transaction.on_commit(lambda: tasks.route_case.enqueue(case_id))


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


_LATEST_PROPOSAL = Prepared(TriageProposal, lambda case: TriageProposal.objects.filter(case=case).order_by(
    "-created_at")[:1], case=ID)


def latest_proposal(case) -> TriageProposal | None:
    """The case's latest triage proposal (read once per read request: the case page, its tags and the ranking
    all ask)."""
    return context.remembered(("latest_proposal", case.pk),
                              lambda: _LATEST_PROPOSAL.first(case=case.pk, known={"case": case}))


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
