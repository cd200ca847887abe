"""A model class that routes to two specialties (cardiology_pulmonology): the case's words and codes choose."""

from __future__ import annotations

import pytest
from django.utils import translation

from konsil.triage import joint, knowledge, reasons
from konsil.triage.knowledge import KnowledgeError
from konsil.triage.ml import ModelTriage, assess_text

LUNG = [
    "67-year-old former smoker with a 2.3 cm spiculated nodule in the right upper lobe on CT chest. PET avid. "
    "Suspected primary lung cancer. Second opinion on lobectomy versus SBRT.",
    "I have been coughing for months and my doctor found a spot on my lung on the x-ray.",
    "Interstitial lung disease, pulmonary fibrosis suspected on HRCT",
    "Severe COPD, on home oxygen, considering lung volume reduction.",
    "Tengo tos desde hace meses y el médico vio una mancha en el pulmón.",
]
HEART = [
    "Chest pain when walking uphill, the cardiologist wants to put in a stent.",
    "Atrial fibrillation, should I have an ablation?",
    "Heart failure with reduced ejection fraction, EF 25%, ICD recommended.",
]


@pytest.mark.parametrize("text", LUNG)
def test_lung_cases_go_to_pulmonary_disease(text):
    found = assess_text(text)
    assert found["labels"][0][0] == "cardiology_pulmonology"
    assert found["specialty"] == "pulmonology"
    top, second = found["ranked"][:2]
    assert top["probability"] > second["probability"]


@pytest.mark.parametrize("text", HEART)
def test_heart_cases_stay_with_cardiology(text):
    assert assess_text(text)["specialty"] == "cardiology"


def test_shares_sum_to_one_and_are_even_without_evidence():
    assert joint.shares("cardiology_pulmonology", "Second opinion please.") == {"pulmonology": 0.5, "cardiology": 0.5}
    lung = joint.shares("cardiology_pulmonology", "lung nodule, cough")
    assert sum(lung.values()) == pytest.approx(1.0) and lung["pulmonology"] > lung["cardiology"]
    assert joint.shares("neurology", "lung nodule") == {}


def test_negated_and_family_mentions_do_not_count():
    found = joint.evidence("cardiology_pulmonology", "No cough. Father had lung cancer. Chest pain on exertion.")
    assert found["pulmonology"]["words"] == []
    assert found["cardiology"]["words"] == ["Chest pain"]


def test_a_coded_diagnosis_outweighs_a_word():
    found = joint.shares("cardiology_pulmonology", "chest pain", icd10=["C34.11"])
    assert found["pulmonology"] > found["cardiology"]
    assert joint.shares("cardiology_pulmonology", "cough", icd10=["I48.91"])["cardiology"] > 0.5


def test_the_reason_names_the_evidence_and_reads_in_spanish():
    with translation.override("en"):  # the engine words its reasons in the active language
        proposal = ModelTriage().propose_for(text=LUNG[0], icd10=["C34.11"])
    assert proposal.specialty == "pulmonology"
    line = next(r for r in proposal.reasons if getattr(r, "key", "") == "joint")
    assert line.startswith("Pulmonary Disease rather than Cardiology, because of diagnosis C34.11")
    assert "“spiculated”" in line and "cardiology_pulmonology" not in line
    with translation.override("es"):
        spanish = reasons.render_one(line.data())
    assert spanish != str(line) and "C34.11" in spanish and "spiculated" in spanish


def test_the_patients_side_reads_the_words_that_chose_without_codes_or_sources():
    from konsil.triage.models import TriageProposal

    with translation.override("en"):
        proposal = ModelTriage().propose_for(text=LUNG[1], icd10=[])
    stored = TriageProposal(reasons=[str(r) for r in proposal.reasons], ranked=[], panel_roles=[], summary={},
                            checklist=[], reasons_data=[reasons.to_data(r) for r in proposal.reasons])
    for language, line in (("en", "“coughing, lung”: Pulmonary Disease"), ("es", "«coughing, lung»: Neumología")):
        with translation.override(language):
            patient = reasons.render(stored, keys=reasons.PATIENT_KEYS, for_patient=True)
        assert line in patient, patient
        assert not any("ICD-10-CM" in text or "%" in text for text in patient)
    codes_only = joint.explain("cardiology_pulmonology", "pulmonology", "Second opinion please.", ["C34.11"])
    stored.reasons_data = [reasons.to_data(reasons.joint_line(codes_only))]
    assert reasons.render(stored, keys=reasons.PATIENT_KEYS, for_patient=True) == []  # the code lines say it


def test_no_reason_when_nothing_points_to_the_chosen_specialty():
    assert joint.explain("cardiology_pulmonology", "cardiology", "Second opinion please.") is None
    assert joint.explain("neurology", "neurology", "headache") is None


def test_a_row_for_a_specialty_the_class_does_not_route_to_is_refused(tmp_path, monkeypatch):
    (tmp_path / joint.FILE).write_text(
        "label,specialty,icd10,keywords,source\n"
        "cardiology_pulmonology,cardiology,I,heart,test\n"
        "cardiology_pulmonology,dermatology,L,skin,test\n", encoding="utf-8")
    monkeypatch.setattr(knowledge, "HERE", tmp_path)
    with pytest.raises(KnowledgeError, match="line 3.*does not route to 'dermatology'"):
        joint.cues.__wrapped__()


def test_a_class_with_one_row_is_refused(tmp_path, monkeypatch):
    (tmp_path / joint.FILE).write_text(
        "label,specialty,icd10,keywords,source\ncardiology_pulmonology,cardiology,I,heart,test\n", encoding="utf-8")
    monkeypatch.setattr(knowledge, "HERE", tmp_path)
    with pytest.raises(KnowledgeError, match="two or more"):
        joint.cues.__wrapped__()


def test_words_read_only_in_the_records_are_not_the_patient_s():
    from konsil.triage.models import TriageProposal

    record = "CT chest: spiculated nodule in the right upper lobe."
    sources = [{"ref": "attachment:1", "kind": "record", "text": record}]
    with translation.override("en"):
        proposal = ModelTriage().propose_for(text="I keep coughing and my lung doctor is worried.\n" + record,
                                             icd10=[], sources=sources)
    line = next(r for r in proposal.reasons if getattr(r, "key", "") == "joint")
    assert "“spiculated” in the records" in str(line) and "“coughing”" in str(line)
    stored = TriageProposal(reasons=[], ranked=[], panel_roles=[], summary={}, checklist=[],
                            reasons_data=[reasons.to_data(line)])
    with translation.override("en"):
        patient = " ".join(reasons.render(stored, keys=reasons.PATIENT_KEYS, for_patient=True))
    assert "coughing" in patient and "spiculated" not in patient and "upper lobe" not in patient
    with translation.override("es"):
        assert "«spiculated» en los expedientes" in reasons.render_one(line.data())
