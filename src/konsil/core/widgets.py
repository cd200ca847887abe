"""Form widgets shared by the apps' forms."""

from __future__ import annotations

from django import forms


class DateInput(forms.DateInput):
    """A browser date picker. Its value is always written YYYY-MM-DD, as the HTML standard requires: a date
    localized for the page ("12/04/1968" in Spanish) is refused by the browser, and the field shows empty."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")
