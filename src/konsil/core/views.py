"""The home page: patients, caregivers and referring clinicians see what happens next on each case; the other
roles are sent to the place their work is (queue, workspace, trail, Konsil's own admin pages, program)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from konsil.accounts.roles import Role
from konsil.core import authz

# Who acts next, in words.
YOU = gettext_lazy("You")
CARE_TEAM = gettext_lazy("Our care team")
SPECIALIST = gettext_lazy("The specialist")
NOBODY = gettext_lazy("Nobody: this case is finished")


@dataclass
class NextStep:
    """What the person sees for one case: where it is, what comes next, who acts, by when, and the one action."""

    case: object
    status_text: str
    next_text: str
    who: str
    expected: datetime | None
    expected_label: str
    action_label: str
    action_url: str
    action_icon: str
    primary: bool  # the action is what this person most likely came for
    done: bool = False


def _url(name: str, case, **kwargs) -> str:
    return reverse(name, kwargs={"pk": case.pk, **kwargs})


def next_step(case, now=None, *, on_behalf: bool = False) -> NextStep:
    """The next step of a case for the patient's side, with the expected date from the offer window and SLAs;
    `on_behalf`: worded for someone acting for the patient (a referring clinician, a caregiver), not as them."""
    from konsil.cases import offers, sla
    from konsil.cases.choices import Status

    def said(yours, theirs):
        return theirs if on_behalf else yours

    now = now or timezone.now()
    status = case.status
    detail = _url("cases:detail", case)
    review = sla.review_window(case.urgency)
    open_url, open_label = detail, said(_("Follow your case"), _("Follow the case"))
    if status == Status.DRAFT:
        return NextStep(case, _("Not sent yet"), said(_("Finish your request and send it."),
                                                      _("Finish the request and send it.")), YOU, None, "",
                        said(_("Continue your request"), _("Continue the request")),
                        _url("cases:intake", case, step=case.wizard_step or 1), "pen-line", True)
    if status in (Status.SUBMITTED, Status.TRIAGED):
        text = (said(_("A care coordinator checks your request and chooses the right specialty."),
                     _("A care coordinator checks the request and chooses the right specialty."))
                if status == Status.SUBMITTED else
                said(_("We are finding a specialist licensed where you live who fits your case."),
                     _("We are finding a specialist licensed where the patient lives who fits the case.")))
        expected = (case.submitted_at or now) + offers.window(case.urgency) + review
        return NextStep(case, _("Received") if status == Status.SUBMITTED
                        else said(_("Finding your specialist"), _("Finding a specialist")),
                        text, CARE_TEAM, max(expected, now), _("Opinion expected by"), open_label, open_url,
                        "arrow-right", False)
    if status == Status.OFFERED:
        offer = case.offers.filter(status="pending").order_by("-created_at").first()
        answer_by = offer.expires_at if offer and offer.expires_at else now + offers.window(case.urgency)
        return NextStep(case, _("Offered to a specialist"),
                        said(_("A specialist is deciding whether to take your case."),
                             _("A specialist is deciding whether to take the case.")), SPECIALIST,
                        max(answer_by, now) + review, _("Opinion expected by"), open_label, open_url,
                        "arrow-right", False)
    if status == Status.INFO_REQUESTED:
        return NextStep(case, _("Waiting for you"), _("The specialist needs more information from you."), YOU,
                        case.review_due_at, _("Opinion expected by"), _("Answer the specialist"),
                        detail + "#action-provide_info", "message-square", True)
    if status in (Status.ACCEPTED, Status.IN_REVIEW, Status.OPINION_DRAFTED):
        text = (_("The specialist is writing the opinion.") if status == Status.OPINION_DRAFTED
                else said(_("The specialist is reviewing your records."),
                          _("The specialist is reviewing the patient's records.")))
        return NextStep(case, _("In review"), text, SPECIALIST, case.review_due_at or now + review,
                        _("Opinion expected by"), open_label, open_url, "arrow-right", False)
    if status == Status.SIGNED:
        return NextStep(case, _("Opinion signed"), _("Our care team is sending you the report."), CARE_TEAM,
                        now + min(review, sla.review_window("urgent")), _("Report expected by"), open_label,
                        open_url, "arrow-right", False)
    if status == Status.DELIVERED:
        return NextStep(case, _("Report ready"),
                        said(_("Your second opinion is ready to read."), _("The second opinion is ready to read.")),
                        YOU, case.delivered_at,
                        _("Delivered on"), _("Read the report"), _url("opinions:report", case), "file-text", True)
    if status == Status.CLOSED:  # nothing left to do: the report stays there to read
        return NextStep(case, _("Closed"), said(_("Your case is closed. Your report stays here to read."),
                                                _("The case is closed. The report stays here to read.")),
                        NOBODY, case.delivered_at, _("Delivered on"), _("Read the report"),
                        _url("opinions:report", case), "file-text", False, done=True)
    label = _("Cancelled") if status == Status.CANCELLED else _("Withdrawn")
    return NextStep(case, label, _("This request was stopped. You can start a new one at any time."), NOBODY,
                    None, "", _("See the case"), detail, "eye", False, done=True)


def _patient_home(request):
    from konsil.cases import selectors

    user = request.user
    cases = list(selectors.own_cases_for(user).order_by("-updated_at")[:20])
    selectors.audit_list(user, cases)
    steps = [next_step(case, on_behalf=case.patient.user_id != user.pk) for case in cases]
    active = [s for s in steps if not s.done]
    finished = [s for s in steps if s.done]
    active.sort(key=lambda s: (not s.primary, s.expected is None, s.expected or timezone.now()))
    return render(request, "core/home_patient.html", {
        "active": active, "finished": finished, "can_create": authz.can("case.create", user),
    })


@login_required
def home(request):
    user = request.user
    if user.has_role(Role.COORDINATOR):
        return redirect("cases:queue")
    if user.has_role(Role.SPECIALIST, Role.PANEL_CHAIR):
        return redirect("opinions:workspace")
    if user.has_role(Role.AUDITOR):
        return redirect("audit:trail")
    if user.has_role(Role.ORG_ADMIN):
        return redirect("accounts:manage_users")
    if user.has_role(Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN):
        return redirect("cases:program")
    if user.has_role(Role.PATIENT, Role.CAREGIVER, Role.REFERRING_CLINICIAN) or not user.is_superuser:
        return _patient_home(request)
    return redirect("admin:index")


def not_found(request, exception=None):
    """The site's 404 page. A case page a clinician cannot see offers emergency access when they may take it
    (cases.emergency_views.HiddenCase); to anyone else it reads like any missing page."""
    if request.path.startswith("/api/"):  # an API address that matches no route: the API's JSON error body
        return JsonResponse({"code": "not_found", "detail": _("Not found."), "errors": {}}, status=404)
    return render(request, "404.html", {"break_glass_url": getattr(exception, "break_glass_url", "")}, status=404)
