"""The patient's prompt to answer clarifying questions, for the case page: {% triage_questions_prompt case %}."""

from django import template

from konsil.core import authz

from .. import permissions as _permissions  # noqa: F401  (registers the rules)

register = template.Library()


@register.inclusion_tag("triage/questions_prompt.html", takes_context=True)
def triage_questions_prompt(context, case):
    request = context.get("request")
    user = getattr(request, "user", None)
    waiting = None
    if user is not None and user.is_authenticated and case is not None and getattr(case, "pk", None) \
            and authz.can("case.answer_triage_questions", user, case):
        waiting = case.clarifications.filter(answered_at__isnull=True).order_by("-created_at").first()
    return {"case": case, "waiting": waiting is not None and case.status == "submitted",
            "count": len(waiting.questions) if waiting else 0}


@register.filter
def checklist_label(item):
    """A checklist item (stored dict or records request) in the active language: {{ item|checklist_label }}."""
    from ..completeness import label_for

    return label_for(item)
