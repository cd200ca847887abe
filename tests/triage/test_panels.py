"""Multidisciplinary panel templates and subspecialty refinement."""

from __future__ import annotations

import csv

import pytest

from konsil.matching import catalog
from konsil.triage import knowledge, panels
from konsil.triage.knowledge import KnowledgeError

TUMOUR_BOARD = ["medical_oncology", "surgical_oncology", "radiation_oncology", "pathology", "radiology"]


def test_every_shipped_row_loads_with_catalog_codes():
    known = {row["code"] for row in catalog.rows()}
    for name, loader in ((panels.PANELS_FILE, panels.panels), (panels.SUBSPECIALTIES_FILE, panels.refinements)):
        with (knowledge.HERE / name).open(encoding="utf-8") as fh:
            assert len(loader()) == len([row for row in csv.DictReader(fh) if any(row.values())])
    for panel in panels.panels():
        assert set(panel.roles) <= known and set(panel.specialties) <= known and panel.source
    for rule in panels.refinements():
        assert rule.subspecialty in known and set(rule.applies_to) <= known and rule.applies_to and rule.source


@pytest.mark.parametrize(("specialties", "icd10", "text", "template", "roles"), [
    (["medical_oncology"], ["C50.911"], "", "breast_cancer", TUMOUR_BOARD),
    ([], ["C34.90"], "", "lung_cancer", None),
    ([], ["C18.7"], "", "colorectal_cancer", None),
    ([], ["C25.0"], "", "upper_gi_hpb_cancer", None),
    ([], ["C61"], "", "urologic_cancer", None),
    ([], ["C56.1"], "", "gynecologic_cancer", None),
    ([], ["C83.30"], "", "hematologic_malignancy", ["hematology_oncology", "pathology", "radiation_oncology"]),
    ([], ["C92.00"], "", "hematologic_malignancy", None),
    ([], ["C47.9"], "", "solid_tumour", TUMOUR_BOARD),  # a solid tumour without a specific template
    ([], ["C4A.9"], "", "skin_cancer", None),
    ([], ["M54.16"], "L5-S1 discectomy is proposed.", "complex_spine",
     ["spine_surgery", "neurology", "anesthesiology_pain", "physical_medicine"]),
    ([], ["I25.10"], "Three-vessel disease; CABG versus PCI.", "heart_team", None),
    (["medical_oncology"], [], "New diagnosis of pancreatic cancer.", "oncology_unspecified", TUMOUR_BOARD),
])
def test_panels(specialties, icd10, text, template, roles):
    result = panels.for_case(specialties, icd10, text)
    assert result["multidisciplinary"] is True and result["template"] == template
    assert len(result["roles"]) >= 3 and result["reason"] and result["source"]
    if roles:
        assert result["roles"] == roles


@pytest.mark.parametrize(("specialties", "icd10", "text"), [
    ([], ["M54.16"], ""),  # no surgery proposed
    ([], ["M54.16"], "No surgery planned; physical therapy."),
    ([], ["M54.16"], "Status post lumbar surgery in 2010."),
    ([], ["Z85.3"], ""),  # a history of cancer is not a new one
    ([], ["J45.909"], ""),
    (["cardiology"], [], "Family history of cancer."),
    (["medical_oncology"], [], "No evidence of cancer."),
    (None, None, None),
])
def test_no_panel(specialties, icd10, text):
    assert panels.for_case(specialties, icd10, text) == {
        "multidisciplinary": False, "roles": [], "template": None, "reason": "", "label": "", "source": ""}


@pytest.mark.parametrize(("specialty", "icd10", "text", "expected"), [
    ("medical_oncology", ["C50.911"], "", "breast_oncology"),
    ("surgical_oncology", ["c50911"], "", "breast_oncology"),
    ("medical_oncology", [], "Newly diagnosed ductal carcinoma of the breast.", "breast_oncology"),
    ("cardiology", ["I48.0"], "", "electrophysiology"),
    ("cardiology", [], "Symptomatic atrial fibrillation; considering ablation.", "electrophysiology"),
    ("cardiology", ["I25.10"], "Referred to discuss PCI of the LAD.", "interventional_cardiology"),
    ("cardiology", ["I25.10"], "", None),  # coronary disease without an intervention in view
    ("obstetrics_gynecology", ["C54.1"], "", "gynecologic_oncology"),
    ("medical_oncology", ["C53.9"], "", "gynecologic_oncology"),
    ("medical_oncology", ["C85.90"], "", "hematology_oncology"),
    ("orthopedic_surgery", ["M54.16"], "", "spine_surgery"),
    ("neurosurgery", ["M48.062"], "", "spine_surgery"),
    ("orthopedic_surgery", ["M17.11"], "", None),
    ("neurology", ["M54.16"], "", None),  # not a refinement of neurology
    ("breast_oncology", ["C50.1"], "", "breast_oncology"),
    ("", ["C50.911"], "", None),
    (None, None, None, None),
])
def test_subspecialty(specialty, icd10, text, expected):
    assert panels.subspecialty(specialty, icd10, text) == expected


@pytest.mark.parametrize(("row", "message"), [
    ("t2,T,C50,,,medical_oncology;no_such_role,S", "unknown specialty"),
    ("t2,T,,,,medical_oncology;pathology,S", "needs an icd10 or a specialties trigger"),
    ("t2,T,C50,,,medical_oncology,S", "two or more distinct roles"),
    ("t,T,C50,,,medical_oncology;pathology,S", "repeated"),
    ("t2,T,C50,,(bad,medical_oncology;pathology,S", "bad regex"),
    ("t2,T,C99,,,medical_oncology;pathology,S", "unknown ICD-10-CM"),
])
def test_a_bad_panel_row_names_the_file_and_line(monkeypatch, tmp_path, row, message):
    header = "template,label,icd10,specialties,keywords,roles,source"
    (tmp_path / panels.PANELS_FILE).write_text(f"{header}\nt,T,C50,,,medical_oncology;pathology,S\n{row}\n",
                                               encoding="utf-8")
    monkeypatch.setattr(knowledge, "HERE", tmp_path)
    panels.panels.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match=rf"panels\.csv line 3: .*{message}"):
            panels.panels()
    finally:
        monkeypatch.undo()
        panels.panels.cache_clear()


def test_a_bad_subspecialty_row_names_the_file_and_line(monkeypatch, tmp_path):
    (tmp_path / panels.SUBSPECIALTIES_FILE).write_text(
        "subspecialty,applies_to,icd10,keywords,source\nbreast_oncology,,C50,,S\nnot_a_code,,C50,,S\n",
        encoding="utf-8")
    monkeypatch.setattr(knowledge, "HERE", tmp_path)
    panels.refinements.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match=r"subspecialties\.csv line 3: unknown specialty"):
            panels.refinements()
    finally:
        monkeypatch.undo()
        panels.refinements.cache_clear()
