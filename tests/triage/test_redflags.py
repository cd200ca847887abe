"""Red flags: curated patterns with negation, ICD-10-CM triggers, STAT escalation."""

from __future__ import annotations

import csv

import pytest

from konsil.triage import knowledge, redflags
from konsil.triage.knowledge import KnowledgeError

REQUIRED = {
    "acs", "stroke", "cauda_equina", "cord_compression", "sepsis", "malignancy_obstruction_bleeding",
    "suicidal_intent", "pulmonary_embolism", "aortic_dissection", "testicular_torsion", "ectopic_pregnancy",
    "subarachnoid_hemorrhage", "anaphylaxis", "dka", "neutropenic_fever", "acute_limb_ischemia",
}


def codes(text, **kwargs):
    return {flag["code"]: flag for flag in redflags.assess(text, **kwargs)[1]}


def test_every_shipped_row_loads_and_cites_a_source():
    with (knowledge.HERE / redflags.FILE).open(encoding="utf-8") as fh:
        data_rows = [row for row in csv.DictReader(fh) if any(row.values())]
    rules = redflags.rules()
    assert len(rules) == len(data_rows) >= 30
    assert {rule.code for rule in rules} >= REQUIRED
    for rule in rules:
        assert rule.source and rule.urgency in ("urgent", "stat")
        assert rule.pattern is not None or rule.icd10
        for context in rule.context:
            assert context.pattern


@pytest.mark.parametrize(("text", "code", "kwargs"), [
    ("Crushing substernal chest pain radiating to the left arm with diaphoresis.", "acs", {}),
    ("Troponin I was elevated at 2.4 ng/mL.", "acs", {}),
    ("Admitted with an NSTEMI last night.", "acs", {}),
    ("Sudden onset of right-sided weakness and facial droop this morning.", "stroke", {}),
    ("His wife noticed slurred speech at breakfast.", "stroke", {}),
    ("Low back pain with new urinary retention since yesterday.", "cauda_equina", {}),
    ("Reports saddle anesthesia.", "cauda_equina", {}),
    ("Known metastatic breast cancer; now thoracic back pain and leg weakness.", "cord_compression", {}),
    ("MRI: epidural metastasis with cord compression at T8.", "cord_compression", {}),
    ("Fever of 39.4 and hypotension on arrival.", "sepsis", {}),
    ("Lactate 5.2 mmol/L.", "sepsis", {}),
    ("Colon cancer presenting with large bowel obstruction.", "malignancy_obstruction_bleeding", {}),
    ("Lung mass on CT; she reports hemoptysis.", "malignancy_obstruction_bleeding", {}),
    ("He has suicidal ideation with a plan to kill himself.", "suicidal_intent", {}),
    ("CT angiogram confirms pulmonary embolism.", "pulmonary_embolism", {}),
    ("Tearing chest pain radiating to the back; rule out aortic dissection.", "aortic_dissection", {}),
    ("Sudden onset of left testicular pain two hours ago.", "testicular_torsion", {"sex": "male", "age": 15}),
    ("Positive pregnancy test with right lower quadrant pain and vaginal bleeding.", "ectopic_pregnancy",
     {"sex": "female", "age": 28}),
    ("Worst headache of her life, started while lifting.", "subarachnoid_hemorrhage", {}),
    ("Developed anaphylaxis after a bee sting.", "anaphylaxis", {}),
    ("Presents in diabetic ketoacidosis.", "dka", {}),
    ("Febrile neutropenia on day 10 of the cycle.", "neutropenic_fever", {}),
    ("Fever of 38.6; ANC of 300.", "neutropenic_fever", {}),
    ("Acute limb ischemia of the right leg.", "acute_limb_ischemia", {}),
    ("Cold, pulseless left foot since this morning.", "acute_limb_ischemia", {}),
])
def test_positive_examples(text, code, kwargs):
    urgency, flags = redflags.assess(text, **kwargs)
    found = {flag["code"]: flag for flag in flags}
    assert code in found, flags
    assert urgency in ("urgent", "stat")
    assert found[code]["evidence"] and found[code]["source"] and found[code]["label"]


@pytest.mark.parametrize(("text", "code"), [
    ("Denies chest pain radiating to the arm or diaphoresis.", "acs"),
    ("Troponin negative times two; no ST elevation.", "acs"),
    ("No facial droop, no slurred speech.", "stroke"),
    ("History of stroke with residual left hemiparesis.", "stroke"),
    ("CVA tenderness absent bilaterally.", "stroke"),
    ("Low back pain. No urinary retention or incontinence.", "cauda_equina"),
    ("The conus medullaris and cauda equina are unremarkable.", "cauda_equina"),
    ("MRI shows no cord compression.", "cord_compression"),
    ("Afebrile. Denies fever or chills. Mildly tachycardic.", "sepsis"),
    ("Rheumatic fever as a child; tachycardia at rest.", "sepsis"),
    ("She denies suicidal ideation.", "suicidal_intent"),
    ("Pulmonary embolism was ruled out by CT angiogram.", "pulmonary_embolism"),
    ("Risks include bleeding, infection, deep vein thrombosis, pulmonary embolism and death.", "pulmonary_embolism"),
    ("Bilateral PE tube placement.", "pulmonary_embolism"),
    ("Family history of aortic dissection.", "aortic_dissection"),
    ("Negative for worst headache of life.", "subarachnoid_hemorrhage"),
    ("ALLERGIES: Iodine, IV contrast (anaphylaxis), and shellfish.", "anaphylaxis"),
    ("Return to the emergency room if tongue or lip swelling occurs.", "anaphylaxis"),
    ("No history of diabetic ketoacidosis.", "dka"),
    ("Review of systems: denies cough, weight loss, dysphagia, nausea, vomiting, hematemesis, melena.", "gi_bleeding"),
    ("PAST MEDICAL HISTORY: Small bowel obstruction in 2004.", "bowel_obstruction"),
])
def test_negated_historical_and_hypothetical_mentions_do_not_flag(text, code):
    assert code not in codes(text)


@pytest.mark.parametrize(("icd10", "code"), [
    (["I21.4"], "acs"), (["I63.9"], "stroke"), (["G45.9"], "stroke"), (["G83.4"], "cauda_equina"),
    (["G95.20"], "cord_compression"), (["A41.9"], "sepsis"), (["R65.21"], "sepsis"), (["R45.851"], "suicidal_intent"),
    (["I26.99"], "pulmonary_embolism"), (["I71.010"], "aortic_dissection"), (["I60.9"], "subarachnoid_hemorrhage"),
    (["T78.2XXA"], "anaphylaxis"), (["E11.10"], "dka"), (["I74.3"], "acute_limb_ischemia"),
    (["c41.9", "i214"], "acs"),
])
def test_icd10_codes_raise_flags(icd10, code):
    urgency, flags = redflags.assess("", icd10)
    assert urgency == "stat"
    flag = next(f for f in flags if f["code"] == code)
    assert flag["evidence"].startswith("ICD-10-CM ")


def test_stat_escalation_is_the_maximum_over_flags():
    urgent_only = "Metastatic prostate cancer with new thoracic back pain."
    urgency, flags = redflags.assess(urgent_only)
    assert urgency == "urgent" and [f["code"] for f in flags] == ["cord_compression"]
    urgency, flags = redflags.assess(urgent_only + " Now unable to walk.")
    assert urgency == "stat" and [(f["code"], f["urgency"]) for f in flags] == [("cord_compression", "stat")]
    urgency, flags = redflags.assess(urgent_only + " Fever of 39 with hypotension.")
    assert urgency == "stat"
    assert [f["urgency"] for f in flags] == sorted((f["urgency"] for f in flags), key=lambda u: u != "stat")


def test_routine_text_and_bad_inputs():
    assert redflags.assess("Chronic knee pain for two years; wants a second opinion on arthroplasty.") == (
        "routine", [])
    assert redflags.assess(None, None, None, None) == ("routine", [])
    assert redflags.assess("", ["NOPE", "", None, "Z00.00"], age=-3, sex="x") == ("routine", [])


def test_sex_and_age_restrict_rows():
    torsion = "Testicular torsion suspected."
    assert "testicular_torsion" in codes(torsion, sex="male")
    assert "testicular_torsion" in codes(torsion)  # sex unknown: never silently dropped
    assert "testicular_torsion" not in codes(torsion, sex="female")
    pregnancy = "Positive pregnancy test and pelvic pain."
    assert codes(pregnancy, sex="female", age=30)["ectopic_pregnancy"]["urgency"] == "urgent"
    assert "ectopic_pregnancy" not in codes(pregnancy, sex="male")
    assert "ectopic_pregnancy" not in codes(pregnancy, sex="female", age=75)


def test_assess_is_deterministic():
    text = "Fever 39.1 with hypotension. Crushing chest pain radiating to the jaw. Suicidal ideation."
    assert redflags.assess(text) == redflags.assess(text)
    urgency, flags = redflags.assess(text)
    assert {"sepsis", "acs", "suicidal_intent"} <= {f["code"] for f in flags}


@pytest.mark.parametrize(("row", "message"), [
    ("x,X,stat,(unclosed,,,,,,,,S", "bad regex"),
    ("x,X,soon,chest,,,,,,,,S", "urgency"),
    ("x,X,stat,,,,,Q99999,,,,S", "unknown ICD-10-CM"),
    ("x,X,stat,chest,,,,,,,,", "empty source"),
    ("x,X,stat,,,,,,,,,S", "needs a pattern"),
    ("x,X,stat,chest,,,,,other,,,S", "sex"),
])
def test_a_bad_row_names_the_file_and_line(monkeypatch, tmp_path, row, message):
    header = ",".join(redflags.COLUMNS)
    (tmp_path / redflags.FILE).write_text(f"{header}\nacs,A,stat,chest pain,,,,,,,,S\n{row}\n", encoding="utf-8")
    monkeypatch.setattr(knowledge, "HERE", tmp_path)
    redflags.rules.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match=rf"red_flags\.csv line 3: .*{message}"):
            redflags.rules()
    finally:
        monkeypatch.undo()
        redflags.rules.cache_clear()
