"""Panel pages (members and the case's coordinators; 404 for anyone else) and the coordinator's review plan.

Thin views: reads through panels.panel_access (scoped, audited); writes through panels and blinded services.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from konsil.cases import relations as rel
from konsil.cases.choices import OfferStatus
from konsil.core import authz
from konsil.core.errors import DomainError, NotFound, ValidationFailed

from . import blinded, meeting, panels, report, seats, services
from .panel_forms import (
    AgreementForm,
    AssembleForm,
    PanelInputForm,
    ReasonForm,
    ReviewPlanForm,
    SeatFillForm,
    WaiveForm,
)
from .views import _age, _case, _field_errors


def _access(request, pk, action: str = "panel.read"):
    try:
        return panels.panel_access(request.user, pk, action=action)
    except NotFound:
        raise Http404 from None


def _when(moment, zone_name) -> str:
    local = moment.astimezone(meeting.zone(zone_name))
    return f"{date_format(local, 'DATETIME_FORMAT')} ({local.tzname()})"


def _members(panel, show_inputs: bool, seat) -> list:
    rows = []
    for member in panel.members.all():
        member.local_meeting = _when(panel.meeting_at, getattr(member.specialist, "time_zone", None)) \
            if panel.meeting_at else ""
        member.input_shown = show_inputs or (seat is not None and member.pk == seat.pk)
        rows.append(member)
    return rows


def _suggestion(case) -> str:
    try:
        return str(panels.template_for(case).label)
    except DomainError:
        return ""


def _ways_forward(request, failed) -> dict:
    """After an assembly refused for want of members: the reason per seat and what the coordinator can do."""
    if failed is None or failed.code not in ("unfilled_roles", "no_seat_fillable"):
        return {}
    return {"ways": True, "open_seats_possible": failed.code == "unfilled_roles",
            "retry_template": request.POST.get("template", ""),
            "failed_reasons": [str(m) for messages in (failed.errors or {}).values() for m in messages]}


def _open_seats(panel, coordinator: bool, signed) -> list:
    rows = seats.open_seats(panel)
    for row in rows:
        writable = coordinator and not signed
        row.fill_form = SeatFillForm(candidates=seats.candidates(panel, row), auto_id=f"id_fill_{row.pk}_%s") \
            if writable else None
        row.waive_form = WaiveForm(auto_id=f"id_waive_{row.pk}_%s") if writable and not row.waived_at else None
    return rows


def _render(request, case, panel, seat, coordinator, *, input_form=None, agreement_form=None,
            assemble_form=None, dissolve_form=None, failed=None, status=200):
    signed = services.latest_signed(case)
    context = {"case": case, "patient": case.patient, "patient_age": _age(case.patient.birth_date),
               "questions": list(case.questions.all()), "diagnoses": list(case.diagnoses.all()),
               "panel": panel, "seat": seat, "coordinator": coordinator, "failed": failed,
               "blind": blinded.hidden_for(request.user, case),
               "can_import": coordinator and authz.can("matching.import", request.user, case.network)}
    if panel is None:
        context.update(assemble_form=assemble_form or AssembleForm(templates=panels.templates()),
                       can_assemble=case.status in panels.ASSEMBLE_FROM,
                       suggestion=_suggestion(case), **_ways_forward(request, failed))
        return render(request, "opinions/panel.html", context, status=status)
    context["open_seats"] = _open_seats(panel, coordinator, signed)
    show_inputs = panels.inputs_visible(panel, seat, coordinator)
    context.update(
        members=_members(panel, show_inputs, seat), stage=panels.stage(panel), show_inputs=show_inputs,
        meeting_utc=_when(panel.meeting_at, "UTC") if panel.meeting_at else "",
        meeting_mine=_when(panel.meeting_at, getattr(seat.specialist, "time_zone", None))
        if seat and panel.meeting_at else "",
        report=report.report_context(case) if signed else None)
    if seat is not None and signed is None:
        context["input_form"] = input_form or PanelInputForm(initial={"assessment": seat.assessment,
                                                                      "recommendation": seat.recommendation})
    if coordinator:
        context["dissolve_form"] = dissolve_form or ReasonForm()
    if seat is not None and signed is not None and not seat.is_chair and not seat.agreement:
        context["agreement_form"] = agreement_form or AgreementForm()
    return render(request, "opinions/panel.html", context, status=status)


@never_cache
@login_required
def panel_page(request, pk):
    case, panel, seat, coordinator = _access(request, pk)
    return _render(request, case, panel, seat, coordinator)


@require_POST
@login_required
def panel_assemble(request, pk):
    case, panel, seat, coordinator = _access(request, pk, action="panel.assemble_page")
    form = AssembleForm(data=request.POST, templates=panels.templates())
    try:
        panels.assemble_panel(actor=request.user, case=case, template_code=request.POST.get("template") or None,
                              open_seats=request.POST.get("open_seats") == "1")
    except DomainError as exc:
        form.show_errors(_field_errors(exc))
        case.refresh_from_db()
        return _render(request, case, panels.active_panel(case), seat, coordinator, assemble_form=form,
                       failed=exc, status=exc.status)
    messages.success(request, _("The panel is assembled and its members are invited."))
    return redirect("opinions:panel", pk=case.pk)


def _panel_write(request, pk, *, audit: str, write, done, form_key: str | None = None, form_class=None):
    """A write on the panel page: the service `write(panel)`; its errors shown on the form named `form_key`
    (without one, in the page's alert); `done`, the message after it (or a function of the panel giving it)."""
    case, panel, seat, coordinator = _access(request, pk, action=audit)
    if panel is None:
        raise Http404
    try:
        write(panel)
    except DomainError as exc:
        forms = {}
        if form_key:
            forms[form_key] = form_class(data=request.POST)
            forms[form_key].show_errors(_field_errors(exc))
        return _render(request, case, panel, seat, coordinator, failed=exc, status=exc.status, **forms)
    messages.success(request, done(panel) if callable(done) else done)
    return redirect("opinions:panel", pk=case.pk)


def _dissolved(panel) -> str:
    """Where the case stands once its panel is dissolved: it stays with the chair, whom a new panel keeps."""
    case, chair = panel.case, panel.chair
    if case.assigned_specialist_id == chair.pk:
        return _("The panel is dissolved. The case stays with its chair, %(name)s, who goes on alone or chairs "
                 "the next panel.") % {"name": chair}
    if case.offers.filter(specialist=chair, status=OfferStatus.PENDING).exists():
        return _("The panel is dissolved. The case is still offered to its chair, %(name)s, and a new panel keeps "
                 "them as chair; to offer it to someone else, use Retract offer on the case page.") % {"name": chair}
    return _("The panel is dissolved.")


@require_POST
@login_required
def panel_input(request, pk):
    post = request.POST
    return _panel_write(request, pk, audit="panel.input_page", form_key="input_form", form_class=PanelInputForm,
                        done=_("Your input is saved."), write=lambda panel: panels.submit_input(
                            actor=request.user, panel=panel, assessment=post.get("assessment", ""),
                            recommendation=post.get("recommendation", "")))


@require_POST
@login_required
def panel_agreement(request, pk):
    post = request.POST
    return _panel_write(request, pk, audit="panel.agreement_page", form_key="agreement_form",
                        form_class=AgreementForm, done=_("Your position is recorded."),
                        write=lambda panel: panels.record_agreement(
                            actor=request.user, panel=panel, agreement=post.get("agreement", ""),
                            reason=post.get("dissent_reason", "")))


@require_POST
@login_required
def panel_dissolve(request, pk):
    return _panel_write(request, pk, audit="panel.dissolve_page", form_key="dissolve_form", form_class=ReasonForm,
                        done=_dissolved, write=lambda panel: panels.dissolve_panel(
                            actor=request.user, panel=panel, reason=request.POST.get("reason", "")))


@require_POST
@login_required
def panel_seat_fill(request, pk, seat_id):
    return _panel_write(request, pk, audit="panel.seat_fill_page",
                        done=_("The seat is filled and the specialist is invited."),
                        write=lambda panel: seats.fill_seat(actor=request.user, panel=panel, seat_id=seat_id,
                                                            specialist_id=request.POST.get("specialist", "")))


@require_POST
@login_required
def panel_seat_waive(request, pk, seat_id):
    return _panel_write(request, pk, audit="panel.seat_waive_page",
                        done=_("The seat is waived."),
                        write=lambda panel: seats.waive_seat(actor=request.user, panel=panel, seat_id=seat_id,
                                                             reason=request.POST.get("reason", "")))


@never_cache
@login_required
def review_plan(request, pk):
    """The coordinator turns blinded review on or off for a case (others: 404)."""
    case = _case(request.user, pk, action="review_plan.read")
    if rel.COORDINATOR not in rel.relations(request.user, case):
        raise Http404
    plan = getattr(case, "review_plan", None)
    form = ReviewPlanForm(initial={"blinded": bool(plan and plan.blinded)})
    failed, status = None, 200
    if request.method == "POST":
        form = ReviewPlanForm(data=request.POST)
        choice = request.POST.get("blinded", "")
        try:
            if choice not in ("", "on", "true", "1", "false", "0"):
                raise ValidationFailed(_("Choose whether the review is blinded."), field="blinded")
            blinded.set_review_plan(actor=request.user, case=case, blinded=choice in ("on", "true", "1"))
        except DomainError as exc:
            form.show_errors(_field_errors(exc))
            failed, status = exc, exc.status
        else:
            messages.success(request, _("The review plan is saved."))
            return redirect("opinions:review_plan", pk=case.pk)
    return render(request, "opinions/review_plan.html", {"case": case, "form": form, "plan": plan,
                                                         "failed": failed, "editable": case.status in
                                                         blinded.PLAN_FROM}, status=status)
