"""Inconsistency flags: diagnosis/procedure mismatch, laterality, practice variation."""

from __future__ import annotations

import csv

import pytest

from konsil.triage import consistency, knowledge
from konsil.triage.knowledge import KnowledgeError


def flags(icd10, treatment="", cpt="", text=""):
    return {flag["code"]: flag for flag in consistency.check(icd10, treatment, cpt, text)}


def test_every_shipped_row_loads():
    for name, loader in ((consistency.MISMATCH_FILE, consistency.mismatches),
                         (consistency.VARIATION_FILE, consistency.variations)):
        with (knowledge.HERE / name).open(encoding="utf-8") as fh:
            data_rows = [row for row in csv.DictReader(fh) if any(row.values())]
        rules = loader()
        assert len(rules) == len(data_rows) >= 8
        for rule in rules:
            assert rule.source and rule.label and (rule.cpt or rule.keywords)


@pytest.mark.parametrize(("icd10", "treatment", "cpt", "code"), [
    (["M17.11"], "PCI with a drug-eluting stent", "", "mismatch_pci"),
    (["M17.11"], "", "92928", "mismatch_pci"),
    (["K80.20"], "CABG x3", "33533", "mismatch_cabg"),
    (["J45.909"], "transcatheter aortic valve replacement", "", "mismatch_valve"),
    (["I25.10"], "right knee arthroscopy with partial meniscectomy", "29881", "mismatch_knee_arthroscopy"),
    (["N18.4"], "total abdominal hysterectomy", "58150", "mismatch_hysterectomy"),
    (["I10"], "L4-L5 TLIF", "22630", "mismatch_spinal_fusion"),
    (["J45.909"], "left mastectomy", "19303", "mismatch_mastectomy"),
])
def test_procedure_that_does_not_match_the_diagnosis(icd10, treatment, cpt, code):
    found = flags(icd10, treatment, cpt)
    assert code in found, found
    assert found[code]["severity"] == "warning" and found[code]["source"]
    assert icd10[0] in found[code]["detail"]


@pytest.mark.parametrize(("icd10", "treatment", "cpt"), [
    (["I21.4"], "PCI to the LAD", "92928"),
    (["I25.10", "E11.9"], "CABG", "33533"),
    (["M23.221"], "knee arthroscopy", "29881"),
    (["D25.9"], "hysterectomy", "58571"),
    (["M54.16"], "L5-S1 TLIF", "22630"),
    (["S32.001A"], "spinal fusion", ""),
    (["C50.912"], "left mastectomy", "19303"),
    (["Z80.3"], "prophylactic mastectomy", "19303"),
    ([], "PCI", "92928"),  # nothing to compare with
    (["NOT A CODE"], "PCI", "92928"),
])
def test_matching_diagnoses_raise_no_mismatch(icd10, treatment, cpt):
    assert not [code for code in flags(icd10, treatment, cpt) if code.startswith("mismatch_")]


@pytest.mark.parametrize(("icd10", "treatment", "flagged"), [
    (["M17.11"], "Left total knee arthroplasty", True),
    (["M17.11"], "Right total knee arthroplasty", False),
    (["M17.12"], "right TKA", True),
    (["M17.0"], "Left total knee arthroplasty", False),  # bilateral code covers either side
    (["M17.11"], "Bilateral total knee arthroplasty", True),
    (["M17.11", "M17.12"], "Bilateral total knee arthroplasty", False),
    (["C50.912"], "right mastectomy", True),
    (["I50.1"], "Right heart catheterization", False),  # anatomy, not a side
    (["M17.9"], "Left total knee arthroplasty", False),  # no side in the code
    (["M17.11"], "Total knee arthroplasty", False),  # no side in the treatment
])
def test_laterality(icd10, treatment, flagged):
    found = flags(icd10, treatment)
    assert ("laterality" in found) is flagged
    if flagged:
        assert found["laterality"]["severity"] == "warning" and icd10[0] in found["laterality"]["detail"]


@pytest.mark.parametrize(("icd10", "treatment", "cpt", "text", "code"), [
    (["M54.50"], "L4-S1 TLIF", "22630", "Axial low back pain for 3 years, no neurological deficit.",
     "variation_spinal_fusion"),
    (["M54.41"], "lumbar fusion", "", "", "variation_spinal_fusion"),
    (["M23.221"], "arthroscopic partial medial meniscectomy", "29881", "", "variation_knee_arthroscopy"),
    (["M17.11"], "", "29880", "", "variation_knee_arthroscopy"),
    (["I25.10"], "PCI with stent to the LAD", "92928", "Stable exertional angina.", "variation_pci_stable_angina"),
    (["I20.9"], "stent", "", "", "variation_pci_stable_angina"),
    (["D25.9"], "total laparoscopic hysterectomy", "58571", "", "variation_hysterectomy_benign"),
    (["N92.0"], "hysterectomy", "", "", "variation_hysterectomy_benign"),
    (["K80.20"], "laparoscopic cholecystectomy", "47562", "Gallstones found incidentally on CT; asymptomatic.",
     "variation_cholecystectomy_asymptomatic"),
    (["I65.22"], "left carotid endarterectomy", "35301", "80% stenosis, asymptomatic.",
     "variation_carotid_asymptomatic"),
    (["C61"], "robotic radical prostatectomy", "55866", "Gleason 3+3=6, PSA 5.1, low-risk disease.",
     "variation_prostatectomy_low_risk"),
])
def test_practice_variation(icd10, treatment, cpt, text, code):
    found = flags(icd10, treatment, cpt, text)
    assert code in found, found
    assert found[code]["severity"] == "review" and found[code]["source"]


@pytest.mark.parametrize(("icd10", "treatment", "cpt", "text"), [
    (["M54.50", "M54.16"], "L4-S1 TLIF", "22630", ""),  # radiculopathy code
    (["M54.50"], "L4-S1 TLIF", "22630", "Grade 2 spondylolisthesis with instability."),
    (["M54.50"], "L4-S1 TLIF", "22630", "Progressive foot drop."),
    (["S83.241A"], "knee arthroscopy", "29881", "Acute bucket-handle tear."),
    (["I25.10"], "PCI", "92928", "NSTEMI with elevated troponin."),
    (["I25.10"], "Coronary stent", "", "Chest pain at rest since Monday; troponin elevated."),
    (["I25.10"], "PCI", "92928", "Ejection fraction 30%."),
    (["I25.10", "I21.4"], "PCI", "92928", ""),
    (["D25.9", "C54.1"], "hysterectomy", "58150", ""),
    (["K80.20"], "laparoscopic cholecystectomy", "47562", "Recurrent biliary colic."),
    (["K80.20"], "laparoscopic cholecystectomy", "47562", ""),  # asymptomatic not stated
    (["I65.22"], "left carotid endarterectomy", "35301", "Left hemispheric TIA last month."),
    (["C61"], "radical prostatectomy", "55866", "Gleason 4+3=7, intermediate-risk."),
    (["M54.50"], "physical therapy", "", ""),  # no procedure
])
def test_practice_variation_not_raised_when_the_indication_is_there(icd10, treatment, cpt, text):
    assert not [code for code in flags(icd10, treatment, cpt, text) if code.startswith("variation_")]


def test_negated_procedure_words_do_not_count():
    assert flags(["M54.50"], "No fusion; continue physical therapy.") == {}


def test_bad_inputs_do_not_raise():
    assert consistency.check(None, None, None, None) == []
    assert consistency.check(["", "XX", "C50.911"], "", "abc", "") == []


@pytest.mark.parametrize(("row", "message"), [
    ("x,X,9292,,I,S", "bad CPT"),
    ("x,X,92928,,Q99999,S", "unknown ICD-10-CM"),
    ("x,X,92928,(bad,I,S", "bad regex"),
    ("x,X,,,I,S", "needs cpt codes or keywords"),
    ("x,X,92928,,M54-M40,S", "bad ICD-10-CM range"),
])
def test_a_bad_row_names_the_file_and_line(monkeypatch, tmp_path, row, message):
    header = "code,label,cpt,keywords,allowed_icd10,source"
    (tmp_path / consistency.MISMATCH_FILE).write_text(f"{header}\nok,OK,92928,pci,I,S\n{row}\n", encoding="utf-8")
    monkeypatch.setattr(knowledge, "HERE", tmp_path)
    consistency.mismatches.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match=rf"inconsistencies\.csv line 3: .*{message}"):
            consistency.mismatches()
    finally:
        monkeypatch.undo()
        consistency.mismatches.cache_clear()
