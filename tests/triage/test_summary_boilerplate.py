"""Summaries never list signature lines, page headers, demographics or dates alone as problems or history."""

from __future__ import annotations

import pytest

from konsil.triage import summary

LETTER = """Patient: Margaret Holloway   DOB: 04/12/1966
MRN: 00123456
Page 1 of 3
HISTORY OF PRESENT ILLNESS: 58-year-old woman referred for a second opinion on a left breast mass.
IMPRESSION: Invasive ductal carcinoma of the left breast, clinical stage IIA.
Signed: Dr. A.
ASSESSMENT:
1. Hypertension.
2. Electronically signed by Jane Smith, MD on 03/02/2024 10:15
3. 03/02/2024
Dr. Alan Smith, MD
Page 2 of 3
Date of service: 01/02/2024
CONFIDENTIAL: this document contains protected health information.
"""


def everything(out):
    return [item["text"] for items in out.values() for item in items]


def test_boilerplate_is_never_a_problem_or_history():
    out = summary.extract([{"ref": "attachment:1", "kind": "record", "text": LETTER}])
    assert [i["text"] for i in out["problems"]] == [
        "Invasive ductal carcinoma of the left breast, clinical stage IIA.", "Hypertension."]
    assert any("58-year-old woman" in t for t in everything(out))
    for text in everything(out):
        for word in ("Signed", "signed", "Page", "Holloway", "DOB", "MRN", "03/02/2024", "Dr. A", "CONFIDENTIAL",
                     "Date of service"):
            assert word not in text


@pytest.mark.parametrize("line", [
    "Signed: Dr. A.", "Electronically signed by Jane Smith, MD", "Page 1 of 3", "Patient: Rosa Diaz", "DOB: 1/2/1960",
    "Date of birth: 2 March 1966", "MRN: 123", "03/02/2024", "2024-03-02", "March 2, 2024", "Dictated by: J. Doe",
    "Dr. Alan Smith, MD", "cc: Dr. Jones", "Page 2", "Attending: Dr. Who", "Reviewed and signed on 3/2/24",
])
def test_boilerplate_lines(line):
    assert summary.boilerplate(line)


@pytest.mark.parametrize("line", [
    "Hypertension.", "Invasive ductal carcinoma of the left breast.", "Status post right mastectomy in 2019.",
    "Patient presents with chest pain.", "Hemoglobin 12.1 g/dL.", "Signs of heart failure on exam.",
    "Dr. Smith recommended a lumpectomy followed by radiation.", "Metformin 500 mg twice daily.",
])
def test_clinical_lines_are_kept(line):
    assert not summary.boilerplate(line)


def test_signature_in_a_problem_list_is_dropped_but_the_problems_stay():
    text = "DIAGNOSES:\n1. Type 2 diabetes.\n2. Signed: Dr. A.\n3. Chronic kidney disease stage 3."
    out = summary.extract([{"ref": "r", "kind": "record", "text": text}])
    assert [i["text"] for i in out["problems"]] == ["Type 2 diabetes.", "Chronic kidney disease stage 3."]
