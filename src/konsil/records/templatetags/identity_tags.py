"""Records that may belong to another person, for the case page and the review screen: {% identity_flags case %}."""

from django import template

from konsil.cases import relations as rel
from konsil.core import authz

from .. import identity_check

register = template.Library()


@register.inclusion_tag("records/_identity_flags.html", takes_context=True)
def identity_flags(context, case):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or case is None or not getattr(case, "pk", None) \
            or not authz.can("case.view", user, case):
        return {"records": []}
    return {"records": identity_check.flagged(case), "case": case,
            "can_resolve": rel.COORDINATOR in rel.relations(user, case), "csrf_token": context.get("csrf_token")}
