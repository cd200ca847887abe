"""The form renderer (settings.FORM_RENDERER): Django's widget templates, with the select widget written in Python.

Django renders a select through select.html, which includes select_option.html and attrs.html once per option: a
list of 60 specialties or 50 states costs a few milliseconds a field on the case page and the queue. Here the same
markup (tests/core/test_renderers.py compares it with the templates) is written directly; a select with anything
unusual (an option template of its own, a label that is neither text nor a translation) goes to the templates.
"""

from __future__ import annotations

from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData, mark_safe

SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"


class _Unusual(Exception):
    """The select needs the templates."""


def _text(value) -> str:
    """`{{ value }}` of a text under autoescape."""
    if not isinstance(value, (str, Promise)):
        raise _Unusual
    return conditional_escape(value)


def _formatted(value) -> str:
    """`{{ value|stringformat:'s' }}` under autoescape."""
    if isinstance(value, tuple):
        value = str(value)
    try:
        text = "%s" % value  # noqa: UP031 - the filter's own formatting
    except (ValueError, TypeError):
        return ""
    return text if isinstance(value, SafeData) else escape(text)


def _attrs(attrs: dict) -> str:
    """attrs.html."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"')
    return "".join(out)


def select_html(widget: dict) -> str:
    """select.html with select_option.html for its options (_Unusual when they do not apply)."""
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            if option.get("template_name") != OPTION:
                raise _Unusual
            parts.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_text(option['label'])}</option>\n"
            )  # the option template ends with a newline
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


class FormRenderer(DjangoTemplates):
    """Django's template renderer; selects written in Python."""

    def render(self, template_name, context, request=None):
        if template_name == SELECT and "widget" in context:
            try:
                return mark_safe(select_html(context["widget"]))  # noqa: S308 - every value escaped above
            except (_Unusual, KeyError, TypeError):
                pass
        return super().render(template_name, context, request=request)
