"""The page of clarifying questions: the patient's side answers one to three short questions (a referring clinician
about their patient), then triage runs again."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from konsil.cases.api import audit_read
from konsil.cases.selectors import get_case
from konsil.core import authz
from konsil.core.errors import DomainError, NotFound

from . import clarify
from . import permissions as _permissions  # noqa: F401  (registers the rules)
from .services import answer_questions


@login_required
def questions(request, pk):
    try:
        case = get_case(request.user, pk, action="triage.questions_page", audit=False)
    except NotFound:
        raise Http404 from None
    allowed = authz.can("case.view_triage_questions", request.user, case)
    audit_read(request, case, "triage.questions_page", allowed=allowed)
    if not allowed:
        raise Http404
    can_answer = authz.can("case.answer_triage_questions", request.user, case)
    clinician = clarify.for_clinician(request.user, case)
    language = translation.get_language() or "en"
    language = language.split("-")[0] if language.split("-")[0] in clarify.LANGUAGES else "en"
    clarification = case.clarifications.order_by("-created_at").first()
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        if not can_answer:
            raise Http404
        answers = {key[len("q_"):]: value for key, value in request.POST.items() if key.startswith("q_")}
        try:
            answer_questions(actor=request.user, case=case, answers=answers, note=request.POST.get("note", ""))
        except DomainError as exc:
            errors = exc.as_dict()["errors"] or {"form": [str(exc.message)]}
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, _("Thank you. Your answers were saved and the case is being looked at again.")
                             if clinician else
                             _("Thank you. Your answers were saved and your case is being looked at again."))
            return redirect("cases:detail", pk=case.pk)
    shown = clarify.view(clarification, language, clinician=clinician)
    for question in shown["questions"]:
        question["errors"] = errors.get(f"answers.{question['code']}", [])
        if request.method == "POST":
            question["answer"] = request.POST.get(f"q_{question['code']}", "")
    return render(request, "triage/questions.html", {
        "case": case, "clarification": shown, "errors": errors, "clinician": clinician,
        # answers are taken while the case waits in triage (services.answer_questions); after that, no form
        "can_answer": can_answer and shown["status"] == "open" and case.status == "submitted",
        "moved_on": shown["status"] == "open" and case.status != "submitted",
        "note": request.POST.get("note", "") if request.method == "POST" else shown["note"],
    }, status=status)


@login_required
@require_POST
def record_identity(request, pk):
    """A coordinator settles a record flagged as another person's: keep it (same person) or remove it."""
    from konsil.cases.models import Attachment
    from konsil.records import identity_check

    attachment = Attachment.objects.select_related("case").filter(pk=pk).first()
    if attachment is None:
        raise Http404
    try:
        case = get_case(request.user, attachment.case_id, action="records.identity_page", audit=False)
    except NotFound:
        raise Http404 from None
    action = request.POST.get("action")
    try:
        if action == "confirm":
            identity_check.confirm(actor=request.user, attachment=attachment)
            messages.success(request, _("The record was kept as this patient's."))
        elif action == "remove":
            identity_check.remove(actor=request.user, attachment=attachment)
            messages.success(request, _("The record was removed from the case."))
        else:
            messages.error(request, _("Choose to keep or to remove the record."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("cases:detail", pk=case.pk)
