"""Template tags of the matching app: why nobody is eligible for a case, and the ways out."""

from __future__ import annotations

from django import template

from konsil.cases.choices import Status

register = template.Library()


@register.simple_tag(takes_context=True)
def nobody_eligible(context, case):
    """routing.explain for the case page (the page view audited the read)."""
    from ..routing import explain

    request = context.get("request")
    return explain(case, getattr(request, "user", None))


MATCHING_STATUSES = frozenset({Status.SUBMITTED, Status.TRIAGED})  # the case still waits for a match


@register.simple_tag
def routing_outcome(case):
    """What auto-routing last did with the case (None when it did not run); `settled` once the case has moved
    past matching, so that an old "needs a coordinator" no longer reads as a call to act."""
    from ..routing import latest_outcome

    found = latest_outcome(case)
    if found is not None:
        found["settled"] = case.status not in MATCHING_STATUSES
    return found
