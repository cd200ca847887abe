"""The prompt to answer clarifying questions, for the case page: {% triage_questions_prompt case %}."""

from django import template

from konsil.core import authz

from .. import permissions as _permissions  # noqa: F401  (registers the rules)

register = template.Library()


@register.inclusion_tag("triage/questions_prompt.html", takes_context=True)
def triage_questions_prompt(context, case):
    request = context.get("request")
    user = getattr(request, "user", None)
    waiting = None  # questions are asked of a submitted case only: no read for the others
    if user is not None and user.is_authenticated and getattr(case, "status", None) == "submitted" \
            and authz.can("case.answer_triage_questions", user, case):
        waiting = case.clarifications.filter(answered_at__isnull=True).order_by("-created_at").first()
    if waiting is None:
        return {"case": case, "waiting": False, "count": 0, "clinician": False}
    from ..clarify import for_clinician

    return {"case": case, "waiting": True, "count": len(waiting.questions), "clinician": for_clinician(user, case)}


@register.filter
def checklist_label(item):
    """A checklist item (stored dict or records request) in the active language: {{ item|checklist_label }}."""
    from ..completeness import label_for

    return label_for(item)


@register.inclusion_tag("triage/understood.html", takes_context=True)
def triage_understood(context, case):
    """For the patient's side: the words of theirs that triage understood, in the reader's language (the lines of
    the latest proposal that quote the patient, their diagnoses or their answers): {% triage_understood case %}."""
    from ..reasons import PATIENT_KEYS, render
    from ..services import latest_proposal

    request = context.get("request")
    user = getattr(request, "user", None)
    lines = []
    if user is not None and user.is_authenticated and case is not None and getattr(case, "pk", None) \
            and authz.can("case.view_triage_understood", user, case):
        proposal = latest_proposal(case)
        lines = render(proposal, keys=PATIENT_KEYS, for_patient=True) if proposal is not None else []
    # "A coordinator checks this" holds until a specialist is chosen; after that it would read as still pending
    choosing = case is not None and getattr(case, "status", "") in ("submitted", "triaged")
    on_behalf = bool(lines) and getattr(user, "pk", None) != case.patient.user_id  # a clinician or a caregiver
    return {"case": case, "lines": lines, "choosing": choosing, "on_behalf": on_behalf}
