"""Multidisciplinary panels (tumour boards): templates as data, assembly, members' inputs, agreement and dissent.

A template (data/panel_templates.csv, each row cited) lists roles as specialty codes of the catalog; a role may
name alternatives ("spine_surgery|orthopedic_surgery|neurosurgery"). Assembly fills every role with an eligible
member (matching's hard constraints for that specialty, and nobody twice) ranked by matching's soft score, picks a
chair, finds a common meeting slot and offers the case to the chair, who writes the consensus opinion through the
ordinary opinion flow. Members write inputs; once the consensus is signed each member agrees or dissents.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import F, Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.choices import OfferStatus, Status
from konsil.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from . import meeting
from .models import Agreement, Panel, PanelMember
from .services import latest_signed

TEMPLATES_FILE = Path(__file__).with_name("data") / "panel_templates.csv"
ASSEMBLE_FROM = frozenset({Status.TRIAGED, Status.OFFERED, Status.ACCEPTED, Status.IN_REVIEW, Status.INFO_REQUESTED})
OPEN_CASES = ("triaged", "offered", "accepted", "in_review", "info_requested", "opinion_drafted", "signed")
MAX_TEXT = 10000
INFEASIBLE = 1e6


@dataclass(frozen=True)
class Template:
    code: str
    label: str
    icd10: tuple
    roles: tuple[tuple[str, ...], ...]  # each role: its specialty code, then accepted alternatives
    source: str


class TemplateError(ValueError):
    """A panel template file that cannot be used as shipped."""


def _parse_row(line: int, row: dict, known: set[str]) -> Template:
    from konsil.triage.knowledge import icd_rules, split

    roles = []
    for cell in split(row["roles"]):
        codes = tuple(c.strip() for c in cell.split("|") if c.strip())
        unknown = [c for c in codes if c not in known]
        if not codes or unknown:
            raise TemplateError(f"{TEMPLATES_FILE.name} line {line}: unknown specialty {unknown or cell!r}")
        roles.append(codes)
    if len(roles) < 2 or len({r[0] for r in roles}) != len(roles):
        raise TemplateError(f"{TEMPLATES_FILE.name} line {line}: a panel needs two or more distinct roles")
    if not row["source"] or not row["label"]:
        raise TemplateError(f"{TEMPLATES_FILE.name} line {line}: label and source are required")
    return Template(row["template"], row["label"], icd_rules(TEMPLATES_FILE.name, line, row["icd10"]), tuple(roles),
                    row["source"])


@lru_cache(maxsize=1)
def templates() -> tuple[Template, ...]:
    """The panel templates, validated (roles must be catalog codes)."""
    from konsil.matching import catalog

    known = {row["code"] for row in catalog.rows()}
    out, seen = [], set()
    with TEMPLATES_FILE.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            row = {k: (v or "").strip() for k, v in row.items()}
            if row["template"] in seen:
                raise TemplateError(f"{TEMPLATES_FILE.name} line {reader.line_num}: template repeated")
            seen.add(row["template"])
            out.append(_parse_row(reader.line_num, row, known))
    return tuple(out)


def template_named(code: str) -> Template | None:
    return next((t for t in templates() if t.code == code), None)


def template_for(case, code: str | None = None) -> Template:
    """The given template; else the first whose ICD-10-CM codes match the case; else the triage proposal's roles."""
    from konsil.triage.knowledge import clean_codes, icd_hits
    from konsil.triage.services import latest_proposal

    if code:
        found = template_named(str(code))
        if found is None:
            raise ValidationFailed(_("Unknown panel template."), field="template")
        return found
    codes = clean_codes(case.diagnoses.values_list("code", flat=True))
    for template in templates():
        if template.icd10 and icd_hits(template.icd10, codes):
            return template
    proposal = latest_proposal(case)
    if proposal and proposal.multidisciplinary and len(proposal.panel_roles or []) >= 2:
        return Template("triage", _("Panel proposed by triage"), (), tuple((r,) for r in proposal.panel_roles),
                        _("Triage proposal %(engine)s %(version)s") % {"engine": proposal.engine,
                                                                        "version": proposal.model_version})
    raise ValidationFailed(_("No panel template applies to this case: choose one."), field="template")


# --- eligibility and ranking ----------------------------------------------------------------------------------

def panel_load(specialist_ids, case) -> dict:
    """Seats on other open panels (not as chair: a chair's case already counts as assigned)."""
    seats = (PanelMember.objects.filter(panel__status=Panel.Status.CONVENED, specialist_id__in=specialist_ids,
                                        panel__case__status__in=OPEN_CASES)
             .exclude(panel__case=case).exclude(panel__chair_id=F("specialist_id")))
    load: dict = {}
    for specialist_id in seats.values_list("specialist_id", flat=True):
        load[specialist_id] = load.get(specialist_id, 0) + 1
    return load


def rank_role(case, codes: tuple[str, ...], *, record: dict, weights, table, load: dict | None = None) -> list:
    """Eligible specialists for a role (any of `codes`), best first: [(specialist, score, code, reasons)]."""
    from konsil.matching import inputs, ranking, selectors

    found: dict = {}
    today = timezone.localdate()
    for position, code in enumerate(codes):
        rows = list(selectors.directory(network=case.network, specialty=code).filter(accepting=True))
        extra = load if load is not None else panel_load([s.pk for s in rows], case)
        subspecialty = record["subspecialty"] if code == case.specialty_id else None
        for s in rows:
            if s.pk in found:
                continue
            spec = inputs.specialist_record(s, today=today)
            spec["active"] += extra.get(s.pk, 0)
            ev = ranking.explain({**record, "specialty": code, "subspecialty": subspecialty}, spec, weights, table)
            if ev.feasible:
                found[s.pk] = (s, round(ev.score - 0.001 * position, 4), code, ev.reasons)
    return sorted(found.values(), key=lambda r: (-r[1], str(r[0]), str(r[0].pk)))


def _solve(ranked: list[list]) -> list[int | None]:
    """Pick one candidate per role, nobody twice, most roles filled, then highest total score."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    people = sorted({row[0].pk for rows in ranked for row in rows}, key=str)
    if not people:
        return [None] * len(ranked)
    index = {pk: i for i, pk in enumerate(people)}
    cost = np.full((len(ranked), len(people)), INFEASIBLE)
    for r, rows in enumerate(ranked):
        for c, row in enumerate(rows):
            cost[r, index[row[0].pk]] = 2.0 - row[1] + c * 1e-6
    chosen: list[int | None] = [None] * len(ranked)
    for r, col in zip(*linear_sum_assignment(cost), strict=True):
        if cost[r, col] < INFEASIBLE:
            chosen[r] = next(i for i, row in enumerate(ranked[r]) if index[row[0].pk] == col)
    return chosen


def role_name(codes: tuple[str, ...]) -> str:
    from konsil.matching.models import Specialty

    names = dict(Specialty.objects.filter(pk__in=codes).values_list("code", "name"))
    return _(" or ").join(names.get(c, c) for c in codes)


def _incumbent(case):
    """The specialist the case already belongs to (assigned, or holding the pending offer), if any."""
    if case.assigned_specialist_id:
        return case.assigned_specialist
    offer = case.offers.filter(status=OfferStatus.PENDING).select_related("specialist").first()
    return offer.specialist if offer else None


def _seat_incumbent(incumbent, template: Template, ranked: list[list], case) -> int:
    """Put the incumbent in the role they practise (the case's specialty first); the role index."""
    from konsil.matching.scoring import specialty_catalog

    practised = specialty_catalog().expand([*(s.code for s in incumbent.specialties.all()),
                                            *(s.code for s in incumbent.subspecialties.all())])
    order = sorted(range(len(template.roles)), key=lambda i: case.specialty_id not in template.roles[i])
    for i in order:
        code = next((c for c in template.roles[i] if c in practised), None)
        if code:
            for rows in ranked:
                rows[:] = [row for row in rows if row[0].pk != incumbent.pk]
            ranked[i] = [(incumbent, 1.0, code, [_("already holds this case")])]
            return i
    if case.assigned_specialist_id:
        raise Conflict(_("%(name)s already holds this case but practises none of the panel's roles: choose a "
                         "panel with a role they practise.") % {"name": incumbent}, code="incumbent_not_in_panel")
    raise Conflict(_("%(name)s holds the pending offer but practises none of the panel's roles: use "
                     "Retract offer on the case page, then assemble the panel.")
                   % {"name": incumbent}, code="incumbent_not_in_panel")


def _chair_index(roles: list[tuple[str, ...]], picks: list, case) -> int:
    for i, (_specialist, _score, code, _reasons) in enumerate(picks):
        if code == case.specialty_id or case.specialty_id in roles[i]:
            return i
    return 0


# --- writes ---------------------------------------------------------------------------------------------------

def require_coordinator(actor, case) -> None:
    if rel.COORDINATOR not in rel.relations(actor, case):
        raise PermissionDenied(_("Only the case's coordinators assemble its panel."))


def assemble_panel(*, actor, case, template_code: str | None = None, now: dt.datetime | None = None,
                   open_seats: bool = False) -> Panel:
    """Fill every role of the case's panel, pick a chair and a meeting slot, invite the members, offer the chair.

    A role nobody eligible can fill refuses the assembly with the reason per seat (409 unfilled_roles); with
    `open_seats` the panel convenes with the others and the role stays an open seat (seats.py) to fill or waive.
    The case row is locked for the whole assembly, so that a double submit waits for the first and then finds
    its panel (409) instead of assembling a second one."""
    from konsil.cases.models import Case

    require_coordinator(actor, case)
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("patient", "network").get(pk=case.pk)
        try:
            with transaction.atomic():
                return _assemble(actor=actor, case=case, template_code=template_code, now=now,
                                 open_seats=open_seats)
        except IntegrityError:  # another request convened a panel meanwhile (one_convened_panel_per_case)
            raise Conflict(_("This case already has a panel."), code="panel_exists") from None


def _unfilled(case, template: Template, ranked: list[list], empty: list[int], *, record, table) -> dict:
    """{the role's code: [why nobody sits there]} for each empty seat."""
    from .seats import unfilled_reason

    return {template.roles[i][0]: [unfilled_reason(case, template.roles[i], record=record, table=table,
                                                   eligible=len(ranked[i]))] for i in empty}


def _assemble(*, actor, case, template_code, now, open_seats=False) -> Panel:
    from konsil.cases.services import transition
    from konsil.matching import inputs, licensure

    from .models import OpenSeat

    if case.status not in ASSEMBLE_FROM:
        raise Conflict(_("A panel can be assembled once the case is triaged and until the opinion is drafted."),
                       code="panel_not_now")
    if case.panels.filter(status=Panel.Status.CONVENED).exists():
        raise Conflict(_("This case already has a panel."), code="panel_exists")
    template = template_for(case, template_code)
    record = inputs.case_record(case)
    weights, table = inputs.weights_for(case.network), licensure.load_table()
    ranked = [rank_role(case, codes, record=record, weights=weights, table=table) for codes in template.roles]
    incumbent = _incumbent(case)
    fixed = _seat_incumbent(incumbent, template, ranked, case) if incumbent else None
    chosen = _solve(ranked)
    empty = [i for i, pick in enumerate(chosen) if pick is None]
    filled = [i for i, pick in enumerate(chosen) if pick is not None]
    if empty and (not open_seats or not filled):
        message = _("No eligible member for: %(roles)s.") % {
            "roles": "; ".join(role_name(template.roles[i]) for i in empty)}
        raise Conflict(message, code="unfilled_roles" if filled else "no_seat_fillable",
                       errors=_unfilled(case, template, ranked, empty, record=record, table=table))
    picks = [ranked[i][chosen[i]] for i in filled]
    roles = [template.roles[i] for i in filled]
    chair_at = filled.index(fixed) if fixed is not None else _chair_index(roles, picks, case)
    chair = picks[chair_at][0]
    meeting_at = meeting.common_slot(
        [(getattr(s, "availability", None), getattr(s, "time_zone", None)) for s, *_rest in picks], now=now)
    panel = Panel.objects.create(case=case, template=template.code, label=str(template.label)[:200],
                                 source=str(template.source), chair=chair, meeting_at=meeting_at,
                                 assembled_by=actor)
    PanelMember.objects.bulk_create([
        PanelMember(panel=panel, specialist=s, role_id=code, position=i, score=score, reasons=list(reasons))
        for i, (s, score, code, reasons) in zip(filled, picks, strict=True)])
    reasons = _unfilled(case, template, ranked, empty, record=record, table=table) if empty else {}
    OpenSeat.objects.bulk_create([OpenSeat(panel=panel, role_id=template.roles[i][0], codes=list(template.roles[i]),
                                           position=i, reasons=reasons[template.roles[i][0]]) for i in empty])
    emit(actor=actor, action="panel.assemble", obj=panel, patient_id=case.patient_id, role=rel.COORDINATOR,
         detail={"template": template.code, "chair": str(chair.pk), "members": [str(p[0].pk) for p in picks],
                 "roles": [p[2] for p in picks], "meeting_at": meeting_at.isoformat() if meeting_at else None,
                 "open_seats": [template.roles[i][0] for i in empty]})
    if case.status == Status.TRIAGED:
        try:
            transition(actor=actor, case=case, action="offer", specialist=str(chair.pk),
                       reason=_("Chair of the %(panel)s") % {"panel": template.label})
        except (ValidationFailed, Conflict) as exc:
            raise Conflict(_("The case cannot be offered to the chair, %(name)s: %(why)s Change the case's "
                             "specialty on the case page to one the chair practises, or choose another panel.") % {
                "name": chair, "why": exc.message}, code="chair_not_offered") from exc
    notify_members(case, "panel_invite", [s.user for s, *_rest in picks if s.user_id != actor.pk])
    return panel


def notify_members(case, kind: str, users) -> None:
    from konsil.cases.notify import notify_users

    notify_users(case, kind, users)


def _seat(actor, panel: Panel) -> PanelMember:
    seat = panel.members.filter(specialist__user=actor).select_related("specialist").first()
    if seat is None:
        raise PermissionDenied(_("Only the panel's members do this."))
    if panel.status != Panel.Status.CONVENED:
        raise Conflict(_("This panel was dissolved."), code="panel_dissolved")
    return seat


def clean_text(value, name: str, errors: dict, *, required: bool = True) -> str:
    """A stripped text field, or a field error (required, no NUL character, at most MAX_TEXT characters)."""
    value = "" if value is None else str(value).strip()
    if required and not value:
        errors[name] = [_("This field is required.")]
    elif "\x00" in value:  # PostgreSQL refuses NUL characters in text
        errors[name] = [_("Remove the NUL character from this text.")]
    elif len(value) > MAX_TEXT:
        errors[name] = [_("Keep this under %(n)d characters.") % {"n": MAX_TEXT}]
    return value


def submit_input(*, actor, panel: Panel, assessment: str, recommendation: str) -> PanelMember:
    """A member's assessment and recommendation; editable until the consensus opinion is signed."""
    seat = _seat(actor, panel)
    if latest_signed(panel.case) is not None:
        raise Conflict(_("The consensus opinion is signed: inputs are closed."), code="inputs_closed")
    errors: dict = {}
    assessment = clean_text(assessment, "assessment", errors)
    recommendation = clean_text(recommendation, "recommendation", errors)
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)
    with transaction.atomic():
        first = seat.submitted_at is None
        seat.assessment, seat.recommendation, seat.submitted_at = assessment, recommendation, timezone.now()
        seat.save(update_fields=["assessment", "recommendation", "submitted_at", "updated_at"])
        emit(actor=actor, action="panel.input", obj=seat, patient_id=panel.case.patient_id, role="panel_member",
             detail={"panel": str(panel.pk), "role": seat.role_id, "first": first})
    return seat


def record_agreement(*, actor, panel: Panel, agreement: str, reason: str = "") -> PanelMember:
    """A member agrees with the signed consensus or dissents with a reason; recorded once."""
    seat = _seat(actor, panel)
    if seat.is_chair:
        raise Conflict(_("The chair wrote the consensus opinion."), code="chair_agrees")
    if latest_signed(panel.case) is None:
        raise Conflict(_("The consensus opinion is not signed yet."), code="no_consensus")
    if seat.agreement:
        raise Conflict(_("You already recorded your position."), code="already_recorded")
    errors: dict = {}
    agreement = str(agreement or "").strip()
    if agreement not in Agreement.values:
        errors["agreement"] = [_("Choose whether you agree or dissent.")]
    reason = clean_text(reason, "dissent_reason", errors, required=agreement == Agreement.DISSENT)
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)
    with transaction.atomic():
        seat.agreement, seat.agreement_at = agreement, timezone.now()
        seat.dissent_reason = reason if agreement == Agreement.DISSENT else ""
        recorded = PanelMember.objects.filter(pk=seat.pk, agreement="").update(
            agreement=seat.agreement, dissent_reason=seat.dissent_reason, agreement_at=seat.agreement_at,
            updated_at=seat.agreement_at)
        if not recorded:  # a double submit: the first one recorded the position (recorded once)
            raise Conflict(_("You already recorded your position."), code="already_recorded")
        emit(actor=actor, action=f"panel.{agreement}", obj=seat, patient_id=panel.case.patient_id,
             role="panel_member", detail={"panel": str(panel.pk), "role": seat.role_id})
        if agreement == Agreement.DISSENT:
            from konsil.cases.notify import notify

            notify(panel.case, "panel_dissent", {rel.COORDINATOR, rel.SPECIALIST}, actor=actor)
    return seat


def dissolve_panel(*, actor, panel: Panel, reason: str) -> Panel:
    """The coordinator ends a panel (to assemble another); the record stays."""
    require_coordinator(actor, panel.case)
    if panel.status != Panel.Status.CONVENED:
        raise Conflict(_("This panel was dissolved."), code="panel_dissolved")
    errors: dict = {}
    reason = clean_text(reason, "reason", errors)
    if errors:
        raise ValidationFailed(_("Give a reason."), errors=errors)
    with transaction.atomic():
        panel.status = Panel.Status.DISSOLVED
        panel.save(update_fields=["status", "updated_at"])
        emit(actor=actor, action="panel.dissolve", obj=panel, patient_id=panel.case.patient_id,
             role=rel.COORDINATOR, detail={"reason_length": len(reason)})
        members = panel.members.select_related("specialist__user")
        notify_members(panel.case, "panel_dissolved", [m.specialist.user for m in members
                                                       if m.specialist.user_id != actor.pk])
    return panel


# --- reads ----------------------------------------------------------------------------------------------------

def active_panel(case) -> Panel | None:
    members = PanelMember.objects.select_related("specialist__user", "role").order_by("position")
    return (case.panels.filter(status=Panel.Status.CONVENED).select_related("chair__user")
            .prefetch_related(Prefetch("members", queryset=members)).first())


def panel_access(user, case_id, *, action: str = "panel.read"):
    """(case, panel or None, the user's seat or None, is coordinator) for a panel member or a coordinator of
    the case; NotFound for anyone else. The read (or refusal) is audited."""
    from django.core.exceptions import ValidationError as DjangoValidationError

    from konsil.cases.models import Case

    case = None
    if user.is_authenticated:
        try:
            case = Case.objects.select_related("patient", "specialty", "network").filter(pk=case_id).first()
        except (ValueError, DjangoValidationError):
            case = None
    panel = active_panel(case) if case else None
    seat = next((m for m in panel.members.all() if m.specialist.user_id == user.pk), None) if panel else None
    coordinator = case is not None and rel.COORDINATOR in rel.relations(user, case)
    if case is None or not (coordinator or seat):
        emit(actor=user, action=action, object_type="cases.case",
             object_id=str(case_id)[:64], outcome="denied")
        raise NotFound(_("Case not found."))
    emit(actor=user, action=action, obj=panel or case, patient_id=case.patient_id,
         role=rel.COORDINATOR if coordinator else "panel_member")
    return case, panel, seat, coordinator


def seats_of(specialist):
    """The specialist's seats on convened panels of open cases (their workspace lists them)."""
    return (PanelMember.objects.filter(specialist=specialist, panel__status=Panel.Status.CONVENED,
                                       panel__case__status__in=OPEN_CASES)
            .select_related("panel__case", "role").order_by("panel__meeting_at", "-created_at"))


def stage(panel: Panel) -> str:
    """inputs | seats (open seats to fill or waive first) | consensus | agreement | done."""
    from .seats import unsettled

    members = list(panel.members.all())
    if latest_signed(panel.case) is not None:
        pending = [m for m in members if m.specialist_id != panel.chair_id and not m.agreement]
        return "agreement" if pending else "done"
    if not all(m.submitted_at for m in members):
        return "inputs"
    return "seats" if unsettled(panel.case).exists() else "consensus"


def inputs_visible(panel: Panel, seat: PanelMember | None, coordinator: bool) -> bool:
    """Others' inputs: to the chair and coordinators; to members once the consensus is signed (no anchoring)."""
    return coordinator or (seat is not None and seat.is_chair) or latest_signed(panel.case) is not None


def report_rows(case) -> list[PanelMember]:
    """The members of the case's panel (chair first), for the report."""
    panel = active_panel(case)
    if panel is None:
        return []
    return sorted(panel.members.all(), key=lambda m: (not m.is_chair, m.position))
