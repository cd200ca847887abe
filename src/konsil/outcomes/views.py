"""Follow-up pages: the single-use link (the secret arrives in a POST body, never in a URL), the questionnaire on a
phone without signing in or from the case page, the coordinators' queue, the cost table and the specialist's
"what became of my opinions"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from konsil.cases.selectors import get_case
from konsil.core import authz
from konsil.core.errors import DomainError, NotFound

from . import questionnaires, selectors, services
from .forms import CodeForm, CostForm, FollowUpForm
from .models import CostEntry, FollowUp, FollowUpStatus

SESSION_KEY = "konsil_follow_up"


@never_cache
@require_http_methods(["GET", "POST"])
def open_link(request):
    """GET: a page whose script reads the secret from the fragment and posts it (or a form to paste the code).
    POST: check the secret, keep the follow-up in this browser's session, go to the questions."""
    form, error, status = CodeForm(), None, 200
    if request.method == "POST":
        form = CodeForm(request.POST)
        try:
            follow_up = services.find_by_secret(request.POST.get("token", ""))
        except DomainError as exc:
            error, status = exc, exc.status
            form.show_errors({"token": [exc.message]})
        else:
            request.session.cycle_key()
            request.session[SESSION_KEY] = str(follow_up.pk)
            return redirect("outcomes:answer")
    return render(request, "outcomes/open.html", {"form": form, "error": error}, status=status)


def _render_questions(request, follow_up, form, *, status=200, action=None, error=None):
    with translation.override(follow_up.language):
        response = render(request, "outcomes/answer.html", {
            "follow_up": follow_up, "form": form, "error": error, "action": action,
            "title": questionnaires.questionnaire(follow_up.respondent, follow_up.language)["title"]}, status=status)
        response.headers["Content-Language"] = follow_up.language
        return response


@never_cache
@require_http_methods(["GET", "POST"])
def answer_by_link(request):
    pk = request.session.get(SESSION_KEY)
    follow_up = FollowUp.objects.select_related("case").filter(pk=pk).first() if pk else None
    if follow_up is None:
        return redirect("outcomes:open")
    try:
        services.check_open(follow_up)
    except DomainError as exc:
        request.session.pop(SESSION_KEY, None)
        return render(request, "outcomes/open.html", {"form": CodeForm(), "error": exc}, status=exc.status)
    if request.method == "POST":
        return _take(request, follow_up, via="link", actor=None)
    return _render_questions(request, follow_up, FollowUpForm(respondent=follow_up.respondent))


def _take(request, follow_up, *, via: str, actor):
    form = FollowUpForm(request.POST, respondent=follow_up.respondent)
    try:
        services.answer(follow_up_id=follow_up.pk, data=request.POST, actor=actor, via=via)
    except DomainError as exc:
        with translation.override(follow_up.language):
            form.show_errors(exc.as_dict()["errors"] or {"__all__": [exc.message]})
            return _render_questions(request, follow_up, form, status=exc.status, error=exc)
    request.session.pop(SESSION_KEY, None)
    if via == "case_page":
        messages.success(request, _("Thank you: your answers are recorded."))
        return redirect("cases:detail", pk=follow_up.case_id)
    with translation.override(follow_up.language):
        return render(request, "outcomes/thanks.html", {"follow_up": follow_up})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def answer_on_case(request, pk):
    follow_up = FollowUp.objects.filter(pk=pk).first() if _uuid(pk) else None
    if follow_up is None:
        raise Http404
    try:
        get_case(request.user, follow_up.case_id, action="followup.read")
    except NotFound:
        raise Http404 from None
    if not authz.can("followup.answer", request.user, follow_up.case) or follow_up.respondent != "patient":
        raise Forbidden
    if request.method == "POST":
        return _take(request, follow_up, via="case_page", actor=request.user)
    due = follow_up.status == FollowUpStatus.SENT or (
        follow_up.status == FollowUpStatus.SCHEDULED and follow_up.due_at <= timezone.now())
    if not due or (follow_up.expires_at and follow_up.expires_at <= timezone.now()):
        messages.info(request, _("This questionnaire is not open now."))
        return redirect("cases:detail", pk=follow_up.case_id)
    return _render_questions(request, follow_up, FollowUpForm(respondent=follow_up.respondent),
                             action=request.path)


def _uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@login_required
@never_cache
def queue(request):
    if not authz.can("followup.queue", request.user):
        raise Forbidden
    wanted = request.GET.get("status", "")
    rows = selectors.queue_for(request.user)
    counts = {s: rows.filter(status=s).count() for s in FollowUpStatus.values}
    if wanted in FollowUpStatus.values:
        rows = rows.filter(status=wanted)
    rows = list(rows[:200])
    selectors.audit_queue(request.user, rows)
    statuses = [(value, label, counts[value]) for value, label in FollowUpStatus.choices]
    return render(request, "outcomes/queue.html", {"rows": rows, "wanted": wanted, "statuses": statuses})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def costs(request):
    if not authz.can("outcome.edit_costs", request.user):
        raise Forbidden
    entry = CostEntry.objects.filter(pk=request.GET.get("edit")).first() if _uuid(request.GET.get("edit", "")) \
        else None
    fields = ("code", "description", "amount", "currency", "source", "source_url", "year")
    form, status = CostForm(initial={f: getattr(entry, f) for f in fields} if entry else None), 200
    if request.method == "POST":
        form = CostForm(request.POST)
        try:
            services.save_cost(actor=request.user, data=request.POST, entry=entry)
        except DomainError as exc:
            form.show_errors(exc.as_dict()["errors"])
            status = exc.status
        else:
            messages.success(request, _("The cost table is saved."))
            return redirect("outcomes:costs")
    return render(request, "outcomes/costs.html", {"entries": CostEntry.objects.all(), "form": form,
                                                   "editing": entry}, status=status)


@login_required
@never_cache
def my_outcomes(request):
    if not authz.can("outcome.my_opinions", request.user):
        raise Forbidden
    rows = selectors.my_opinions(request.user)
    known = [o for _c, o in rows if o is not None and o.answers]
    summary = {
        "cases": len(rows), "with_answers": len(known),
        "plan_changed": sum(1 for o in known if o.plan_changed == "yes"),
        "avoided": sum(1 for o in known if o.procedure_avoided),
        "better": sum(1 for o in known if o.patient_status == "better"),
    }
    return render(request, "outcomes/mine.html", {"rows": rows, "summary": summary})


@login_required
@require_POST
def set_alternative(request, pk):
    try:
        case = get_case(request.user, pk, action="outcome.alternative", audit=False)
        services.set_alternative(actor=request.user, case=case, code=request.POST.get("alternative_code", ""))
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The outcome's cost estimate is updated."))
    return redirect("cases:detail", pk=pk)

