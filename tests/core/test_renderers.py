"""The form renderer writes selects in Python: the markup is the templates' own, byte for byte."""

from __future__ import annotations

import uuid

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from konsil.cases.forms import QueueFilterForm
from konsil.core.renderers import FormRenderer

FAST, TEMPLATES = FormRenderer(), DjangoTemplates()

CHOICES = [
    ("", "—"),
    ("a&b", 'Tom & "Jerry" <x>'),
    (1, gettext_lazy("Patient")),
    (uuid.UUID(int=7), "Seven"),
    ("safe", mark_safe("<b>safe</b>")),
    (("t", 1), "tuple value"),
]
GROUPED = [
    ("Heart", [("cardiology", "Cardiology"), ("ep", "Electrophysiology")]),
    ("x", "Ungrouped <y>"),
    ("", [("z", "empty group")]),
]


def both(widget: forms.Widget, value, attrs=None) -> tuple[str, str]:
    return (
        widget.render("field", value, attrs=attrs, renderer=FAST),
        widget.render("field", value, attrs=attrs, renderer=TEMPLATES),
    )


@pytest.mark.parametrize(
    ("widget", "value", "attrs"),
    [
        (forms.Select(choices=CHOICES), "a&b", None),
        (forms.Select(choices=CHOICES), None, {"aria-describedby": "x_helptext", "aria-invalid": "true"}),
        (forms.Select(choices=CHOICES, attrs={"required": True, "disabled": False, "data-n": 3}), 1, {"id": "i<d"}),
        (forms.Select(choices=GROUPED), "ep", None),
        (forms.SelectMultiple(choices=CHOICES), ["a&b", "safe"], None),
        (forms.NullBooleanSelect(), True, None),
        (forms.Select(choices=[]), "", None),
    ],
)
def test_select_markup_is_the_templates(widget, value, attrs):
    fast, templated = both(widget, value, attrs)
    assert fast == templated


def test_a_real_form_renders_the_same(db):
    fast, templated = (QueueFilterForm({"status": "submitted"}, specialties=[], renderer=r) for r in (FAST, TEMPLATES))
    for name in fast.fields:
        assert str(fast[name]) == str(templated[name]), name
    assert "<option" in str(fast["status"])


def test_unusual_selects_go_to_the_templates():
    class OwnOption(forms.Select):
        option_template_name = "django/forms/widgets/input_option.html"

    widget = OwnOption(choices=[("a", "A")])
    assert both(widget, "a")[0] == both(widget, "a")[1]
    numbers = forms.Select(choices=[(1, 1000), (2, 2.5)])  # labels that are not text: localized by the templates
    assert both(numbers, 1)[0] == both(numbers, 1)[1]


def test_the_site_uses_it(settings):
    assert settings.FORM_RENDERER == "konsil.core.renderers.FormRenderer"
