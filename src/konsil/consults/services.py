"""Every consult write: book, reschedule, cancel, no-show, held, notes, room signals, reminders. One transaction
each, audited in it, e-mails on commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.core import authz
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.matching.models import Specialist

from . import conf, notify, slots
from .models import Consult, ConsultEvent, ConsultNote, ConsultStatus, EventKind, Mode, Party, Signal

MAX_NOTE = 20000
MAX_SIGNAL_BYTES = 64 * 1024
ROOM_OPENS = timedelta(minutes=15)
ROOM_CLOSES = timedelta(minutes=60)


def _audit(actor, action: str, consult: Consult, *, outcome: str = "success", **detail) -> None:
    role = rel.primary_relation(rel.relations(actor, consult.case)) if getattr(actor, "is_authenticated", False) \
        else rel.SYSTEM
    emit(actor=actor, action=action, obj=consult, patient_id=consult.case.patient_id, role=role, outcome=outcome,
         detail={"case": str(consult.case_id), **detail})


def _event(actor, consult: Consult, kind: str, *, relations=None, **fields) -> None:
    """The consult's step on the case timeline (same transaction as the change)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    if user is None:
        role = rel.SYSTEM
    else:
        role = rel.primary_relation(relations if relations is not None else rel.relations(user, consult.case))
    ConsultEvent.objects.create(consult=consult, case_id=consult.case_id, kind=kind, actor=user, role=role,
                                mode=consult.mode, starts_at=consult.starts_at, **fields)


def busy_times(specialist: Specialist, *, exclude=None) -> list[tuple[datetime, datetime]]:
    booked = Consult.objects.filter(specialist=specialist, status=ConsultStatus.BOOKED)
    if exclude is not None:
        booked = booked.exclude(pk=exclude.pk)
    return list(booked.values_list("starts_at", "ends_at"))


def open_slots(specialist: Specialist, *, now=None, exclude=None) -> list[slots.Slot]:
    return slots.free_slots(specialist.availability or [], specialist.time_zone, now=now or timezone.now(),
                            busy=busy_times(specialist, exclude=exclude), horizon_days=conf.horizon_days(),
                            notice=timedelta(hours=conf.notice_hours()), minutes=conf.slot_minutes())


def parse_start(value) -> datetime:
    """An ISO 8601 start with its offset (what the booking page and the API send)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value or "").strip()[:40])
        except ValueError:
            raise ValidationFailed(_("Choose a time from the list."), field="starts_at") from None
    if parsed.tzinfo is None:
        raise ValidationFailed(_("Choose a time from the list."), field="starts_at")
    try:
        parsed.astimezone(UTC)  # years 1 and 9999 with an offset fall off the calendar in UTC
    except OverflowError:
        raise ValidationFailed(_("Choose a time from the list."), field="starts_at") from None
    return parsed


def _check_slot(specialist: Specialist, start: datetime, *, exclude=None) -> slots.Slot:
    now = timezone.now()
    if start <= now:
        raise ValidationFailed(_("That time is in the past. Choose a time from the list."), field="starts_at")
    for slot in open_slots(specialist, now=now, exclude=exclude):
        if slot.starts_at == start:
            return slot
    if any(b0 <= start < b1 for b0, b1 in busy_times(specialist, exclude=exclude)):
        raise Conflict(_("That time was just booked by someone else. Choose another time."), field="starts_at",
                       code="slot_taken")
    raise ValidationFailed(_("The specialist is not available at that time. Choose a time from the list."),
                           field="starts_at", code="slot_unavailable")


def _lock_specialist(specialist_id) -> Specialist:
    """Serialize bookings of one specialist (PostgreSQL row lock; SQLite's IMMEDIATE transactions already do)."""
    return Specialist.objects.select_for_update().select_related("user").get(pk=specialist_id)


def book(*, actor, case, mode: str, starts_at, patient_time_zone: str = "UTC", patient_phone: str = "",
         invite_treating_physician: bool = False, interpreter_language: str = "", interpreter_email: str = ""
         ) -> Consult:
    if not authz.can("consult.book", actor, case):
        raise PermissionDenied(_("Consults can be booked once the report is delivered, by the patient's side."))
    if case.assigned_specialist_id is None:
        raise Conflict(_("This case has no specialist to meet."))
    errors: dict[str, list[str]] = {}
    if mode not in Mode.values:
        errors["mode"] = [_("Choose video, phone or in person.")]
    if not slots.is_time_zone(patient_time_zone):
        errors["patient_time_zone"] = [_("Choose your time zone from the list.")]
    phone = (patient_phone or "").strip()
    if mode == Mode.PHONE and not _valid_phone(phone):
        errors["patient_phone"] = [_("Enter the number the specialist should call, with its country code.")]
    interpreter_email = (interpreter_email or "").strip()
    if interpreter_email and not _valid_email(interpreter_email):
        errors["interpreter_email"] = [_("Enter a valid e-mail address.")]
    if len(interpreter_language or "") > 8:
        errors["interpreter_language"] = [_("Choose a language from the list.")]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)
    start = parse_start(starts_at)
    with transaction.atomic():
        specialist = _lock_specialist(case.assigned_specialist_id)
        if mode not in (specialist.delivery_modes or []):
            raise ValidationFailed(_("This specialist does not offer that kind of consult."), field="mode")
        if mode == Mode.IN_PERSON and not specialist.in_person_location:
            raise ValidationFailed(_("This specialist has no place for in-person consults."), field="mode")
        if Consult.objects.filter(case=case, status=ConsultStatus.BOOKED).exists():
            raise Conflict(_("This case already has a consult booked: move or cancel it instead."),
                           code="already_booked")
        slot = _check_slot(specialist, start)
        consult = Consult(
            case=case, specialist=specialist, booked_by=actor, mode=mode, starts_at=slot.starts_at,
            ends_at=slot.ends_at, patient_time_zone=patient_time_zone, patient_phone=phone if mode == Mode.PHONE
            else "", location=specialist.in_person_location if mode == Mode.IN_PERSON else "",
            video_engine=conf.video_engine() if mode == Mode.VIDEO else "",
            invite_treating_physician=bool(invite_treating_physician and case.treating_physician_email),
            interpreter_language=interpreter_language or "", interpreter_email=interpreter_email)
        try:
            with transaction.atomic():
                consult.save()
        except IntegrityError:
            raise Conflict(_("That time was just booked by someone else. Choose another time."), field="starts_at",
                           code="slot_taken") from None
        _audit(actor, "consult.book", consult, mode=mode)
        _event(actor, consult, EventKind.BOOKED)
        if mode == Mode.PHONE:
            from . import telephony

            telephony.provider().place_call(consult=consult)
        transaction.on_commit(lambda: notify.send(consult, "booked"))
    return consult


def _valid_phone(value: str) -> bool:
    digits = [c for c in value if c.isdigit()]
    return 7 <= len(digits) <= 15 and len(value) <= 32 and all(c.isdigit() or c in "+-() ." for c in value)


def _valid_email(value: str) -> bool:
    from django.core.validators import validate_email

    try:
        validate_email(value)
    except Exception:  # noqa: BLE001 - Django's ValidationError, any malformed address
        return False
    return len(value) <= 254


def _relations(actor, consult) -> set[str]:
    return rel.relations(actor, consult.case)


def _require_party(actor, consult) -> set[str]:
    relations = _relations(actor, consult)
    if not relations & (rel.PATIENT_SIDE | {rel.COORDINATOR, rel.SPECIALIST, rel.SIGNER}):
        raise PermissionDenied(_("You do not have permission to do this."))
    return relations


def _lock(consult: Consult) -> Consult:
    return Consult.objects.select_for_update().select_related("case", "specialist__user").get(pk=consult.pk)


def in_cancel_window(consult: Consult, now=None) -> bool:
    """Within the late window: cancelling is recorded as late and the consult can no longer be moved."""
    return (now or timezone.now()) >= consult.starts_at - timedelta(hours=conf.cancel_hours())


def reschedule(*, actor, consult: Consult, starts_at) -> Consult:
    _require_party(actor, consult)
    start = parse_start(starts_at)
    with transaction.atomic():
        _lock_specialist(consult.specialist_id)
        consult = _lock(consult)
        if consult.status != ConsultStatus.BOOKED:
            raise Conflict(_("This consult is no longer booked."), code="not_booked")
        if in_cancel_window(consult):
            raise Conflict(_("It is too late to move this consult: cancel it, or join at the booked time."),
                           code="window_closed")
        slot = _check_slot(consult.specialist, start, exclude=consult)
        previous = consult.starts_at
        consult.starts_at, consult.ends_at = slot.starts_at, slot.ends_at
        consult.sequence += 1
        consult.rescheduled_count += 1
        consult.reminded_at = None
        try:
            with transaction.atomic():
                consult.save()
        except IntegrityError:
            raise Conflict(_("That time was just booked by someone else. Choose another time."), field="starts_at",
                           code="slot_taken") from None
        _audit(actor, "consult.reschedule", consult, previous=previous.isoformat())
        _event(actor, consult, EventKind.MOVED)
        transaction.on_commit(lambda: notify.send(consult, "changed"))
    return consult


def cancel(*, actor, consult: Consult, reason: str = "") -> Consult:
    relations = _require_party(actor, consult)
    reason = (reason or "").strip()
    if len(reason) > 300:
        raise ValidationFailed(_("Keep the reason under 300 characters."), field="reason")
    with transaction.atomic():
        consult = _lock(consult)
        if consult.status != ConsultStatus.BOOKED:
            raise Conflict(_("This consult is no longer booked."), code="not_booked")
        now = timezone.now()
        if now >= consult.ends_at:
            raise Conflict(_("This consult is over: record whether it was held instead."), code="over")
        late = in_cancel_window(consult, now)
        consult.status = ConsultStatus.LATE_CANCELLED if late else ConsultStatus.CANCELLED
        consult.cancelled_at, consult.cancelled_by, consult.cancel_reason = now, actor, reason
        consult.sequence += 1
        consult.save()
        consult.signals.all().delete()
        by = Party.SPECIALIST if relations & {rel.SPECIALIST, rel.SIGNER} else Party.PATIENT
        _audit(actor, "consult.cancel", consult, late=late, by=by)
        _event(actor, consult, EventKind.LATE_CANCELLED if late else EventKind.CANCELLED, relations=relations,
               party=by if relations & (rel.PATIENT_SIDE | {rel.SPECIALIST, rel.SIGNER}) else "")
        transaction.on_commit(lambda: notify.send(consult, "cancelled"))
    return consult


def record_attendance(*, actor, consult: Consult, held: bool, no_show_party: str = "") -> Consult:
    """After the start: the consult was held, or one side did not come (a no-show is recorded, never assumed)."""
    if not authz.can("consult.manage", actor, consult.case):
        raise PermissionDenied(_("Only the specialist or a coordinator records attendance."))
    if not held and no_show_party not in Party.values:
        raise ValidationFailed(_("Say who did not come."), field="no_show_party")
    with transaction.atomic():
        consult = _lock(consult)
        if consult.status not in (ConsultStatus.BOOKED, ConsultStatus.COMPLETED, ConsultStatus.NO_SHOW):
            raise Conflict(_("This consult was cancelled."), code="not_booked")
        if timezone.now() < consult.starts_at:
            raise Conflict(_("Attendance is recorded once the consult has started."), code="not_started")
        consult.status = ConsultStatus.COMPLETED if held else ConsultStatus.NO_SHOW
        consult.no_show_party = "" if held else no_show_party
        consult.held_at = timezone.now() if held else None
        consult.recorded_by = actor
        consult.save()
        _audit(actor, "consult.held" if held else "consult.no_show", consult, party=consult.no_show_party)
        _event(actor, consult, EventKind.HELD if held else EventKind.NO_SHOW, party=consult.no_show_party)
    return consult


def add_note(*, actor, consult: Consult, body: str, opinion_changed: bool = False) -> ConsultNote:
    if not authz.can("consult.notes", actor, consult.case):
        raise PermissionDenied(_("Only the case's specialist writes consult notes."))
    body = (body or "").strip()
    if not body:
        raise ValidationFailed(_("Write the notes."), field="body")
    if len(body) > MAX_NOTE:
        raise ValidationFailed(_("Notes are limited to %(n)d characters.") % {"n": MAX_NOTE}, field="body")
    with transaction.atomic():
        consult = _lock(consult)
        if consult.status in (ConsultStatus.CANCELLED, ConsultStatus.LATE_CANCELLED):
            raise Conflict(_("This consult was cancelled."), code="not_booked")
        if timezone.now() < consult.starts_at - ROOM_OPENS:
            raise Conflict(_("Notes are written during or after the consult."), code="not_started")
        note = ConsultNote.objects.create(consult=consult, case=consult.case, author=actor, body=body,
                                          opinion_changed=bool(opinion_changed))
        if consult.status == ConsultStatus.BOOKED:
            consult.status, consult.held_at, consult.recorded_by = ConsultStatus.COMPLETED, timezone.now(), actor
            consult.save(update_fields=["status", "held_at", "recorded_by", "updated_at"])
            _event(actor, consult, EventKind.HELD)
        _event(actor, consult, EventKind.NOTE, opinion_changed=note.opinion_changed)
        emit(actor=actor, action="consult.note", obj=note, patient_id=consult.case.patient_id,
             role=rel.primary_relation(_relations(actor, consult)),
             detail={"case": str(consult.case_id), "consult": str(consult.pk), "opinion_changed": note.opinion_changed})
    return note


# --- the embedded room --------------------------------------------------------------------------------------

def party_of(user, consult: Consult) -> str | None:
    """Which side of the two-party room the user is: the consult's specialist, or the patient's side."""
    if consult.specialist.user_id == getattr(user, "pk", None):
        return Party.SPECIALIST
    if _relations(user, consult) & rel.PATIENT_SIDE:
        return Party.PATIENT
    return None


def room_state(consult: Consult, now=None) -> str:
    """"early", "open" or "closed": the room opens 15 minutes before the start and closes an hour after the end."""
    now = now or timezone.now()
    if consult.status not in (ConsultStatus.BOOKED, ConsultStatus.COMPLETED) or consult.mode != Mode.VIDEO \
            or consult.video_engine != "embedded":
        return "closed"
    if now < consult.starts_at - ROOM_OPENS:
        return "early"
    if now > consult.ends_at + ROOM_CLOSES:
        return "closed"
    return "open"


def require_room(user, consult: Consult, party: str | None = None) -> str:
    """The caller's side once the room is open (`party` when the caller already knows it: the polling path)."""
    party = party or party_of(user, consult)
    if party is None:
        raise PermissionDenied(_("Only the patient's side and the specialist join this room."))
    state = room_state(consult)
    if state == "early":
        raise Conflict(_("The room opens 15 minutes before the consult."), code="room_early")
    if state == "closed":
        raise Conflict(_("This room is closed."), code="room_closed")
    return party


def post_signal(*, user, consult: Consult, kind: str, payload, party: str | None = None) -> Signal:
    party = require_room(user, consult, party)
    if kind not in Signal.Kind.values:
        raise ValidationFailed(_("Unknown signal."), field="kind")
    if not isinstance(payload, dict):
        raise ValidationFailed(_("The signal's payload is an object."), field="payload")
    import json

    if len(json.dumps(payload)) > MAX_SIGNAL_BYTES:
        raise ValidationFailed(_("The signal is too large."), field="payload")
    signal = Signal.objects.create(consult=consult, sender=party, kind=kind, payload=payload)
    if kind == Signal.Kind.HELLO:
        _audit(user, "consult.room.join", consult, party=party)
    return signal


def signals_for(*, user, consult: Consult, after: int = 0, limit: int = 100, party: str | None = None
                ) -> tuple[str, list[Signal]]:
    """What the other side sent after `after`: one indexed query (consult, id)."""
    party = require_room(user, consult, party)
    rows = Signal.objects.filter(consult_id=consult.pk, id__gt=max(0, after)).exclude(sender=party) \
        .only("id", "kind", "payload").order_by("id")[:limit]
    return party, list(rows)


# --- the clock ----------------------------------------------------------------------------------------------

def send_due_reminders(now=None) -> int:
    """E-mail a reminder (with the invitation) once per consult, `KONSIL_CONSULT_REMINDER_HOURS` before it."""
    now = now or timezone.now()
    due = Consult.objects.filter(status=ConsultStatus.BOOKED, reminded_at__isnull=True, starts_at__gt=now,
                                 starts_at__lte=now + timedelta(hours=conf.reminder_hours()))
    sent = 0
    for consult_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            consult = Consult.objects.select_for_update().filter(pk=consult_id, reminded_at__isnull=True).first()
            if consult is None:
                continue
            consult.reminded_at = now
            consult.save(update_fields=["reminded_at", "updated_at"])
            emit(actor="system", action="consult.remind", obj=consult, patient_id=consult.case.patient_id,
                 role=rel.SYSTEM, detail={"case": str(consult.case_id)})
            transaction.on_commit(lambda c=consult: notify.send(c, "reminder"))
            sent += 1
    return sent


def purge_signals(now=None) -> int:
    """Signalling messages (SDP, candidates: network addresses) are kept only while the room may be used."""
    now = now or timezone.now()
    deleted, _rows = Signal.objects.filter(consult__ends_at__lt=now - ROOM_CLOSES).delete()
    return deleted
