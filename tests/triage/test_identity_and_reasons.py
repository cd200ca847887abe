"""Triage reads who the case is about from the case's identity version, and says why in words (issue #9)."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest
from django.utils import translation

from konsil.cases.models import Patient
from konsil.triage import labels, panels, reasons
from konsil.triage.api import language_for
from konsil.triage.ml import ModelTriage, case_inputs
from konsil.triage.model import load
from konsil.triage.models import TriageProposal
from konsil.triage.person import case_language, case_person
from konsil.triage.services import ask_questions
from tests.factories import set_identity

CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # cardiology_pulmonology, internal_medicine, breast_oncology


@pytest.mark.django_db
def test_triage_reads_the_identity_version_not_the_patient_row(draft_case):
    # the patient row changed after submission (a new version would be made); the case keeps its version
    set_identity(draft_case, sex="male", language="es", birth_date=dt.date(2014, 3, 1))
    Patient.objects.filter(pk=draft_case.patient_id).update(sex="female", language="ja")
    draft_case.patient.refresh_from_db()
    assert case_person(draft_case) == draft_case.identity
    data = case_inputs(draft_case)
    assert data["sex"] == "male" and data["age"] < 18
    assert case_language(draft_case) == "es"
    assert language_for(SimpleNamespace(query_params={}), draft_case) == "es"
    assert language_for(SimpleNamespace(query_params={"lang": "ja"}), draft_case) == "ja"
    proposal = TriageProposal.objects.create(case=draft_case, engine="test", model_version="1", abstain=True,
                                             ranked=[{"code": "neurology", "probability": 0.34},
                                                     {"code": "orthopedic_surgery", "probability": 0.3},
                                                     {"code": "psychiatry", "probability": 0.2}])
    clarification = ask_questions(case=draft_case, proposal=proposal)
    assert clarification is not None and clarification.language == "es"


def test_case_without_a_version_falls_back_to_the_patient_row():
    patient = SimpleNamespace(language="xx", sex="female", birth_date=None)
    case = SimpleNamespace(identity=None, patient=patient)
    assert case_person(case) is patient
    assert case_language(case) == "en"  # a language triage does not speak


def _no_codes(lines: list[str]) -> None:
    model_classes = set(load().classes)
    for line in lines:
        assert not CODE.search(line), line
        assert not any(c in line for c in model_classes), line


def test_reasons_are_words_not_class_codes():
    proposal = ModelTriage().propose_for(text="I have sugar, I'm always thirsty and my cuts heal slowly.",
                                         icd10=["E11.9"])
    _no_codes(proposal.reasons)
    joined = " ".join(proposal.reasons)
    assert "Endocrinology" in joined and "the patient's own words" in joined and "English" in joined
    assert "“sugar” understood as" in joined
    assert "Diagnosis E11.9 Type 2 diabetes mellitus without complications: " in joined


def test_unsure_and_generalist_reasons_are_words():
    vague = ModelTriage().propose_for(text="I feel dizzy and weak and tired all the time.", icd10=[])
    assert vague.abstain and vague.abstain_reason == "generalist_first"
    _no_codes(vague.reasons)
    assert any(r.startswith("Needs a generalist first") for r in vague.reasons)
    unsure = reasons.below_threshold(0.41, 0.7, "lay")
    assert unsure == "Confidence 41% is below the 70% needed for the patient's own words: a coordinator decides."


def test_subspecialty_evidence_in_words():
    line = panels.describe({"subspecialty": "breast_oncology", "applies_to": "hematology_oncology",
                            "evidence": [{"kind": "code", "value": "C50.911"},
                                         {"kind": "phrase", "value": "breast cancer", "ref": "record:1"}],
                            "source": "NCCN Guidelines Breast Cancer"})
    _no_codes([line])
    assert line.startswith(labels.specialty_name("breast_oncology") + " rather than ")
    assert "diagnosis C50.911" in line and "“breast cancer”" in line and "record:1" not in line


def test_class_names_join_the_specialties_a_class_routes_to():
    assert reasons.class_names("cardiology_pulmonology") == "Cardiology or Pulmonary Disease"
    assert reasons.class_names("internal_medicine") == labels.specialty_name("internal_medicine")


def test_reasons_follow_the_active_language():
    with translation.override("es"):
        line = reasons.below_threshold(0.41, 0.7, "lay")
    # the msgid is translated once the es catalog has it; never a code either way
    _no_codes([line])
    assert "41%" in line and "70%" in line


@pytest.mark.django_db
def test_triage_reads_the_diagnosis_in_the_patient_s_words(draft_case):
    # intake step 3: often the only place a patient without codes names the disease
    draft_case.diagnosis_text = "They told me I have multiple sclerosis."
    draft_case.save(update_fields=["diagnosis_text"])
    assert "They told me I have multiple sclerosis." in case_inputs(draft_case)["text"]


def test_a_relative_s_disease_is_not_a_reason_of_the_patient_s():
    text = "My mother had breast cancer at 60. I get headaches every morning."
    proposal = ModelTriage().propose_for(text=text, icd10=[])
    assert "breast_cancer" not in [c["concept"] for c in proposal.concepts]
    assert not any("breast cancer" in line for line in proposal.reasons), proposal.reasons
    said = ModelTriage().propose_for(text="I have breast cancer, like my mother had breast cancer.", icd10=[])
    assert "breast_cancer" in [c["concept"] for c in said.concepts]  # said of the patient once: kept


@pytest.mark.parametrize(("text", "kept"), [("母が乳がんでした。", False), ("私は乳がんです。", True),
                                            ("Mi madre tuvo cáncer de mama.", False), ("Tengo cáncer de mama.", True)])
def test_a_relative_s_disease_in_spanish_and_japanese(text, kept):
    from konsil.triage import lay

    assert ("breast_cancer" in [h["concept"] for h in lay.about_the_patient(text, lay.lookup(text))]) is kept


@pytest.mark.django_db
def test_a_caregiver_s_my_mother_is_the_patient(draft_case, network):
    from konsil.accounts.roles import Role
    from konsil.cases.coding import by_proxy, proposals
    from tests.factories import make_user

    draft_case.clinical_summary = "My mother has breast cancer in her left breast."
    draft_case.save(update_fields=["clinical_summary"])
    # the patient wrote it: her mother's disease, not hers
    assert not by_proxy(draft_case) and case_inputs(draft_case)["proxy"] is False
    assert "C50" not in proposals(draft_case, records=False)
    assert "breast_cancer" not in [c["concept"] for c in ModelTriage().propose(draft_case).concepts]
    # her daughter wrote it for her: "my mother" is the patient
    draft_case.requester = make_user(Role.CAREGIVER, network)
    draft_case.save(update_fields=["requester"])
    assert by_proxy(draft_case) and case_inputs(draft_case)["proxy"] is True
    assert "C50" in proposals(draft_case, records=False)
    assert "breast_cancer" in [c["concept"] for c in ModelTriage().propose(draft_case).concepts]


def test_mentions_are_whole_words_or_inside_a_japanese_run():
    from konsil.triage.lay import mentions

    assert mentions("No chest pain; chest painful", "chest pain") == [(3, 13)]  # not inside "painful"
    assert mentions("母が乳がんでした", "乳がん") == [(2, 5)]  # a Japanese run has no word edges
    assert mentions("", "cancer") == [] and mentions(None, "cancer") == [] and mentions("cancer", "") == []
