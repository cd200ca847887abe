"""Code suggestions do not join a polarity word of one clause to the finding of another (#9 journey)."""

from konsil.core import icd10


def codes(text):
    return {s["code"] for s in icd10.suggest(text, limit=10)}


def test_receptor_positive_her2_negative_is_not_receptor_negative():
    found = codes("The biopsy showed invasive ductal carcinoma, 2 cm, hormone receptor positive, HER2 negative.")
    assert "Z17.41" in found and "Z17.42" not in found


def test_receptor_negative_in_its_own_clause_is_found():
    assert "Z17.42" in codes("Triple negative: hormone receptor negative and HER2 negative.")
