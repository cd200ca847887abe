"""Records checklists by condition (data with sources) and the most specific specialty with its evidence."""

from __future__ import annotations

import pytest

from konsil.triage import completeness, knowledge, panels
from konsil.triage.engine import Proposal
from konsil.triage.knowledge import KnowledgeError


def items(rows):
    return {row["item"]: row for row in rows}


def test_every_condition_loads_with_sourced_items():
    conditions = completeness.conditions()
    table = completeness.condition_items()
    assert len(conditions) >= 15
    for condition in conditions:
        assert condition.source and (condition.icd10 or condition.keywords)
        assert len(table[condition.code]) >= 3
        for item in table[condition.code]:
            assert item.source and item.label and item.keywords.pattern


def test_breast_cancer_asks_for_what_a_breast_oncologist_needs_and_nothing_else():
    rows = items(completeness.checklist(["hematology_oncology"], "", icd10=["C50.911"]))
    assert set(rows) == {"pathology_report", "receptor_status", "breast_imaging", "staging",
                         "treatment_recommendation"}
    assert all(row["condition"] == "breast_cancer" and row["source"].startswith("NCCN") for row in rows.values())
    labels = " ".join(row["label"].lower() for row in rows.values())
    for unwanted in ("bone marrow", "pap", "pelvic", "cbc"):
        assert unwanted not in labels


def test_the_patient_s_words_name_the_condition_and_records_count_as_present():
    text = ("I was told I have breast cancer and they want to do a mastectomy. Core biopsy pathology: ER positive, "
            "HER2 negative. Mammogram and breast MRI done. The surgeon recommends surgery first.")
    rows = items(completeness.checklist(["medical_oncology"], text))
    assert {k for k, row in rows.items() if row["present"]} == {
        "pathology_report", "receptor_status", "breast_imaging", "treatment_recommendation"}
    assert [row["item"] for row in completeness.missing(["medical_oncology"], text)] == ["staging"]


@pytest.mark.parametrize(("codes", "text", "condition"), [
    (["C61"], "", "prostate_cancer"), (["C34.90"], "", "lung_cancer"), (["C18.9"], "", "colorectal_cancer"),
    (["C83.30"], "", "lymphoma"), (["I35.0"], "", "aortic_stenosis"),
    ([], "They want to do a TAVR.", "aortic_stenosis"),
    (["I25.10"], "", "coronary_disease"), ([], "My cardiologist says I need a CABG.", "coronary_disease"),
    (["M51.26"], "", "spine_disorder"), ([], "I have a slipped disc in my lower back.", "spine_disorder"),
    (["M17.11"], "", "knee_arthritis"), ([], "Total knee replacement was proposed.", "knee_arthritis"),
    (["M16.11"], "", "hip_arthritis"), (["E04.1"], "", "thyroid_nodule"), (["G35"], "", "multiple_sclerosis"),
    (["G40.909"], "", "epilepsy"), (["K50.90"], "", "inflammatory_bowel_disease"),
    ([], "I have ulcerative colitis.", "inflammatory_bowel_disease"), (["N18.30"], "", "chronic_kidney_disease"),
    (["M05.79"], "", "rheumatoid_arthritis"), (["I48.91"], "", "atrial_fibrillation"),
    ([], "Me dijeron que tengo cáncer de mama.", "breast_cancer"),
])
def test_conditions_by_code_or_words(codes, text, condition):
    found = [c["condition"] for c in completeness.conditions_for(codes, text)]
    assert condition in found
    rows = completeness.checklist([], text, icd10=codes)
    assert {row["condition"] for row in rows} >= {condition}


@pytest.mark.parametrize("text", ["No evidence of breast cancer.", "Family history of breast cancer in her mother."])
def test_negated_or_family_mentions_do_not_name_a_condition(text):
    assert completeness.conditions_for([], text) == []


def test_no_condition_falls_back_to_the_specialty_list():
    rows = items(completeness.checklist(["cardiology"], "Follow-up visit."))
    assert "echo_report" in rows and all(row["condition"] == "" for row in rows.values())


@pytest.mark.parametrize(("name", "text", "message"), [
    (completeness.CONDITIONS_FILE, "condition,label,icd10,keywords,source\nx,X,,,S\n", "needs icd10 or keywords"),
    (completeness.CONDITIONS_FILE, "condition,label,icd10,keywords,source\nx,X,ZZZ,,S\n", "unknown ICD-10-CM"),
    (completeness.CONDITION_ITEMS_FILE, "condition,item,label,label_es,label_ja,keywords,source\nnope,a,A,A,エー,a,S\n",
     "unknown condition"),
    (completeness.CONDITION_ITEMS_FILE,
     "condition,item,label,label_es,label_ja,keywords,source\nbreast_cancer,a,A,A,,a,S\n", "empty label_ja"),
])
def test_a_bad_condition_row_names_the_file_and_line(monkeypatch, tmp_path, name, text, message):
    for other in (completeness.CONDITIONS_FILE, completeness.CONDITION_ITEMS_FILE):
        (tmp_path / other).write_text((knowledge.HERE / other).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(knowledge, "HERE", tmp_path)
    completeness.conditions.cache_clear()
    completeness.condition_items.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match=rf"{name.replace('.', '[.]')} line 2: .*{message}"):
            completeness.condition_items()
    finally:
        monkeypatch.undo()
        completeness.conditions.cache_clear()
        completeness.condition_items.cache_clear()


# ---------------------------------------------------------------- the most specific specialty, with its evidence


@pytest.mark.parametrize(("specialty", "codes", "text", "expected"), [
    ("hematology_oncology", ["C50.911"], "", "breast_oncology"),  # what the model calls breast cancer
    ("hematology", [], "Biopsy showed invasive ductal carcinoma.", "breast_oncology"),
    ("general_surgery", ["C50.412"], "", "breast_oncology"),
    ("hematology", ["C90.00"], "", "hematology_oncology"),
    ("cardiothoracic_surgery", [], "Referred to discuss TAVR for severe aortic stenosis.", "interventional_cardiology"),
    ("general_surgery", [], "Considering a sleeve gastrectomy.", "bariatric_surgery"),
    ("general_surgery", ["E66.01"], "", "bariatric_surgery"),
    ("orthopedic_surgery", [], "I have a slipped disc.", "spine_surgery"),
])
def test_most_specific_specialty(specialty, codes, text, expected):
    assert panels.subspecialty(specialty, codes, text) == expected


def test_the_evidence_names_the_code_the_phrase_and_the_record():
    sources = [{"ref": "case:1#history", "text": "Lump in the left breast."},
               {"ref": "attachment:abc", "text": "Core biopsy: invasive ductal carcinoma, grade 2."}]
    text = "\n".join(s["text"] for s in sources)
    found = panels.refine("hematology_oncology", ["C50.912"], text, sources)
    assert found["subspecialty"] == "breast_oncology" and found["source"].startswith("NCCN")
    assert found["evidence"] == [{"kind": "code", "value": "C50.912", "ref": "case:diagnoses"}]
    found = panels.refine("medical_oncology", [], text, sources)
    assert found["evidence"] == [{"kind": "phrase", "value": "invasive ductal carcinoma", "ref": "attachment:abc"}]
    # in words: the specialty names and the phrase, not the codes or the record's internal reference
    assert panels.describe(found) == ("Breast Oncology rather than Medical Oncology, because of “invasive ductal "
                                      "carcinoma” (NCCN Guidelines Breast Cancer)")
    assert panels.refine("cardiology", ["C50.912"], text, sources) is None
    assert panels.describe(None) == ""


class BreastEngine:
    """The model's view of a breast cancer case: hematology and oncology, refined by the knowledge."""

    name, version = "fixed", "1"

    def propose(self, case):
        found = panels.refine("hematology_oncology", ["C50.911"], "", [])
        return Proposal(specialty="hematology_oncology", ranked=[
            {"code": "hematology_oncology", "probability": 0.9}, {"code": "medical_oncology", "probability": 0.1}],
            subspecialty=found["subspecialty"], specialty_evidence=found)


@pytest.mark.django_db
def test_the_stored_proposal_is_breast_oncology_with_evidence(settings, draft_case):
    from konsil.triage.services import propose

    settings.KONSIL_TRIAGE_ENGINE = "tests.triage.test_checklists_conditions.BreastEngine"
    proposal = propose(case=draft_case)
    assert proposal.specialty_id == "breast_oncology"
    assert proposal.engine_specialty == "hematology_oncology"
    assert proposal.subspecialty_id == "breast_oncology"
    assert proposal.specialty_evidence["evidence"][0]["value"] == "C50.911"


@pytest.mark.django_db
def test_a_breast_cancer_case_proposes_breast_oncology_with_the_breast_checklist(settings, network, patient_user):
    from konsil.triage.services import propose

    from ..factories import make_draft

    settings.KONSIL_TRIAGE_ENGINE = "konsil.triage.ml.ModelTriage"
    case = make_draft(network, patient_user, codes=("C50.911",), questions=("Is a mastectomy the right choice?",),
                      clinical_summary="58-year-old woman with a newly diagnosed breast cancer.")
    proposal = propose(case=case)
    assert proposal.specialty_id == "breast_oncology"
    assert any(reason.startswith("Breast Oncology rather than ") and "C50.911" in reason
               for reason in proposal.reasons)  # in words: the specialty by name, with its evidence
    assert not any("breast_oncology" in reason for reason in proposal.reasons)
    assert {item["item"] for item in proposal.checklist} >= {"receptor_status", "breast_imaging", "staging"}
    assert not any("marrow" in item["label"].lower() or "pap" in item["label"].lower()
                   for item in proposal.checklist)


@pytest.mark.parametrize("text", [
    "Tengo un bulto en el pecho izquierdo desde hace dos meses, la mamografía dice BI-RADS 4 y me quieren operar",
    "I have a lump in my left breast for two months, the mammogram says BI-RADS 4 and they want to operate",
])
def test_a_breast_lump_in_the_patients_words_is_breast_oncology_with_only_its_checklist(text):
    """No code, no "cancer": a lump in the breast or a BI-RADS 4 in lay words refines to Breast Oncology, and the
    records asked for are the breast list, not a runner-up's (an 8% ophthalmology guess asked for eye pressure)."""
    from konsil.triage.engine import engine

    proposal = engine().propose_for(text=text, icd10=[])
    assert proposal.subspecialty == "breast_oncology"
    asked = {item["item"] for item in proposal.checklist}
    assert {"breast_imaging", "receptor_status", "pathology_report"} <= asked
    assert not asked & {"bone_marrow", "blood_counts", "visual_acuity", "iop", "eye_imaging"}


def test_the_checklist_takes_a_runner_up_only_when_the_engine_is_unsure():
    from konsil.triage.ml import _checklist_codes

    ranked = [{"code": "hematology_oncology", "probability": 0.88}, {"code": "ophthalmology", "probability": 0.08}]
    assert _checklist_codes(ranked, abstain=False) == ["hematology_oncology"]
    assert _checklist_codes(ranked, abstain=True) == ["hematology_oncology", "ophthalmology"]
    close = [{"code": "cardiology", "probability": 0.6}, {"code": "pulmonology", "probability": 0.3}]
    assert _checklist_codes(close, abstain=False) == ["cardiology", "pulmonology"]
    assert _checklist_codes([], abstain=True) == []
