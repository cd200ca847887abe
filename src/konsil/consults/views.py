"""Consult pages: booking (slots in the patient's time zone), the consult (move, cancel, attendance, notes), the
embedded video room and its signalling endpoint (JSON, polled). Thin: selectors read, services write."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from konsil.cases.selectors import get_case
from konsil.core import authz
from konsil.core.errors import DomainError, NotFound
from konsil.matching.zones import ZONE_OF_STATE

from . import conf, notify, selectors, services, slots
from .forms import AttendanceForm, BookingForm, CancelForm, NoteForm, RescheduleForm
from .models import ConsultStatus, Mode, Party, live_modes


def _case(user, pk, **kwargs):
    try:
        return get_case(user, pk, **kwargs)
    except NotFound:
        raise Http404 from None


def _consult(user, pk, **kwargs):
    try:
        return selectors.get_consult(user, pk, **kwargs)
    except NotFound:
        raise Http404 from None


def _zone(request, fallback: str = "UTC") -> str:
    zone = (request.POST.get("patient_time_zone") or request.GET.get("patient_time_zone") or request.GET.get("tz")
            or "").strip()
    return zone if slots.is_time_zone(zone) else fallback


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def book(request, pk):
    case = _case(request.user, pk, action="consult.book_page")
    if not authz.can("consult.book", request.user, case) or case.assigned_specialist is None:
        messages.error(request, _("A consult can be booked once the report is delivered."))
        return redirect("cases:detail", pk=case.pk)
    specialist = case.assigned_specialist
    identity = case.identity
    zone = _zone(request, fallback=ZONE_OF_STATE.get(identity.state or "", "UTC"))  # the browser's, else the state's
    modes = live_modes(specialist)
    kwargs = {"modes": modes, "free": services.open_slots(specialist), "zone": zone,
              "minutes": conf.slot_minutes(), "has_physician": bool(case.treating_physician_email)}
    status = 200
    if request.method == "POST":
        form = BookingForm(request.POST, **kwargs)
        try:
            consult = services.book(
                actor=request.user, case=case, mode=request.POST.get("mode", ""),
                starts_at=request.POST.get("starts_at", ""), patient_time_zone=zone,
                patient_phone=request.POST.get("patient_phone", ""),
                invite_treating_physician=request.POST.get("invite_treating_physician") == "on",
                interpreter_language=request.POST.get("interpreter_language", ""),
                interpreter_email=request.POST.get("interpreter_email", ""))
        except DomainError as exc:
            form.show_errors(exc.as_dict()["errors"] or {"starts_at": [exc.message]})
            status = exc.status
        else:
            messages.success(request, _("Your consult is booked. The invitation was sent by e-mail."))
            return redirect("consults:detail", pk=consult.pk)
    else:
        interpreter = identity.language if case.interpreter_needed else ""  # the case already asks for one
        form = BookingForm(initial={"mode": modes[0] if modes else "", "patient_time_zone": zone,
                                    "interpreter_language": interpreter}, **kwargs)
    return render(request, "consults/book.html", {
        "case": case, "form": form, "specialist": specialist, "zone": zone, "modes": modes,
        "has_slots": bool(kwargs["free"]), "cancel_hours": conf.cancel_hours()}, status=status)


def _detail_context(request, consult, **forms):
    user, case = request.user, consult.case
    party = services.party_of(user, consult)
    viewer_zone = consult.specialist.time_zone if party == Party.SPECIALIST else consult.patient_time_zone
    can_manage = authz.can("consult.manage", user, case)
    is_open = consult.status == ConsultStatus.BOOKED
    window_closed = services.in_cancel_window(consult)
    started = timezone.now() >= consult.starts_at
    context = {
        "consult": consult, "case": case, "party": party, "viewer_zone": viewer_zone,
        "local_start": consult.starts_at.astimezone(slots.zone_of(viewer_zone)),
        "local_end": consult.ends_at.astimezone(slots.zone_of(viewer_zone)),
        "join_url": notify.join_url(consult), "room_state": services.room_state(consult),
        "can_move": is_open and party is not None and not window_closed and not started,
        "can_cancel": is_open and party is not None and timezone.now() < consult.ends_at,
        "late_window": window_closed, "cancel_hours": conf.cancel_hours(),
        "can_record": can_manage and started and consult.status in (ConsultStatus.BOOKED, ConsultStatus.COMPLETED,
                                                                      ConsultStatus.NO_SHOW),
        "can_note": authz.can("consult.notes", user, case) and consult.status not in (
            ConsultStatus.CANCELLED, ConsultStatus.LATE_CANCELLED),
        "notes": consult.notes.select_related("author"),
        "can_amend": authz.can("consult.notes", user, case) and case.status in ("delivered", "closed"),
    }
    if context["can_move"] and "reschedule_form" not in forms:
        forms["reschedule_form"] = RescheduleForm(free=services.open_slots(consult.specialist, exclude=consult),
                                                  zone=viewer_zone)
    forms.setdefault("cancel_form", CancelForm())
    forms.setdefault("attendance_form", AttendanceForm())
    forms.setdefault("note_form", NoteForm())
    return {**context, **forms}


@login_required
@never_cache
def detail(request, pk):
    consult = _consult(request.user, pk)
    return render(request, "consults/detail.html", _detail_context(request, consult))


@login_required
@require_POST
def act(request, pk, action):
    """Move, cancel, record attendance, write notes; a refusal re-renders the page with its message."""
    consult = _consult(request.user, pk, action=f"consult.{action}_page", audit=False)
    form_name, form = None, None
    try:
        if action == "reschedule":
            form_name = "reschedule_form"
            zone = consult.specialist.time_zone if services.party_of(request.user, consult) == Party.SPECIALIST \
                else consult.patient_time_zone
            form = RescheduleForm(request.POST, free=services.open_slots(consult.specialist, exclude=consult),
                                  zone=zone)
            services.reschedule(actor=request.user, consult=consult, starts_at=request.POST.get("starts_at", ""))
            messages.success(request, _("The consult was moved. Everyone invited gets the new time."))
        elif action == "cancel":
            form_name, form = "cancel_form", CancelForm(request.POST)
            consult = services.cancel(actor=request.user, consult=consult, reason=request.POST.get("reason", ""))
            messages.success(request, _("The consult was cancelled late: this is recorded.")
                             if consult.status == ConsultStatus.LATE_CANCELLED else _("The consult was cancelled."))
        elif action == "attendance":
            form_name, form = "attendance_form", AttendanceForm(request.POST)
            outcome = request.POST.get("outcome", "")
            services.record_attendance(actor=request.user, consult=consult, held=outcome == "held",
                                       no_show_party="" if outcome == "held" else outcome)
            messages.success(request, _("Attendance recorded."))
        elif action == "notes":
            form_name, form = "note_form", NoteForm(request.POST)
            note = services.add_note(actor=request.user, consult=consult, body=request.POST.get("body", ""),
                                     opinion_changed=request.POST.get("opinion_changed") == "on")
            if note.opinion_changed:
                messages.info(request, _("Notes saved. Now amend the opinion with the reason."))
                return redirect("opinions:review", pk=consult.case_id)
            messages.success(request, _("Notes saved."))
        else:
            raise Http404
    except DomainError as exc:
        form.show_errors(exc.as_dict()["errors"] or {None: [exc.message]})
        context = _detail_context(request, consult, **{form_name: form})
        context["error"] = exc
        return render(request, "consults/detail.html", context, status=exc.status)
    return redirect("consults:detail", pk=consult.pk)


@login_required
@never_cache
def room(request, pk):
    consult = _consult(request.user, pk, action="consult.room")
    context = {"consult": consult, "case": consult.case, "state": services.room_state(consult),
               "party": services.party_of(request.user, consult),
               "config": {"signals": request.build_absolute_uri("signals/"), "iceServers": conf.ice_servers(),
                          "party": services.party_of(request.user, consult)}}
    if consult.mode != Mode.VIDEO or consult.video_engine != "embedded":
        return redirect("consults:detail", pk=consult.pk)
    return render(request, "consults/room.html", context, status=200 if context["party"] else 403)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def signals(request, pk):
    """The room's signalling relay: POST {kind, payload} from one side; GET ?after=<id> what the other sent."""
    try:
        found = selectors.room_party(request.user, pk)  # the two sides: one narrow query, nothing written
        if found is None:  # anyone else: the full scoped and audited read (404 to strangers, then 403)
            consult, party = selectors.get_consult(request.user, pk, action="consult.signal", audit=False), None
        else:
            consult, party = found
        if request.method == "POST":
            if len(request.body) > services.MAX_SIGNAL_BYTES:
                return JsonResponse({"code": "invalid", "detail": _("The signal is too large."),
                                     "errors": {"payload": [_("The signal is too large.")]}}, status=400)
            try:
                body = json.loads(request.body or b"{}")
            except (ValueError, RecursionError):
                return JsonResponse({"code": "invalid", "detail": _("Send JSON."), "errors": {}}, status=400)
            if not isinstance(body, dict):
                return JsonResponse({"code": "invalid", "detail": _("Send a JSON object."), "errors": {}}, status=400)
            signal = services.post_signal(user=request.user, consult=consult, kind=str(body.get("kind", ""))[:16],
                                          payload=body.get("payload"), party=party)
            return JsonResponse({"id": signal.id}, status=201)
        try:
            after = int(request.GET.get("after", "0")[:18] or 0)
        except ValueError:
            after = 0
        if request.GET.get("tail") == "1":
            services.require_room(request.user, consult, party)
            return JsonResponse({"last": consult.signals.order_by("-id").values_list("id", flat=True).first() or 0})
        party, rows = services.signals_for(user=request.user, consult=consult, after=after, party=party)
        return JsonResponse({"party": party, "signals": [
            {"id": s.id, "kind": s.kind, "payload": s.payload} for s in rows]})
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
