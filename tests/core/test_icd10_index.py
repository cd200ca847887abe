"""suggest() reads the codes filed under a text's words; it finds exactly the codes a scan of the whole
index finds (every content word of the title in the text, two words or more)."""

from __future__ import annotations

import random

from konsil.core import icd10


def scanned(text: str) -> set[str]:
    have = set(icd10._words(icd10.expand(text))) - icd10._STOP
    return {code for code, title, _text, content in icd10._index()
            if len(content) >= 2 and icd10.need_of(title, content).met(have)}


def indexed(text: str) -> set[str]:
    have = set(icd10._words(icd10.expand(text))) - icd10._STOP
    return {code for word in have for code, _title, need in icd10._suggest_index().get(word, ())
            if need.met(have)}


def test_the_word_index_finds_what_the_scan_finds():
    titles = [row[1] for row in icd10._index()]
    rnd = random.Random(11)
    texts = ["Chest pain walking uphill. Do I need a stent?", "breast cancer, hormone receptor positive, HER2 negative",
             "adenocarcinoma of the lung", "candidiasis of the vagina",
             "type 2 diabetes mellitus with diabetic chronic kidney disease", "",
             *(" ".join(rnd.sample(titles, 3)) for _ in range(60))]
    for text in texts:
        assert indexed(text) == scanned(text), text
    assert sum(len(rows) for rows in icd10._suggest_index().values()) == sum(
        1 for row in icd10._index() if len(row[3]) >= 2)  # every code filed once


def test_suggest_names_codes_from_plain_words():
    codes = [s["code"] for s in icd10.suggest("malignant neoplasm of upper-outer quadrant of left female breast")]
    assert codes and all(code.startswith("C50") for code in codes[:1])


def test_a_suggestion_quotes_the_words_of_the_text_it_came_from():
    """What a patient reads next to "from the patient's words" is what they wrote, not the code's wording."""
    found = {s["code"]: s["matched"] for s in icd10.suggest("breast cancer in my right breast, found on a mammogram")}
    assert found["C50"] == "breast cancer"  # the plain words, once; not "breast malignant neoplasm"
    found = {s["code"]: s["matched"] for s in icd10.suggest(
        "The biopsy showed invasive ductal carcinoma, hormone receptor positive, HER2 negative.")}
    assert found["Z17.41"] == "hormone receptor positive"
    codes = icd10.suggest("Ｂｒｅａｓｔ cancer; İstanbul trip, malignant neoplasm of breast " * 40)  # odd Unicode, long
    assert all(len(s["matched"]) < 200 for s in codes)


def test_a_title_naming_two_sites_needs_one_of_them():
    """"Malignant neoplasm of bronchus and lung" is a lung cancer (C34): nobody writes "bronchus" as well."""
    for text in ("Lung cancer in the right upper lobe.", "Biopsy: malignant neoplasm of the left lung."):
        codes = [s["code"] for s in icd10.suggest(text)]
        assert codes and codes[0] == "C34", (text, codes)
    found = {s["code"]: s["matched"] for s in icd10.suggest("Lung cancer in the right upper lobe.")}
    assert "bronchus" not in found["C34"]
    assert not any(s["code"].startswith("C34") for s in icd10.suggest("Cancer. The lung is clear."))  # apart
    assert not any(s["code"].startswith("B37.3") for s in icd10.suggest("Candidiasis of the skin."))  # neither site
    need = icd10.need_of("Malignant neoplasm of bronchus and lung",
                         frozenset({"malignant", "neoplasm", "bronchus", "lung"}))
    assert need.required == {"malignant", "neoplasm"} and need.either == {"bronchus", "lung"}
