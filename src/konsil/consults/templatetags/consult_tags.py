"""The case page's consults panel (the case page includes it)."""

from django import template

from konsil.core import authz

from ..models import ConsultStatus, live_modes
from ..selectors import consult_list

register = template.Library()


@register.inclusion_tag("consults/_case_panel.html", takes_context=True)
def consults_panel(context, case):
    user = context["request"].user
    show = authz.can("consult.view", user, case)
    consults = consult_list(user, case) if show else []
    can_book = (authz.can("consult.book", user, case) and case.assigned_specialist_id is not None
                and bool(live_modes(case.assigned_specialist))  # no button to a page that can only say no
                and not any(c.status == ConsultStatus.BOOKED for c in consults))
    return {"show": show and (consults or can_book), "consults": consults, "can_book": can_book, "case": case}
