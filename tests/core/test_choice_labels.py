"""get_<field>_display keeps Django's behaviour (the label in the active language, the raw value when it is no
choice) with its value-to-label map built once per field."""

from __future__ import annotations

import pytest
from django.utils import translation

from konsil.cases.choices import Status
from konsil.core import models as core_models

pytestmark = pytest.mark.django_db


def test_labels_follow_the_active_language_and_unknown_values_pass_through(draft_case):
    draft_case.status = Status.SUBMITTED
    with translation.override("en"):
        english = draft_case.get_status_display()
    with translation.override("es"):
        spanish, expected = draft_case.get_status_display(), str(Status.SUBMITTED.label)
    assert english == "Submitted" and spanish == expected and spanish != english
    draft_case.status = "no-such-status"
    assert draft_case.get_status_display() == "no-such-status"
    field = type(draft_case)._meta.get_field("status")
    assert set(core_models._CHOICE_LABELS[field]) == set(Status.values)  # built once, reused
