"""The report's plain-words summary follows what the specialist wrote: "further tests: none" is not a
recommendation of more tests."""

from __future__ import annotations

import pytest

from konsil.opinions.models import DiagnosisVerdict, Opinion, TreatmentVerdict
from konsil.opinions.report import plain_summary

MORE = "The specialist recommends more tests (listed below)."


def _opinion(tests: str) -> Opinion:
    return Opinion(diagnosis_verdict=DiagnosisVerdict.CONFIRMED, treatment_verdict=TreatmentVerdict.AGAINST,
                   further_tests=tests)


@pytest.mark.parametrize("tests", [
    "None needed now.", "No further tests are needed.", "Not needed", "N/A", "no", "Ninguna por ahora.",
    "No se necesitan más pruebas.", "追加の検査は必要ありません。", "特になし", "不要です",
])
def test_no_tests_written_as_none_says_nothing_about_tests(tests):
    lines = plain_summary(_opinion(tests), "")
    assert MORE not in lines and "The specialist agrees with your diagnosis." in lines


@pytest.mark.parametrize("tests", [
    "MRI of the right knee.", "No-contrast CT of the chest.", "Noninvasive stress test.", "CT-guided biopsy; PET-CT.",
    "膝のMRIを勧めます。手術は不要かもしれません。",
])
def test_tests_that_are_recommended_are_said(tests):
    assert MORE in plain_summary(_opinion(tests), "")


def test_no_tests_field_no_line():
    assert MORE not in plain_summary(_opinion(""), "")
