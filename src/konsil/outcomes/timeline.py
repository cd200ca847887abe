"""The case timeline's follow-up steps (questionnaire sent, answered, no response) and the outcome record's last
update, for those who may see the case's outcome. Minimum necessary: no e-mail addresses, no answers' text."""

from __future__ import annotations

from django.utils.text import capfirst
from django.utils.translation import gettext as _

from konsil.consults.timeline import Event
from konsil.core import authz

from .models import FollowUp, FollowUpStatus, Outcome
from .selectors import of_case


def _follow_up_events(follow_up: FollowUp) -> list[Event]:
    detail = _("Day %(day)d · %(respondent)s") % {"day": follow_up.day,
                                                   "respondent": follow_up.get_respondent_display()}
    events = []
    if follow_up.sent_at:
        events.append(Event(follow_up.sent_at, _("Follow-up questionnaire sent"), "followup.sent", detail=detail))
    if follow_up.status == FollowUpStatus.ANSWERED and follow_up.answered_at:
        events.append(Event(follow_up.answered_at, _("Follow-up questionnaire answered"), "followup.answered",
                            detail=detail))
    if follow_up.status == FollowUpStatus.NO_RESPONSE and follow_up.closed_at:
        events.append(Event(follow_up.closed_at, _("No answer to the follow-up questionnaire"),
                            "followup.no_response", detail=detail))
    return events


def entries(user, case) -> list[Event]:
    """Follow-up steps and the outcome's last update, or nothing when the user may not see the outcome."""
    if not authz.can("outcome.view", user, case):
        return []
    events: list[Event] = []
    follow_ups, outcome = of_case(case)
    for follow_up in follow_ups:
        events += _follow_up_events(follow_up)
    if outcome is not None and outcome.last_answer_at is not None:
        field = Outcome._meta.get_field
        detail = (f"{capfirst(field('plan_changed').verbose_name)}: {outcome.get_plan_changed_display()} · "
                  f"{capfirst(field('procedure_status').verbose_name)}: {outcome.get_procedure_status_display()}")
        events.append(Event(outcome.last_answer_at, _("Outcome updated"), "outcome.updated", detail=detail))
    return events
