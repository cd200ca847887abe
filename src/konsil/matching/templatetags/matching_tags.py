"""Template tags of the matching app: why nobody is eligible for a case, and the ways out."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def nobody_eligible(context, case):
    """routing.explain for the case page (the page view audited the read)."""
    from ..routing import explain

    request = context.get("request")
    return explain(case, getattr(request, "user", None))


@register.simple_tag
def routing_outcome(case):
    """What auto-routing last did with the case (None when it did not run)."""
    from ..routing import latest_outcome

    return latest_outcome(case)
