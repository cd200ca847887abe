"""Completeness checklists per specialty, found and missing items, generic fallback."""

from __future__ import annotations

import csv

import pytest

from konsil.matching import catalog
from konsil.triage import completeness, knowledge
from konsil.triage.knowledge import KnowledgeError

ONCOLOGY = ["medical_oncology", "breast_oncology", "hematology_oncology", "radiation_oncology", "surgical_oncology",
            "gynecologic_oncology"]


def by_item(rows):
    return {row["item"]: row for row in rows}


def test_every_shipped_row_loads_with_catalog_specialties():
    with (knowledge.HERE / completeness.FILE).open(encoding="utf-8") as fh:
        data_rows = [row for row in csv.DictReader(fh) if any(row.values())]
    table = completeness.items()
    assert sum(len(rows) for rows in table.values()) == len(data_rows)
    known = {row["code"] for row in catalog.rows()} | {"*"}
    for specialty, rows in table.items():
        assert specialty in known
        for item in rows:
            assert item.keywords.pattern and item.source and item.label


@pytest.mark.parametrize("specialty", ONCOLOGY)
def test_oncology_checklists_ask_for_the_four_core_records(specialty):
    items = by_item(completeness.checklist([specialty], ""))
    assert {"pathology_report", "staging_imaging", "tumour_markers", "operative_note"} <= set(items)
    assert not any(row["present"] for row in items.values())


def test_found_and_missing_items_with_evidence():
    text = ("Core needle biopsy: invasive ductal carcinoma, ER positive, HER2 negative. "
            "No staging CT has been done yet.")
    items = by_item(completeness.checklist(["breast_oncology"], text))
    assert items["pathology_report"]["present"] and "biopsy" in items["pathology_report"]["evidence"].lower()
    assert items["receptor_status"]["present"]
    assert not items["staging"]["present"] and items["staging"]["evidence"] == ""  # negated
    assert {row["condition"] for row in items.values()} == {"breast_cancer"}  # the words name the condition
    assert {row["item"] for row in completeness.missing(["breast_oncology"], text)} == {
        "staging", "treatment_recommendation", "breast_imaging"}


@pytest.mark.parametrize(("specialty", "text", "present", "absent"), [
    ("cardiology", "12-lead ECG: sinus rhythm. TTE with ejection fraction of 55%.", {"ecg", "echo_report"},
     {"cath_report", "stress_test", "lipid_panel"}),
    ("interventional_cardiology", "Cardiac catheterization showed 90% LAD stenosis. LDL 130.",
     {"cath_report", "lipid_panel"}, {"ecg"}),
    ("electrophysiology", "Holter monitor showed paroxysmal SVT.", {"ambulatory_monitor", "ecg"},
     {"echo_report"}),
    ("spine_surgery", "MRI lumbar spine: L4-5 herniation. Strength 4/5 in the EHL. Six weeks of physical therapy.",
     {"imaging_report", "neuro_exam", "conservative_therapy"}, set()),
    ("orthopedic_surgery", "Shoulder pain for a year.", set(),
     {"imaging_report", "physical_exam", "conservative_therapy"}),
    ("neurology", "EEG showed left temporal sharp waves. MRI brain normal. Cranial nerves intact.",
     {"eeg", "brain_imaging", "neuro_exam"}, set()),
    ("neurosurgery", "Referred for a meningioma.", set(), {"brain_imaging", "neuro_exam"}),
    ("gastroenterology", "Colonoscopy with biopsies; ALT 80.", {"endoscopy_report", "pathology_report", "labs"},
     set()),
    ("urology", "PSA 8.2. Cystoscopy normal.", {"psa_urinalysis", "cystoscopy"}, {"imaging"}),
    ("obstetrics_gynecology", "Transvaginal ultrasound: 5 cm fibroid. Pap smear normal.", {"ultrasound", "pap_hpv"},
     {"pathology_report"}),
    ("nephrology", "Creatinine 2.1, eGFR 28. Urinalysis with proteinuria.", {"renal_function", "urinalysis"},
     {"renal_ultrasound"}),
    ("pulmonology", "Spirometry FEV1 55%. CT chest with emphysema.", {"pfts", "chest_imaging"}, {"oxygenation"}),
    ("endocrinology", "HbA1c 8.9%. TSH normal.", {"hba1c", "thyroid_tests"}, {"endocrine_imaging"}),
])
def test_specialty_checklists(specialty, text, present, absent):
    items = by_item(completeness.checklist([specialty], text))
    assert {code for code, row in items.items() if row["present"]} >= present
    assert not any(items[code]["present"] for code in absent)


def test_union_of_specialties_without_duplicates():
    rows = completeness.checklist(["cardiology", "pulmonology", "cardiology"], "")
    codes = [row["item"] for row in rows]
    assert len(codes) == len(set(codes))
    assert {"ecg", "pfts"} <= set(codes)


def test_generic_fallback_for_specialties_without_a_checklist():
    rows = completeness.checklist(["internal_medicine"], "Takes metformin 500 mg twice daily.")
    assert {row["item"] for row in rows} == {"history", "medication_list", "recent_labs"}
    assert by_item(rows)["medication_list"]["present"]
    assert [row["item"] for row in completeness.checklist([], None)] == ["history", "medication_list", "recent_labs"]
    assert [row["item"] for row in completeness.checklist(["no_such_code", None], "")] == [
        "history", "medication_list", "recent_labs"]


def test_a_subspecialty_without_rows_uses_its_parent(monkeypatch):
    table = {k: v for k, v in completeness.items().items() if k != "electrophysiology"}
    monkeypatch.setattr(completeness, "items", lambda: table)
    assert "ecg" in {row["item"] for row in completeness.checklist(["electrophysiology"], "")}


@pytest.mark.parametrize(("row", "message"), [
    ("cardiology,ecg2,ECG,ECG,心電図,(bad,S", "bad regex"),
    ("no_such_specialty,ecg2,ECG,ECG,心電図,ecg,S", "unknown specialty"),
    ("cardiology,ecg,ECG again,ECG,心電図,ecg,S", "repeated"),
    ("cardiology,Bad Code,ECG,ECG,心電図,ecg,S", "lower_snake_case"),
    ("cardiology,ecg2,ECG,ECG,心電図,,S", "empty keywords"),
    ("cardiology,ecg2,ECG,,心電図,ecg,S", "empty label_es"),
    ("cardiology,ecg2,ECG,ECG,,ecg,S", "empty label_ja"),
])
def test_a_bad_row_names_the_file_and_line(monkeypatch, tmp_path, row, message):
    text = ("specialty,item,label,label_es,label_ja,keywords,source\n*,history,History,Historia,病歴,history,S\n"
            f"cardiology,ecg,ECG,ECG,心電図,ecg,S\n{row}\n")
    (tmp_path / completeness.FILE).write_text(text, encoding="utf-8")
    monkeypatch.setattr(knowledge, "HERE", tmp_path)
    completeness.items.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match=rf"checklists\.csv line 4: .*{message}"):
            completeness.items()
    finally:
        monkeypatch.undo()
        completeness.items.cache_clear()


def test_a_record_asked_about_or_not_yet_done_is_missing():
    text = ("Suspected primary lung cancer (no biopsy yet). Is tissue diagnosis (biopsy) needed before SBRT, and is "
            "further staging advised? If the biopsy shows cancer we will discuss treatment.")
    rows = {row["item"]: row for row in completeness.checklist(["radiation_oncology"], text)}
    assert rows["pathology_report"]["present"] is False
    rows = {row["item"]: row for row in completeness.checklist(
        ["radiation_oncology"], text + " The CT-guided biopsy of 2.3 mm showed adenocarcinoma.")}
    assert rows["pathology_report"]["present"] is True and "adenocarcinoma" in rows["pathology_report"]["evidence"]
