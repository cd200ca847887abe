"""The case lists: the patient's own cases, the coordinator's queue, notifications, and the payer and employer
programs' cases (status and counts, no clinical content)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, F
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from konsil.accounts.roles import Role
from konsil.core import authz
from konsil.matching import selectors as matching
from konsil.records import selectors as records_selectors
from konsil.triage import selectors as triage_selectors

from . import selectors, services, sla
from .choices import IN_WORK_STATUSES, OPEN_STATUSES, Status
from .forms import ALL, IN_WORK, OPEN, QueueFilterForm
from .notify import path_for, text_for


def _page(request, queryset, per_page: int):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


# --- my cases -----------------------------------------------------------------------------------------------

@login_required
def mine(request):
    """The cases the user asked for: as patient, caregiver or referring clinician."""
    user = request.user
    page = _page(request, selectors.own_cases_for(user), 25)
    selectors.audit_list(user, page.object_list)
    return render(request, "cases/mine.html", {"page": page, "can_create": authz.can("case.create", user),
                                               "can_invite": user.has_role(Role.PATIENT)})


# --- coordinator queue --------------------------------------------------------------------------------------

GROUPS = {IN_WORK: IN_WORK_STATUSES, OPEN: OPEN_STATUSES}  # the queue's filters that name several statuses


@login_required
def queue(request):
    """The coordinator's cases: counts per status, filters; at first the cases in work (delivered ones wait for
    the patient, not the care team: "Open" adds them, after every case in work), STAT and urgent first, oldest
    submission first."""
    user = request.user
    authz.require_page("queue.view", user)
    specialties = list(matching.specialties())
    form = QueueFilterForm(request.GET or None, specialties=specialties)
    qs = selectors.coordinated_cases(user)
    chosen = form.cleaned_data if form.is_bound and form.is_valid() else {}
    status = chosen.get("status") or IN_WORK
    counts = selectors.queue_counts(user)
    totals = {group: sum(n for s, n in counts.items() if s in statuses) for group, statuses in GROUPS.items()}
    if status in GROUPS:
        qs = qs.filter(status__in=GROUPS[status])
    elif status != ALL:
        qs = qs.filter(status=status)
    if chosen.get("urgency"):
        qs = qs.filter(urgency=chosen["urgency"])
    if chosen.get("specialty"):
        qs = qs.filter(specialty_id=chosen["specialty"])
    if chosen.get("q"):
        qs = qs.filter(reference__icontains=chosen["q"].strip())
    cases = selectors.for_queue(selectors.in_queue_order(qs))
    if status in GROUPS and not any(chosen.get(name) for name in ("urgency", "specialty", "q")):
        # the queue as it opens: its size is already counted, its first page a prepared read
        cases = selectors.QueueList(user, GROUPS[status], totals[status], cases)
    page = _page(request, cases, selectors.QUEUE_PAGE)
    alerts = sla.queue_alerts(user)
    listed = {c.pk for c in page.object_list}
    selectors.audit_list(user, [*page.object_list, *(c for c in alerts.cases if c.pk not in listed)])
    statuses = [(value, label, counts.get(value, 0)) for value, label in Status.choices]
    return render(request, "cases/queue.html", {
        "page": page, "form": form, "statuses": statuses, "totals": totals, "current_status": status,
        "triage_accuracy": triage_selectors.recent_accuracy(user),
        "overdue_requests": records_selectors.overdue_for_coordinator(user),
        "alerts": alerts,
    })


# --- notifications ------------------------------------------------------------------------------------------

@login_required
def notifications(request):
    """The user's notifications in the reader's language; POST marks them all read."""
    user = request.user
    if request.method == "POST":
        count = services.mark_notifications_read(actor=user)
        messages.success(request, _("%(n)d notifications marked as read.") % {"n": count})
        return redirect("cases:notifications")
    page = _page(request, selectors.notifications_for(user), 30)
    for item in page.object_list:
        item.text = text_for(item.kind, item.case.reference if item.case else "")
        # the page the e-mail links to as well, through notification_open so that opening it marks it read
        item.link = path_for(item.kind, item.case_id) and reverse("cases:notification_open", kwargs={"pk": item.pk})
    return render(request, "cases/notifications.html", {"page": page})


@login_required
def notification_open(request, pk):
    """Open one of the user's notifications: marked read, then its page (back to the list when it has none)."""
    item = get_object_or_404(request.user.notifications.only("id", "kind", "case_id", "read_at"), pk=pk)
    if item.read_at is None:
        services.mark_notifications_read(actor=request.user, ids=[item.pk])
    return redirect(path_for(item.kind, item.case_id) or "cases:notifications")


# --- payer and employer programs ----------------------------------------------------------------------------

@login_required
def program(request):
    """Payer and employer admins: their programs' submitted cases (`sponsored_cases_for`: no drafts), counts by
    status and by program (each program's dashboard counts the same cases); no clinical content."""
    user = request.user
    authz.require_page("program.view", user)
    cases = selectors.sponsored_cases_for(user).select_related("sponsor").annotate(
        program_pk=F("enrollment__program"), program_name=F("enrollment__program__name")).order_by("-created_at")
    counts = dict(cases.order_by().values_list("status").annotate(n=Count("id")))
    by_program = (cases.order_by().values("sponsor__name", "program_pk", "program_name").annotate(n=Count("id"))
                  .order_by("sponsor__name", "program_name"))
    page = _page(request, cases, 50)
    selectors.audit_list(user, page.object_list, action="case.list_status")
    statuses = [(label, counts[value]) for value, label in Status.choices if counts.get(value)]
    return render(request, "cases/program.html", {"page": page, "statuses": statuses, "by_program": by_program,
                                                  "total": sum(counts.values())})
