"""The case page's outcome panel: the outcome record, the follow-ups and the patient's open questionnaire."""

from django import template

from konsil.cases import relations as rel
from konsil.core import authz

from ..forms import AlternativeForm
from ..models import FollowUpStatus
from ..selectors import of_case

register = template.Library()


@register.inclusion_tag("outcomes/_case_panel.html", takes_context=True)
def outcome_panel(context, case):
    from django.utils import timezone

    user = context["request"].user
    if not authz.can("outcome.view", user, case):
        return {"show": False}
    follow_ups, outcome = of_case(case)
    now = timezone.now()
    open_for_me = [f for f in follow_ups if f.respondent == "patient" and authz.can("followup.answer", user, case)
                   and (f.status == FollowUpStatus.SENT or (f.status == FollowUpStatus.SCHEDULED and f.due_at <= now))
                   and (f.expires_at is None or f.expires_at > now)]
    is_coordinator = rel.COORDINATOR in rel.relations(user, case)
    return {"show": bool(follow_ups or outcome), "case": case, "outcome": outcome, "follow_ups": follow_ups,
            "open_for_me": open_for_me[0] if open_for_me else None, "is_coordinator": is_coordinator,
            "alternative_form": AlternativeForm(initial={"alternative_code": outcome.alternative_code if outcome
                                                         else ""}) if is_coordinator else None}
