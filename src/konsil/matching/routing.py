"""Never a dead end: auto-routing of submitted cases, and the ways out when nobody is eligible.

Auto-routing (a per-network switch, RoutingSetting): once triage has stored its proposal, a confident proposal
(not abstaining, a specialty named) confirms the triage and offers the case to the top-ranked eligible specialist,
both as the `routing` system actor through the lifecycle table; the specialist still decides to accept. Abstaining
cases and cases nobody can take go to the coordinators with the reasons (a notification, the queue, a
RoutingOutcome row). Red-flag cases are routed first (their routing task has a higher priority).

When nobody is eligible, `explain` says which constraint failed for the nearest candidates and lists the ways out:
a related specialty (re-triage), the consult-with-local-physician licensure path, an interpreter, another network
of the coordinator's, a panel, escalation to the coordinators. Each is an action of the page and of the API.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.roles import OrganizationKind, Role
from konsil.audit.services import emit
from konsil.core.errors import DomainError, PermissionDenied, ValidationFailed
from konsil.core.prepared import ID, Prepared

from . import inputs, licensure, scoring
from .models import RoutingOutcome, RoutingSetting, Specialist

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "routing"
RED_FLAG_PRIORITY = 50  # django-tasks priorities run from -100 to 100; higher runs first
NEAREST = 5
WAYS = ("interpreter", "consult_path", "escalate", "other_network")  # the ways out that are a write here


# --- the per-network setting ------------------------------------------------------------------------------------

def auto_route_on(network) -> bool:
    return RoutingSetting.objects.filter(network=network, auto_route=True).exists()


def can_configure(user, network) -> bool:
    return user.organizations_for(Role.ORG_ADMIN).filter(pk=network.pk).exists()


def set_auto_route(*, actor, network, on) -> RoutingSetting:
    """Turn auto-routing on or off for `network` (its org admins only); audited."""
    if not isinstance(on, bool):
        raise ValidationFailed(_("Answer yes or no."), field="auto_route")
    if network.kind != OrganizationKind.PROVIDER_NETWORK:
        raise ValidationFailed(_("Choose a provider network."), field="network")
    if not can_configure(actor, network):
        raise PermissionDenied(_("Only the network's administrators change how cases are routed."))
    with transaction.atomic():
        row, _created = RoutingSetting.objects.update_or_create(network=network,
                                                                defaults={"auto_route": on, "updated_by": actor})
        emit(actor=actor, action="matching.routing_set", obj=row, detail={"auto_route": on})
    return row


# --- auto-routing -----------------------------------------------------------------------------------------------

def after_submit(case) -> bool:
    """In `submit`: when the network routes automatically, one task triages then routes the case once the
    submission commits (instead of triage alone). Returns whether it did."""
    if not auto_route_on(case.network):
        return False
    from . import tasks

    case_id = str(case.pk)
    transaction.on_commit(lambda: tasks.triage_and_route.enqueue(case_id))
    return True


def triage_and_route(*, case_id) -> None:
    """The proposal (unless triage already stored one), then the routing task: red flags first."""
    from konsil.cases.models import Case
    from konsil.triage import services as triage

    from . import tasks

    case = Case.objects.filter(pk=case_id, status="submitted").select_related("patient", "network").first()
    if case is None:
        return
    proposal = triage.latest_proposal(case) or triage.propose(case=case)
    task = tasks.route_case.using(priority=RED_FLAG_PRIORITY) if proposal.red_flags else tasks.route_case
    task.enqueue(str(case.pk))


URGENCY_RANK = {"routine": 0, "urgent": 1, "stat": 2}


def route(*, case_id) -> RoutingOutcome | None:
    """Route a submitted, triaged-by-the-engine case (idempotent: a case no longer submitted is left alone)."""
    from konsil.cases import offers
    from konsil.cases.models import Case
    from konsil.cases.services import transition
    from konsil.triage.reasons import stored as stored_reasons
    from konsil.triage.services import latest_proposal

    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",)).select_related("patient", "network")
                .filter(pk=case_id).first())
        if case is None or case.status != "submitted" or not auto_route_on(case.network):
            return None
        proposal = latest_proposal(case)
        if proposal is None:
            return None  # triage has not run yet: its task routes the case afterwards
        red = bool(proposal.red_flags)
        if proposal.abstain or not proposal.specialty_id:
            reasons = [_("Triage is not confident about this case: a coordinator decides the specialty.")
                       if proposal.abstain else _("Triage proposed no specialty.")]
            reasons += stored_reasons(proposal)[:3]  # stored form: worded again in each reader's language
            return _to_coordinators(case, reasons, red=red, escalate=False)
        urgency = max(case.urgency, proposal.urgency or "routine", key=lambda u: URGENCY_RANK.get(u, 0))
        try:
            case = transition(actor=SYSTEM_ACTOR, case=case, action="triage", specialty=proposal.specialty_id,
                              urgency=urgency)
        except DomainError as exc:  # refused (and audited): the coordinators decide, with the reason
            return _to_coordinators(case, [str(exc.message)], red=red, escalate=False)
        _position, best = offers.proposal(case)
        if best is None:
            return _to_coordinators(case, summary(case), red=red, escalate=True)
        try:
            case = transition(actor=SYSTEM_ACTOR, case=case, action="offer", specialist=str(best.specialist.pk),
                              reason=_("Routed automatically: ranked first by matching"))
        except DomainError as exc:
            return _to_coordinators(case, [str(exc.message), *summary(case)[1:]], red=red, escalate=True)
        return _outcome(case, RoutingOutcome.Outcome.OFFERED, [str(r) for r in best.reasons][:6], red=red,
                        specialist=best.specialist)


def _outcome(case, outcome, reasons, *, red: bool, specialist=None) -> RoutingOutcome:
    seconds = (timezone.now() - case.submitted_at).total_seconds() if case.submitted_at else None
    row = RoutingOutcome.objects.create(case=case, outcome=outcome, reasons=reasons, red_flag=red,
                                        specialist=specialist, seconds=seconds)
    emit(actor=SYSTEM_ACTOR, action="matching.auto_route", obj=case, patient_id=case.patient_id,
         detail={"outcome": outcome, "red_flag": red, "specialist": str(specialist.pk) if specialist else None,
                 "seconds": round(seconds, 3) if seconds is not None else None})
    return row


def _to_coordinators(case, reasons: list, *, red: bool, escalate: bool) -> RoutingOutcome:
    """Hand the case to the coordinators with the reasons: notified, in the queue, audited."""
    from konsil.cases import relations as rel
    from konsil.cases.notify import notify

    row = _outcome(case, RoutingOutcome.Outcome.COORDINATORS,
                   [r if isinstance(r, dict) else str(r) for r in reasons], red=red)
    if escalate:
        case.escalated_at = timezone.now()
        case.save(update_fields=["escalated_at", "updated_at"])
    notify(case, "routing_needed", {rel.COORDINATOR})
    return row


# The care team's case page shows it on every load: compiled once (core.prepared).
_LATEST = Prepared(RoutingOutcome, lambda case: RoutingOutcome.objects.filter(case=case).order_by("-created_at",
                                                                                                  "pk")[:1], case=ID)


def latest_outcome(case) -> dict | None:
    """What auto-routing last did with `case`, for the care team: {"outcome", "reasons", "red_flag", "at"}."""
    row = _LATEST.first(case=case.pk)
    if row is None:
        return None
    return {"outcome": row.outcome, "label": str(row.get_outcome_display()), "reasons": row.lines,
            "red_flag": row.red_flag, "specialist": str(row.specialist_id) if row.specialist_id else None,
            "at": row.created_at.isoformat()}


def latest_outcomes(cases) -> dict:
    """{case id: its latest RoutingOutcome} for the queue."""
    found = {}
    for row in RoutingOutcome.objects.filter(case__in=cases).order_by("-created_at"):
        found.setdefault(row.case_id, row)
    return found


# --- why nobody is eligible -------------------------------------------------------------------------------------

def hard_failures(record: dict, spec: dict, table) -> list[dict]:
    """Each hard constraint `spec` fails for `record`: {"constraint", "detail"} (the codes the API documents)."""
    out = []
    names = scoring.specialty_catalog().names
    label = {"specialty": names.get(record["specialty"], record["specialty"])}
    mine = set(spec["specialties"]) | set(spec["subspecialties"])
    if not mine & scoring.may_take(record["specialty"], fallback=True):
        out.append({"constraint": "specialty", "detail": _("does not practise %(specialty)s") % label})
    if not spec["accepting"]:
        out.append({"constraint": "availability", "detail": _("is not accepting cases")})
    decision = scoring.decide_licensure(record, spec, table)
    if not decision.eligible:
        out.append({"constraint": "licence", "detail": decision.rule, "code": decision.code})
    if record["language"] not in spec["languages"] and not record["interpreter"]:
        out.append({"constraint": "language", "detail": _("does not speak the patient's language (%(language)s) "
                                                          "and no interpreter is requested")
                    % {"language": record["language"]}})
    if scoring.free_slots(spec) <= 0:
        out.append({"constraint": "capacity", "detail": _("has no free case slots")})
    for problem in scoring.conflicts(record, spec):
        out.append({"constraint": "conflict", "detail": problem})
    if spec["id"] in record["declined_by"]:
        out.append({"constraint": "declined", "detail": _("already declined this case")})
    mode = record["delivery"]
    if mode and mode not in spec["delivery_modes"]:
        out.append({"constraint": "delivery", "detail": _("does not offer %(mode)s opinions") % {"mode": mode}})
    return out


def _network_rows(network):
    from .selectors import _with_load

    return list(_with_load(Specialist.objects.filter(network=network)).order_by("npi")[:1000])


def nearest(case, *, limit: int = NEAREST, record: dict | None = None) -> list[dict]:
    """The network's specialists closest to taking `case` (fewest failed constraints), each with what failed."""
    if not case.specialty_id:
        return []
    table = licensure.load_table()
    record = record or inputs.case_record(case)
    today = timezone.localdate()
    rows = []
    for s in _network_rows(case.network):
        failures = hard_failures(record, inputs.specialist_record(s, today=today), table)
        if failures:
            rows.append((len(failures), str(s), s, failures))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [{"specialist": str(s.pk), "name": name, "failed": failures} for _n, name, s, failures in rows[:limit]]


def _eligible_count(record: dict, rows, table) -> int:
    today = timezone.localdate()
    return sum(1 for s in rows if scoring.check(record, inputs.specialist_record(s, today=today), table=table)[0])


def _related(code: str) -> list[str]:
    """Specialties next to `code` in the catalog: its parent, subspecialties and siblings, and those of the same
    NUCC taxonomy group (the first six characters: 207RH0 holds Hematology and Hematology and Oncology)."""
    from . import catalog

    cat = scoring.specialty_catalog()
    parent = cat.parent(code)
    near = [parent] if parent else []
    near += sorted(c for c, p in cat.parents.items() if p == code)
    if parent:
        near += sorted(c for c, p in cat.parents.items() if p == parent and c != code)
    nucc = {r["code"]: (r.get("nucc_code") or "")[:6] for r in catalog.rows()}
    group = nucc.get(code, "")
    if group:
        near += sorted(c for c, g in nucc.items() if g == group and c != code)
    return [c for c in dict.fromkeys(near) if c and c != code]


def explain(case, user=None) -> dict:
    """For a triaged case nobody can be offered: who came nearest and why not, and the ways out."""
    from konsil.cases.choices import Status

    from . import ranking

    ranked = ranking.rank(case) if case.specialty_id else []
    open_to_offer = case.status == Status.TRIAGED
    result = {"eligible": len(ranked), "fallback_from": ranked[0].fallback_from if ranked else None,
              "nearest": [], "ways_out": [], "routing": latest_outcome(case)}
    if ranked or not case.specialty_id:
        return result
    record = inputs.case_record(case)
    result["nearest"] = nearest(case, record=record)
    result["ways_out"] = ways_out(case, record, result["nearest"], user=user, open_to_offer=open_to_offer)
    return result


def ways_out(case, record: dict, near: list[dict], *, user=None, open_to_offer: bool = True) -> list[dict]:
    names = scoring.specialty_catalog().names
    table = licensure.load_table()
    rows = _network_rows(case.network)
    out = []
    case_url = reverse("cases:detail", kwargs={"pk": case.pk})
    for code in _related(case.specialty_id):
        n = _eligible_count({**record, "specialty": code, "fallback_from": None}, rows, table)
        if n:
            out.append({"way": "related_specialty", "specialty": code, "eligible": n,
                        "label": _("Re-triage to %(name)s: %(n)d eligible") % {"name": names.get(code, code), "n": n},
                        "action": "retriage", "params": {"specialty": code},
                        "href": reverse("cases:transition", kwargs={"pk": case.pk, "action": "retriage"})})
    failed = [{f["constraint"] for f in c["failed"]} for c in near]
    codes = {f.get("code") for c in near for f in c["failed"] if f["constraint"] == "licence"}
    if licensure.NEEDS_LOCAL_PHYSICIAN in codes and case.channel not in licensure.CONSULT_CHANNELS:
        n = _eligible_count({**record, "channel": "clinician"}, rows, table)
        out.append({"way": "consult_path", "eligible": n,
                    "label": _("Give the opinion in consultation with the patient's local physician: "
                               "%(n)d eligible") % {"n": n},
                    "action": "consult_path", "href": reverse("matching:way_out", kwargs={"pk": case.pk,
                                                                                            "way": "consult_path"})})
    if any("language" in f for f in failed) and not record["interpreter"]:
        n = _eligible_count({**record, "interpreter": True}, rows, table)
        out.append({"way": "interpreter", "eligible": n,
                    "label": _("Provide an interpreter: %(n)d eligible") % {"n": n},
                    "action": "interpreter", "href": reverse("matching:way_out", kwargs={"pk": case.pk,
                                                                                           "way": "interpreter"})})
    if user is not None:
        others = user.organizations_for(Role.COORDINATOR).filter(kind=OrganizationKind.PROVIDER_NETWORK).exclude(
            pk=case.network_id)
        for network in others:
            n = _eligible_count(record, _network_rows(network), table)
            if n:
                out.append({"way": "other_network", "network": str(network.pk), "eligible": n,
                            "label": _("%(network)s has %(n)d eligible specialists: refer the case there")
                            % {"network": network.name, "n": n},
                            "action": "other_network", "params": {"network": str(network.pk)},
                            "href": reverse("matching:way_out", kwargs={"pk": case.pk, "way": "other_network"})})
    out.append({"way": "panel", "label": _("Convene a multidisciplinary panel"), "action": None,
                "href": reverse("opinions:panel", kwargs={"pk": case.pk})})
    if case.escalated_at is None:
        out.append({"way": "escalate", "label": _("Escalate to the network's coordinators"), "action": "escalate",
                    "href": reverse("matching:way_out", kwargs={"pk": case.pk, "way": "escalate"})})
    if not open_to_offer:
        out = [w for w in out if w["way"] != "consult_path"]
    for w in out:
        w["label"] = str(w["label"])
        w.setdefault("case", case_url)
    return out


def summary(case) -> list[str]:
    """The reasons in words, for the coordinators' notification and queue."""
    out = [_("No eligible specialist for this case.")]
    for c in nearest(case, limit=3):
        failed = "; ".join(str(f["detail"]) for f in c["failed"])
        out.append(f"{c['name']}: {failed}")
    return out


# --- the ways out that are a write here -------------------------------------------------------------------------

def take_way_out(*, actor, case, way, reason: str = "", network=None):
    """An interpreter for the case, the consult-with-local-physician path, escalation to the coordinators, or a
    referral to another provider network the coordinator also works for (then routed there when it auto-routes)."""
    from konsil.cases import offers
    from konsil.cases import relations as rel
    from konsil.cases.choices import Status
    from konsil.cases.models import Case

    if way not in WAYS:
        raise ValidationFailed(_("Choose one of: %(ways)s.") % {"ways": ", ".join(WAYS)}, field="way")
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("patient", "network").get(pk=case.pk)
        if rel.COORDINATOR not in rel.relations(actor, case):
            raise PermissionDenied(_("Only the case's coordinators do this."))
        if case.status != Status.TRIAGED:
            raise ValidationFailed(_("Only a triaged case waiting for an offer can take this way."), field="way")
        if way == "interpreter":
            if case.interpreter_needed:
                raise ValidationFailed(_("An interpreter is already requested."), field="way")
            case.interpreter_needed = True
            case.save(update_fields=["interpreter_needed", "updated_at"])
        elif way == "consult_path":
            if case.channel in licensure.CONSULT_CHANNELS:
                raise ValidationFailed(_("The case already goes through a local physician."), field="way")
            if not (case.treating_physician or "").strip():
                raise ValidationFailed(_("Name the patient's local physician first."), field="treating_physician")
            case.channel = "clinician"
            case.save(update_fields=["channel", "updated_at"])
        elif way == "other_network":
            detail = _transfer(actor=actor, case=case, network=network)
        else:
            offers.escalate(case=case, reason="nobody_eligible")
        emit(actor=actor, action=f"matching.way_out.{way}", obj=case, patient_id=case.patient_id,
             role=rel.COORDINATOR, detail={"reason": str(reason or "")[:500],
                                           **(detail if way == "other_network" else {})})
    return case


def _transfer(*, actor, case, network) -> dict:
    """Refer a triaged case to another provider network of the coordinator's that has an eligible specialist.

    The care team of the first network keeps no access beyond what its roles give; the patient side and the new
    network's coordinators are told; auto-routing of the new network then offers the case."""
    from konsil.accounts.models import Organization
    from konsil.cases import relations as rel
    from konsil.cases.notify import notify

    target = None
    if network:
        target = (actor.organizations_for(Role.COORDINATOR).filter(kind=OrganizationKind.PROVIDER_NETWORK)
                  .exclude(pk=case.network_id).filter(pk=_uuid_or_none(network)).first())
    if target is None:
        raise ValidationFailed(_("Choose another provider network you coordinate for."), field="network")
    record = inputs.case_record(case)
    if not _eligible_count(record, _network_rows(target), licensure.load_table()):
        raise ValidationFailed(_("%(network)s has no eligible specialist for this case either.")
                               % {"network": target.name}, field="network")
    source = case.network_id
    case.network = Organization.objects.get(pk=target.pk)
    case.escalated_at = None
    case.save(update_fields=["network", "escalated_at", "updated_at"])
    notify(case, "network_transfer", {rel.COORDINATOR, *rel.PATIENT_SIDE}, actor=actor)
    transaction.on_commit(lambda: _enqueue_route_triaged(case.pk))
    return {"from_network": str(source), "to_network": str(target.pk)}


def _uuid_or_none(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


# --- routing again once a coordinator changed the specialty or the network ---------------------------------------

def after_retriage(case) -> None:
    """In `retriage`: when the network routes automatically, offer the case afresh once the change commits."""
    if auto_route_on(case.network):
        transaction.on_commit(lambda: _enqueue_route_triaged(case.pk))


def _enqueue_route_triaged(case_id) -> None:
    from . import tasks

    tasks.route_triaged_case.enqueue(str(case_id))


def route_triaged(*, case_id) -> RoutingOutcome | None:
    """Offer a triaged case with no pending offer to its top-ranked eligible specialist (the network auto-routes);
    nobody eligible goes back to the coordinators with the reasons. Idempotent: any other state is left alone."""
    from konsil.cases import offers
    from konsil.cases.choices import OfferStatus, Status
    from konsil.cases.models import Case
    from konsil.cases.services import transition

    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",)).select_related("patient", "network")
                .filter(pk=case_id).first())
        if (case is None or case.status != Status.TRIAGED or not auto_route_on(case.network)
                or case.offers.filter(status=OfferStatus.PENDING).exists()):
            return None
        red = case.urgency in ("urgent", "stat")
        _position, best = offers.proposal(case)
        if best is None:
            return _to_coordinators(case, summary(case), red=red, escalate=True)
        try:
            case = transition(actor=SYSTEM_ACTOR, case=case, action="offer", specialist=str(best.specialist.pk),
                              reason=_("Routed automatically: ranked first by matching"))
        except DomainError as exc:
            return _to_coordinators(case, [str(exc.message), *summary(case)[1:]], red=red, escalate=True)
        return _outcome(case, RoutingOutcome.Outcome.OFFERED, [str(r) for r in best.reasons][:6], red=red,
                        specialist=best.specialist)
