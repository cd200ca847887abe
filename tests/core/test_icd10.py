"""ICD-10-CM codes through simple-icd-10-cm: validity, normal form, names, position."""

from __future__ import annotations

import pytest

from konsil.core import icd10


@pytest.mark.parametrize("code", ["C50.911", "c50911", " I25.10 ", "I25", "M54.16", "S52.521A", "C4A.0",
                                  "Z99.89"])
def test_valid_codes(code):
    assert icd10.is_valid(code)


@pytest.mark.parametrize("code", ["", None, "XYZ", "C50.", "C50-C50", "2", "I25.1000", "I2510X", "C50.9111",
                                  "not a code", "C50;DROP TABLE", "Q99.999"])
def test_invalid_codes(code):
    assert not icd10.is_valid(code)


@pytest.mark.parametrize(("raw", "normal"), [("c50911", "C50.911"), ("C50.911", "C50.911"),
                                             (" i2510 ", "I25.10"), ("I25", "I25"), ("bogus", "BOGUS")])
def test_normalize(raw, normal):
    assert icd10.normalize(raw) == normal


def test_describe():
    assert "breast" in icd10.describe("C50.911").lower()
    assert "atherosclerotic" in icd10.describe("I25.10").lower()
    assert icd10.describe("NOPE") == ""


def test_chapter_block_and_ancestors():
    assert icd10.chapter_and_block("I25.10") == ("9", "I20-I25")
    assert icd10.chapter_and_block("C50.911") == ("2", "C50")
    assert "C50" in icd10.ancestors("C50.911")


def test_tabular_index_follows_the_tabular_list():
    assert icd10.tabular_index("C43") < icd10.tabular_index("C4A") < icd10.tabular_index("C44")
    assert icd10.tabular_index("c4a") == icd10.tabular_index("C4A")
    assert icd10.tabular_index("NOPE") is None
    assert icd10.tabular_index("") is None
