"""Template filters of the program pages: money from cents, suppressed counts."""

from django import template

from konsil.programs.enrolment import format_money

register = template.Library()


@register.filter
def money(cents, currency="USD"):
    try:
        return format_money(int(cents), currency or "USD")
    except (TypeError, ValueError):
        return "—"
