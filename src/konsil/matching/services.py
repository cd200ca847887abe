"""Every write of the matching app: keyword-only, one transaction each, audited in the same transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.models import Organization, User
from konsil.accounts.roles import OrganizationKind, Role
from konsil.audit.services import emit, emit_many
from konsil.core.errors import Conflict, ValidationFailed

from . import inputs, licensure, optimize, ranking, scoring
from .models import AssignmentRun, BatchProposal, ExpiryWarning, License, NetworkWeights, Specialist

EXPIRING_KIND = "license_expiring"


# --- weights ----------------------------------------------------------------------------------------------------

def clean_weights(data) -> dict:
    """Validated scoring.Weights fields (ValidationFailed names the bad one)."""
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give the weights as an object."), field="weights")
    names = {f.name for f in fields(scoring.Weights)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValidationFailed(_("Unknown weight: %(name)s.") % {"name": unknown[0]}, field=unknown[0])
    try:
        scoring.Weights(**data)
    except ValueError as exc:
        name = next((n for n in data if n in str(exc)), "weights")
        raise ValidationFailed(_("Weights are numbers of 0 or more (the fee ceiling above 0)."), field=name) from None
    return dict(data)


def set_network_weights(*, actor, network: Organization, weights: dict) -> NetworkWeights:
    clean = clean_weights(weights)
    with transaction.atomic():
        row, _created = NetworkWeights.objects.update_or_create(
            network=network, defaults={"weights": clean, "updated_by": actor if actor else None})
        emit(actor=actor, action="matching.weights_set", obj=row, detail={"weights": clean})
    return row


def record_rule_change(*, actor, rule, created: bool) -> None:
    """Audit an admin's edit of a licensure rule (the admin saves it in the same transaction)."""
    emit(actor=actor, action="matching.licensure_rule_" + ("created" if created else "changed"), obj=rule,
         detail={"code": rule.code, "kind": rule.kind, "direct_to_patient": rule.direct_to_patient,
                 "as_of": rule.as_of.isoformat() if rule.as_of else None})


# --- expiring credentials ---------------------------------------------------------------------------------------

def _coordinators(network_id) -> list[User]:
    return list(User.objects.filter(memberships__organization_id=network_id, memberships__role=Role.COORDINATOR,
                                    memberships__active=True, is_active=True).distinct())


def _expiring(today: dt.date, horizon: dt.date):
    """(specialist, kind, item, expires_on) of licences and board certifications expiring in [today, horizon]."""
    for lic in License.objects.filter(expires_on__gte=today, expires_on__lte=horizon).select_related(
            "specialist__user"):
        yield lic.specialist, "license", f"{lic.country}-{lic.state}", lic.expires_on
    for s in Specialist.objects.exclude(board_certifications=[]).select_related("user"):
        for cert in s.board_certifications or []:
            try:
                expires = dt.date.fromisoformat(str(cert.get("expires_on") or ""))
            except (ValueError, AttributeError):
                continue
            if today <= expires <= horizon:
                yield s, "board", f"{cert.get('board')}|{cert.get('specialty')}"[:200], expires


def warn_expiring(*, today: dt.date | None = None, days: int = 30) -> int:
    """Notify each specialist and their network's coordinators of a licence or board certification expiring
    within `days`, once per credential and expiry date. Returns the number of credentials warned about."""
    from konsil.cases.models import Notification

    today = today or timezone.localdate()
    warned = 0
    with transaction.atomic():
        for specialist, kind, item, expires in _expiring(today, today + dt.timedelta(days=days)):
            _row, created = ExpiryWarning.objects.get_or_create(specialist=specialist, kind=kind, item=item,
                                                                expires_on=expires)
            if not created:
                continue
            users = {u.pk: u for u in [specialist.user, *_coordinators(specialist.network_id)] if u.is_active}
            Notification.objects.bulk_create([Notification(user=u, kind=EXPIRING_KIND) for u in users.values()])
            warned += 1
        if warned:
            emit(actor="system", action="matching.expiry_warnings", object_type="matching.expirywarning",
                 detail={"credentials": warned, "days": days})
    return warned


# --- batch assignment -------------------------------------------------------------------------------------------

STALE_RUN = dt.timedelta(minutes=30)


def request_batch(*, actor, network: Organization) -> AssignmentRun:
    """Queue a batch assignment for `network` (the worker runs it after this transaction commits)."""
    from . import tasks

    if network.kind != OrganizationKind.PROVIDER_NETWORK:
        raise ValidationFailed(_("Choose a provider network."), field="network")
    with transaction.atomic():
        # the network's row serializes requests: two clicks at once queue one run, not two
        Organization.objects.select_for_update().filter(pk=network.pk).first()
        # a run the worker lost (queued for longer than STALE_RUN) no longer blocks new requests
        AssignmentRun.objects.filter(network=network, state=AssignmentRun.State.QUEUED,
                                     created_at__lt=timezone.now() - STALE_RUN).update(
            state=AssignmentRun.State.FAILED)
        if AssignmentRun.objects.filter(network=network, state=AssignmentRun.State.QUEUED).exists():
            raise Conflict(_("A batch assignment is already queued for this network."), code="run_queued")
        run = AssignmentRun.objects.create(network=network, trigger="manual", requested_by=actor)
        emit(actor=actor, action="matching.batch_requested", obj=run)
        transaction.on_commit(lambda: tasks.run_batch_assignment.enqueue(str(run.pk)))
    return run


def pending_cases(network):
    """The network's triaged cases with no pending offer: what a batch assigns."""
    from konsil.cases.models import Case

    return (Case.objects.filter(network=network, status="triaged", specialty__isnull=False)
            .exclude(offers__status="pending").select_related("patient", "network").order_by("created_at"))


def execute_run(*, run: AssignmentRun) -> AssignmentRun:
    """Assign the network's pending cases exactly (most cases, then the highest total score); store proposals."""
    from . import selectors

    with transaction.atomic():
        # one run at a time per network (the network's row is the lock): a second run waits, then sees the
        # first one's offers and supersedes its proposals instead of proposing the same cases alongside them
        Organization.objects.select_for_update().filter(pk=run.network_id).first()
        run = AssignmentRun.objects.select_for_update().get(pk=run.pk)
        if run.state != AssignmentRun.State.QUEUED:
            return run  # idempotent: a retried task finds the run done
        cases = list(pending_cases(run.network))
        table = licensure.load_table()
        weights = inputs.weights_for(run.network)
        records = [inputs.case_record(c) for c in cases]
        rows = {str(s.pk): s for s in selectors.network_specialists(run.network)}
        index = optimize.SpecialistIndex([inputs.specialist_record(s) for s in rows.values()], weights, table)
        records = optimize.with_fallback(records, index)
        result = optimize.assign(records, index)
        BatchProposal.objects.filter(case__in=cases, state=BatchProposal.State.PROPOSED).update(
            state=BatchProposal.State.SUPERSEDED)
        proposals = []
        for case, rec, sid, score, n in zip(cases, records, result.specialist_ids, result.scores, result.candidates,
                                            strict=True):
            if sid is None:
                proposals.append(BatchProposal(run=run, case=case, reasons=optimize.explain_unassigned(rec, n, index)))
                continue
            ev = ranking.explain(rec, index.specialists[index.position[sid]], weights, table)
            proposals.append(BatchProposal(run=run, case=case, specialist=rows[sid], score=round(score, 6),
                                           reasons=[str(r) for r in ev.reasons], factors=ev.factors))
        BatchProposal.objects.bulk_create(proposals)
        run.state, run.finished_at = AssignmentRun.State.DONE, timezone.now()
        run.cases, run.assigned = len(cases), result.assigned
        run.objective, run.seconds = round(result.objective, 6), round(result.seconds, 4)
        run.save()
        emit(actor=run.requested_by or "system", action="matching.batch_assigned", obj=run,
             detail={"cases": run.cases, "assigned": run.assigned})
        emit_many(actor=run.requested_by or "system", purpose="operations", events=[
            {"action": "matching.batch_proposal", "object_type": "cases.case", "object_id": str(c.pk),
             "patient_id": c.patient_id, "detail": {"run": str(run.pk)}} for c in cases])
    return run


def run_scheduled() -> list[AssignmentRun]:
    """A run for every active provider network with pending cases (the schedule's entry point)."""
    runs = []
    for network in Organization.objects.filter(kind=OrganizationKind.PROVIDER_NETWORK, active=True):
        if not pending_cases(network).exists():
            continue
        with transaction.atomic():
            run = AssignmentRun.objects.create(network=network, trigger="schedule")
        runs.append(execute_run(run=run))
    return runs


def offer_proposal(*, actor, proposal: BatchProposal):
    """Turn a proposal into an offer through the case lifecycle (its guard re-checks eligibility)."""
    from konsil.cases.services import transition

    proposal = BatchProposal.objects.select_related("case").get(pk=proposal.pk)
    if proposal.state != BatchProposal.State.PROPOSED or proposal.specialist_id is None:
        raise Conflict(_("This proposal can no longer be offered."), code="proposal_closed")
    case = transition(actor=actor, case=proposal.case, action="offer", specialist=str(proposal.specialist_id),
                      reason=_("Batch assignment proposal (score %(score).2f)") % {"score": proposal.score or 0})
    with transaction.atomic():
        BatchProposal.objects.filter(pk=proposal.pk).update(state=BatchProposal.State.OFFERED, offered_by=actor,
                                                            updated_at=timezone.now())
    return case
