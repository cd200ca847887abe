"""The committed model on a patient's own words: per-register calibration, the patient classes, generalist first,
Spanish and Japanese routed like English, and re-triage with a clarifying answer."""

from __future__ import annotations

import pytest

from konsil.triage import lay
from konsil.triage.ml import ModelTriage, assess_text
from konsil.triage.model import load


@pytest.fixture(scope="module")
def model():
    return load()


def test_each_register_has_its_own_calibration_and_threshold(model):
    assert set(model.registers) == {"notes", "one_liner", "lay"}
    for name, cal in model.registers.items():
        assert cal["temperature"] > 0 and len(cal["top_calibration"]) in (2, 3), name  # Platt or beta
        assert 0.2 < cal["threshold"] <= 1, name
        assert model.threshold_for(name) == cal["threshold"]
    assert model.threshold_for(None) == model.threshold  # the shared one stays for old callers
    # the lay register is calibrated on the hand-written calibration split, and says so
    assert model.registers["lay"]["calibration"]["source"] == "calibration.csv"
    assert set(model.meta["cv_registers"]) == {"notes", "one_liner"}
    text = "I was told I have a leaky heart valve and they want to do a heart cath."
    assert model.register(text) == "lay"
    assert model.predict(text)[0] != model.predict(text, register="notes")[0]  # another calibration applies


def test_the_patient_classes_exist(model):
    for label in ("internal_medicine", "infectious_disease", "general_surgery"):
        assert label in model.classes


@pytest.mark.parametrize(("text", "expected"), [
    ("My skin and eyes have turned yellow and my urine is dark.", "gastroenterology"),
    ("I'm always thirsty, I pee all the time and my sugar is high.", "endocrinology"),
    ("I came back from Thailand with a high fever and they think it is dengue.", "infectious_disease"),
    ("I was diagnosed with malaria after a trip to Ghana.", "infectious_disease"),
    ("I have a bulge in my groin and they want to do hernia repair.", "general_surgery"),
    ("Tengo la piel y los ojos amarillos.", "gastroenterology"),
    ("Me dijeron que tengo el azúcar alta y mucha sed.", "endocrinology"),
    ("Volví de viaje con fiebre y me dijeron que es fiebre tifoidea.", "infectious_disease"),
    ("Me duele la rodilla y quieren hacerme un reemplazo de rodilla.", "orthopedics"),
    ("皮膚と白目が黄色くなりました。", "gastroenterology"),
    ("健康診断で血糖値が高いと言われました。", "endocrinology"),
    ("海外旅行の後に熱が出て、マラリアと言われました。", "infectious_disease"),
    ("白内障と言われて、手術を勧められました。", "ophthalmology"),
])
def test_patient_words_in_three_languages_reach_the_right_class(model, text, expected):
    assert model.predict(text)[0][0] == expected


@pytest.mark.parametrize("text", [
    "I feel dizzy and weak all the time.",
    "I'm tired, I have no energy and I feel numb sometimes.",
    "Me siento débil y mareado.",
    "最近めまいがして、体に力が入りません。",
])
def test_vague_words_need_a_generalist_first_not_neurology(text):
    found = assess_text(text)
    assert found["register"] == "lay"
    assert found["abstain_reason"] == "generalist_first"
    assert found["specialty"] == "internal_medicine" and found["abstain"]
    assert found["order"][0] == "internal_medicine" and found["candidates"][0]["code"] == "internal_medicine"


def test_a_specific_text_is_not_generalist_first():
    found = assess_text("I was told I have cataracts and they want to do cataract surgery.")
    assert found["abstain_reason"] != "generalist_first"
    assert found["candidates"][0]["code"] == "ophthalmology"
    assert found["body_systems"] == ["eye"]
    assert found["language"] == "en"


def test_no_text_abstains_with_its_reason():
    found = assess_text("")
    assert found["abstain"] and found["abstain_reason"] == "no_text" and found["specialty"] is None


def test_propose_for_reports_register_language_candidates_and_concepts():
    proposal = ModelTriage().propose_for(text="Me dijeron que tengo piedras en la vesícula y quieren quitarme la "
                                              "vesícula.", icd10=[])
    assert proposal.register == "lay" and proposal.language == "es"
    assert proposal.specialty == "general_surgery"
    assert len(proposal.candidates) == 3 and proposal.candidates[0]["code"] == "general_surgery"
    assert "gallbladder" in [c["concept"] for c in proposal.concepts]
    assert any("vesícula" in r or "vesicula" in r for r in proposal.reasons)


def test_generalist_first_proposal_routes_to_internal_medicine_with_the_reason():
    proposal = ModelTriage().propose_for(text="I feel weak and dizzy and I don't know why.", icd10=[])
    assert proposal.specialty == "internal_medicine"
    assert proposal.abstain_reason == "generalist_first"
    assert any("generalist first" in r for r in proposal.reasons)


def test_a_clarifying_answer_changes_the_proposal():
    vague = "I have been feeling weak and tired for months."
    before = assess_text(vague)
    after = assess_text(vague + "\nThe doctor said my thyroid is underactive.")
    assert before["abstain_reason"] == "generalist_first"
    assert after["candidates"][0]["code"] == "endocrinology"
    assert lay.lookup("The doctor said my thyroid is underactive")  # the answer's words are understood
