"""The specialty model: the committed artifact, numpy inference parity with scikit-learn, labels mapping."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from konsil.matching import catalog
from konsil.triage import labels, train
from konsil.triage.model import TriageModel, calibrate_top, char_wb_ngrams, load, top_map, word_ngrams

ECHO = ("2-D ECHOCARDIOGRAM: The left ventricular cavity size and wall thickness appear normal. Left ventricular "
        "ejection fraction is estimated at 55%. Mild mitral regurgitation. No pericardial effusion. Doppler "
        "interrogation shows normal tricuspid and aortic valve flow.")


@pytest.fixture(scope="module")
def model():
    return load()


@pytest.fixture(scope="module")
def notes():
    if not train.TRAINING_CSV.exists():
        pytest.skip(f"training file missing: {train.TRAINING_CSV}")
    return train.read_notes()


# --- the committed artifact ---------------------------------------------------------------------------------

def test_artifact_loads_with_its_metadata(model):
    assert len(model.version) == 12 and int(model.version, 16) >= 0
    assert model.classes == labels.labels()
    assert 0.3 < model.threshold < 1
    assert model.meta["cv"]["text"]["top1"] > 0.85  # the benchmark figures travel with the artifact
    assert load() is model  # cached


@pytest.mark.parametrize(("text", "expected"), [
    ("Cataract extraction with posterior chamber intraocular lens implantation, right eye.", "ophthalmology"),
    ("Transurethral resection of the prostate for benign prostatic hyperplasia with urinary retention.", "urology"),
    ("Colonoscopy with snare polypectomy of a sigmoid colon polyp.", "gastroenterology"),
    ("Right total knee arthroplasty for severe degenerative osteoarthritis of the knee.", "orthopedics"),
    ("Major depressive disorder, recurrent, with suicidal ideation; started on sertraline.", "psychiatry"),
])
def test_clear_texts_get_their_specialty_first(model, text, expected):
    assert model.predict(text)[0][0] == expected


def test_echocardiogram_is_cardiology_pulmonology(model):
    ranked = model.predict(ECHO)
    assert "cardiology_pulmonology" in [label for label, _p in ranked[:3]]
    assert ranked[0][0] == "cardiology_pulmonology" and not model.abstains(ranked)


def test_prediction_is_a_ranked_distribution(model):
    ranked = model.predict(ECHO)
    probs = [p for _label, p in ranked]
    assert sorted(probs, reverse=True) == probs
    assert sum(probs) == pytest.approx(1.0)
    assert {label for label, _p in ranked} == set(model.classes)
    assert model.predict_batch([ECHO, {"text": ECHO}]) == [ranked, ranked]


def test_empty_or_unknown_text_abstains(model):
    for text in ("", "   ", "zzqx qqzx"):
        ranked = model.predict(text)
        assert sum(p for _l, p in ranked) == pytest.approx(1.0)
        assert model.abstains(ranked)


def test_icd10_codes_add_a_prior(model):
    vague = "Follow-up visit. The patient is doing about the same."
    before = dict(model.predict(vague))
    after = dict(model.predict(vague, icd10=["N18.3"]))
    assert after["nephrology"] > before["nephrology"] + 0.2
    assert dict(model.predict(vague, icd10=["not-a-code", ""])) == pytest.approx(before)
    codes_only = model.predict("", icd10=["H25.9"])  # age-related cataract
    assert codes_only[0][0] == "ophthalmology"


def test_age_and_sex_scale_the_classes_they_rule_out(model):
    text = "Well-child visit: growth and development reviewed; immunizations given."
    child, adult = dict(model.predict(text, age=4)), dict(model.predict(text, age=40))
    assert adult["pediatrics"] < child["pediatrics"]
    pelvic = "Pelvic pain and abnormal uterine bleeding; transvaginal ultrasound ordered."
    assert dict(model.predict(pelvic, sex="male"))["obstetrics_gynecology"] < \
        dict(model.predict(pelvic, sex="female"))["obstetrics_gynecology"]


# --- parity: numpy inference == the scikit-learn pipeline ---------------------------------------------------

@pytest.mark.parametrize("text", ["", "a", "Ab cd, EF! x1 ", "Naïve Größe — café 2-D M-Mode; LV EF 55%.\n\tok",
                                  "short  words   a an the\nnewline", ECHO])
def test_tokenizers_match_scikit_learn(text):
    word = TfidfVectorizer(ngram_range=(1, 2)).build_analyzer()
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).build_analyzer()
    assert word_ngrams(text, (1, 2)) == word(text)
    assert char_wb_ngrams(text, (3, 5)) == char(text)
    assert word_ngrams(text, (2, 3)) == TfidfVectorizer(ngram_range=(2, 3)).build_analyzer()(text)


@pytest.fixture(scope="module")
def tiny(notes):
    """A small pipeline trained in-test (no ICD rows: fast), its portable form and a held-out sample."""
    subset = notes[:160]
    classes = sorted({label for note in subset for label in note.labels})
    vectorizers, svm = train.fit_pipeline(subset, classes, icd=False)
    fitted = train.portable(vectorizers, svm, classes)
    fitted.temperature, fitted.top_calibration = 0.2, (0.8, 0.3)
    sample = [n.text for n in notes[1000:1020]] + [n.description for n in notes[1000:1020]] + ["", "zzqx"]
    return vectorizers, svm, classes, fitted, sample


def test_inference_equals_the_scikit_learn_pipeline(tiny):
    vectorizers, svm, classes, fitted, sample = tiny
    model = TriageModel.from_fitted(fitted)
    ours = np.vstack([model.scores(text) for text in sample])
    reference = train.pipeline_scores(vectorizers, svm, classes, sample)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)
    expected = calibrate_top(train.softmax(reference, 0.2), 0.8, 0.3)
    probs = np.vstack([model.probabilities(text) for text in sample])
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-6)


def test_quantized_weights_stay_close_to_the_svm(tiny):
    from scipy.sparse import hstack

    vectorizers, svm, classes, fitted, sample = tiny
    exact = svm.decision_function(hstack([v.transform(sample) for v in vectorizers]).tocsr())
    ours = np.vstack([TriageModel.from_fitted(fitted).scores(text) for text in sample])
    assert np.abs(ours - exact).max() < 0.01
    assert (ours.argmax(axis=1) == exact.argmax(axis=1)).all()


def test_artifact_round_trip_is_reproducible(tiny, tmp_path):
    _vectorizers, _svm, _classes, fitted, sample = tiny
    first = train.write_artifact(fitted, tmp_path / "a")
    second = train.write_artifact(fitted, tmp_path / "b")
    assert first["version"] == second["version"]
    assert (tmp_path / "a" / "model.npz").read_bytes() == (tmp_path / "b" / "model.npz").read_bytes()
    loaded = TriageModel.from_dir(tmp_path / "a")
    in_memory = TriageModel.from_fitted(fitted)
    assert loaded.version == first["version"] and loaded.classes == fitted.classes
    for text in sample[:5]:
        np.testing.assert_allclose(loaded.probabilities(text), in_memory.probabilities(text), atol=1e-12)


# --- calibration, threshold and metrics ---------------------------------------------------------------------

def test_top_calibration_keeps_the_ranking_and_the_sum():
    probs = np.array([[0.7, 0.2, 0.1], [0.34, 0.33, 0.33], [1.0, 0.0, 0.0]])
    out = calibrate_top(probs, 0.5, 0.6)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert (out.argmax(axis=1) == probs.argmax(axis=1)).all()
    assert out[1, 1] == pytest.approx(out[1, 2])
    np.testing.assert_allclose(calibrate_top(probs, 1.0, 0.0), probs, atol=1e-6)


def test_beta_calibration_of_the_top_probability():
    p = np.array([0.05, 0.3, 0.5, 0.8, 0.99])
    # a == b is Platt scaling on logit(p); a, b >= 0 keeps it increasing; (1, 1, 0) is the identity
    np.testing.assert_allclose(top_map(p, 0.7, 0.7, 0.2), top_map(p, 0.7, 0.2))
    np.testing.assert_allclose(top_map(p, 1.0, 1.0, 0.0), p, atol=1e-9)
    lifted = top_map(p, 1.4, 0.2, 1.0)
    assert (np.diff(lifted) > 0).all() and lifted[2] > 0.5  # the middle raised, the order kept
    probs = np.array([[0.6, 0.3, 0.1], [0.4, 0.35, 0.25]])
    out = calibrate_top(probs, 1.4, 0.2, 1.0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert (out.argmax(axis=1) == 0).all() and out[0, 1] / out[0, 2] == pytest.approx(3.0)


def test_threshold_is_the_lowest_confidence_keeping_selective_accuracy():
    confidence = np.array([0.99, 0.95, 0.9, 0.8, 0.6, 0.5])
    correct = np.array([True, True, True, False, True, False])
    assert train.choose_threshold(confidence, correct, 0.75) == 0.6  # 4 of 5 accepted right
    assert train.choose_threshold(confidence, correct, 1.0) == 0.9
    assert train.choose_threshold(confidence, ~correct, 0.95) == 1.0  # nothing reaches it: abstain always


def test_metrics_count_any_label_as_right():
    y = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=bool)
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    m = train.metrics(probs, y, threshold=0.65)
    assert m["top1"] == pytest.approx(2 / 3) and m["top3"] == 1.0
    assert m["coverage"] == pytest.approx(2 / 3) and m["selective_accuracy"] == 1.0
    assert 0 <= m["ece"] <= 1


def test_extra_rows_accept_classes_and_catalog_codes():
    classes = labels.labels()
    rows = [{"text": "echo", "label": "cardiology_pulmonology"}, {"text": "knee", "label": "orthopedic_surgery"},
            {"text": "x", "label": "no_such_thing"}, {"text": "  ", "label": "urology"}]
    notes = train.extra_notes(rows, classes)
    assert [n.labels for n in notes] == [["cardiology_pulmonology"], ["orthopedics"]]


# --- labels -> catalog specialties --------------------------------------------------------------------------

def test_every_class_maps_to_catalog_specialties(notes):
    classes = sorted({label for note in notes for label in note.labels})
    assert set(classes) <= set(labels.labels())  # plus the patient classes (internal medicine, ...)
    classes = labels.labels()
    known = {row["code"] for row in catalog.rows()}
    for label in classes:
        codes = labels.specialties_for(label)
        assert codes, label
        assert set(codes) <= known, f"{label} -> {codes}: add the catalog rows"


def test_ranked_specialties_sum_the_classes_routing_to_a_code():
    ranked = labels.ranked_specialties([("cardiology_pulmonology", 0.6), ("neurology", 0.3), ("unknown", 0.1)])
    by_code = {r["code"]: r for r in ranked}
    # a class routing to two specialties, with no words or codes to tell them apart: shared evenly
    assert by_code["cardiology"]["probability"] == by_code["pulmonology"]["probability"] == 0.3
    assert by_code["cardiology"]["name"] == "Cardiology"
    assert [r["code"] for r in ranked] == ["cardiology", "neurology", "pulmonology"]  # ties by code
    assert labels.specialties_for("orthopedics") == ["orthopedic_surgery"]
    assert labels.specialties_for("nope") == []


def test_icd_routes_reach_classes_through_parents_and_prior_from():
    assert labels.labels_for_specialty("interventional_cardiology") == ("cardiology_pulmonology",)  # parent
    assert labels.labels_for_specialty("breast_oncology") == ("hematology_oncology",)
    assert labels.labels_for_specialty("spine_surgery") == ("orthopedics",)
    assert labels.labels_for_specialty("internal_medicine") == ("internal_medicine",)
    assert labels.labels_for_specialty("radiology") == ()
