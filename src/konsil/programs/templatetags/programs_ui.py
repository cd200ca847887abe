"""Template filters of the program pages: money from cents, suppressed counts."""

from django import template
from django.utils.translation import gettext as _

from konsil.programs.dashboard import HIDDEN, SUPPRESSED
from konsil.programs.enrolment import format_money

register = template.Library()


@register.filter
def money(cents, currency="USD"):
    try:
        return format_money(int(cents), currency or "USD")
    except (TypeError, ValueError):
        return "—"


@register.filter
def figure_value(figure) -> str:
    """A dashboard figure as the page shows it: a suppressed count reads "fewer than 11" (as in analytics), a
    suppressed share or median "hidden: fewer than 11 cases" (never to be read as 11 days); the CSV and the API
    keep "<11"."""
    if figure.value == HIDDEN:
        return _("hidden (it would reveal a smaller count)")
    if figure.value == SUPPRESSED:
        return _("hidden: fewer than 11 cases") if figure.over_cases else _("fewer than 11")
    return str(figure.value)
