"""A panel's open seats: why nobody could fill a role, filling it by hand later, or waiving it with a reason.

A panel may convene with the seats that can be filled when the coordinator asks for it; each seat left open is
shown on the panel page and blocks the consensus opinion (services.check_complete) until it is filled with an
eligible specialist or waived by the coordinator with a reason. Every step is audited.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.core.errors import Conflict, ValidationFailed

from . import panels
from .models import OpenSeat, Panel, PanelMember
from .services import latest_signed

CONSTRAINTS = {  # matching's hard constraints (routing.hard_failures), as a count's label
    "specialty": gettext_lazy("does not practise this specialty"),
    "availability": gettext_lazy("not accepting cases"),
    "capacity": gettext_lazy("no free case slots"),
    "language": gettext_lazy("does not speak the patient's language"),
    "conflict": gettext_lazy("conflict of interest"),
    "declined": gettext_lazy("declined this case"),
    "delivery": gettext_lazy("does not offer the requested delivery mode"),
}


def _where(record: dict, table) -> str:
    from konsil.matching import licensure

    rule = licensure.rule_applied(table, record["state"], record["country"])
    return str(rule.name) if rule else (licensure.jurisdiction(record["state"], record["country"]) or "?")


def _failed_counts(case, rows: dict, record: dict, table) -> dict:
    from konsil.matching import inputs, routing

    load, today, counts = panels.panel_load(list(rows), case), timezone.localdate(), {}
    for specialist, code in rows.values():
        spec = inputs.specialist_record(specialist, today=today)
        spec["active"] += load.get(specialist.pk, 0)
        failed = routing.hard_failures({**record, "specialty": code, "subspecialty": None}, spec, table)
        for constraint in dict.fromkeys(f["constraint"] for f in failed):
            counts[constraint] = counts.get(constraint, 0) + 1
    return counts


def unfilled_reason(case, codes: tuple[str, ...], *, record: dict, table, eligible: int) -> str:
    """Why nobody sits in a role: nobody of the specialty, every eligible one seated elsewhere, or how many
    specialists of the network fail each hard constraint ("not licensed in Texas (2)")."""
    from konsil.matching import selectors

    role = panels.role_name(codes)
    if eligible:
        return _("%(role)s: every eligible specialist already sits in another seat") % {"role": role}
    rows: dict = {}
    for code in codes:
        for specialist in selectors.directory(network=case.network, specialty=code):
            rows.setdefault(specialist.pk, (specialist, code))
    if not rows:
        return _("%(role)s: no specialist of this specialty in the network") % {"role": role}
    counts = _failed_counts(case, rows, record, table)
    labels = {**CONSTRAINTS, "licence": _("not licensed in %(where)s") % {"where": _where(record, table)}}
    why = ", ".join(f"{labels.get(c, c)} ({n})" for c, n in counts.items()) or _("no eligible specialist")
    return _("%(role)s: nobody eligible among %(n)d in the network: %(why)s") % {"role": role, "n": len(rows),
                                                                                   "why": why}


def open_seats(panel: Panel) -> list[OpenSeat]:
    return list(panel.open_seats.select_related("role", "waived_by").order_by("position"))


def unsettled(case):
    """Open seats not waived on the case's convened panel."""
    return OpenSeat.objects.filter(panel__case=case, panel__status=Panel.Status.CONVENED,
                                   waived_at__isnull=True).select_related("role").order_by("position")


def require_settled(case) -> None:
    """The consensus opinion waits until every open seat of the panel is filled or waived."""
    names = [str(seat.role.name) for seat in unsettled(case)]
    if names:
        raise Conflict(_("Fill or waive the panel's open seats before the consensus opinion is signed: "
                         "%(roles)s.") % {"roles": "; ".join(names)}, code="panel_seats_open")


def candidates(panel: Panel, seat: OpenSeat) -> list:
    """Eligible specialists for the seat, best first, nobody already on the panel: [(specialist, score, ...)]."""
    from konsil.matching import inputs, licensure

    case = panel.case
    seated = set(panel.members.values_list("specialist_id", flat=True))
    ranked = panels.rank_role(case, tuple(seat.codes), record=inputs.case_record(case),
                              weights=inputs.weights_for(case.network), table=licensure.load_table())
    return [row for row in ranked if row[0].pk not in seated]


def seat_candidates(*, actor, panel: Panel, seat_id) -> list:
    """The coordinator's choice for an open seat (`candidates`); 409 seat_not_open for a seat that is not."""
    panels.require_coordinator(actor, panel.case)
    return candidates(panel, _seat(panel.open_seats.all(), seat_id))


def _seat(seats, seat_id) -> OpenSeat:
    """The open seat `seat_id` among `seats`; 409 seat_not_open for one that is not (or a malformed id)."""
    try:
        seat = seats.filter(pk=seat_id).first()
    except (ValueError, DjangoValidationError):
        seat = None
    if seat is None:
        raise Conflict(_("This seat is no longer open."), code="seat_not_open")
    return seat


def _open_seat(actor, panel: Panel, seat_id) -> OpenSeat:
    panels.require_coordinator(actor, panel.case)
    if panel.status != Panel.Status.CONVENED:
        raise Conflict(_("This panel was dissolved."), code="panel_dissolved")
    if latest_signed(panel.case) is not None:
        raise Conflict(_("The consensus opinion is signed: the panel is closed."), code="panel_closed")
    return _seat(panel.open_seats.select_for_update().select_related("role"), seat_id)


def fill_seat(*, actor, panel: Panel, seat_id, specialist_id) -> PanelMember:
    """The coordinator seats an eligible specialist (matching's hard constraints for the role) in an open seat."""
    with transaction.atomic():
        seat = _open_seat(actor, panel, seat_id)
        if not str(specialist_id or "").strip():
            raise ValidationFailed(_("Choose a specialist."), field="specialist")
        pick = next((row for row in candidates(panel, seat) if str(row[0].pk) == str(specialist_id).strip()), None)
        if pick is None:
            raise ValidationFailed(_("This specialist is not eligible for this seat or already sits on the panel."),
                                   field="specialist")
        specialist, score, code, reasons = pick
        member = PanelMember.objects.create(panel=panel, specialist=specialist, role_id=code, position=seat.position,
                                            score=score, reasons=[*reasons, _("invited by the coordinator")])
        emit(actor=actor, action="panel.seat_fill", obj=member, patient_id=panel.case.patient_id,
             role=rel.COORDINATOR, detail={"panel": str(panel.pk), "role": code, "specialist": str(specialist.pk),
                                           "was_waived": seat.waived_at is not None})
        seat.delete()
    if specialist.user_id != actor.pk:
        panels.notify_members(panel.case, "panel_invite", [specialist.user])
    return member


def waive_seat(*, actor, panel: Panel, seat_id, reason: str) -> OpenSeat:
    """The coordinator lets the panel go on without a role, with a reason shown to the panel and in the report."""
    with transaction.atomic():
        seat = _open_seat(actor, panel, seat_id)
        if seat.waived_at is not None:
            raise Conflict(_("This seat is already waived."), code="seat_waived")
        errors: dict = {}
        reason = panels.clean_text(reason, "reason", errors)
        if errors:
            raise ValidationFailed(_("Give a reason."), errors=errors)
        seat.waived_reason, seat.waived_by, seat.waived_at = reason, actor, timezone.now()
        seat.save(update_fields=["waived_reason", "waived_by", "waived_at", "updated_at"])
        emit(actor=actor, action="panel.seat_waive", obj=seat, patient_id=panel.case.patient_id,
             role=rel.COORDINATOR, detail={"panel": str(panel.pk), "role": seat.role_id,
                                           "reason_length": len(reason)})
    return seat
