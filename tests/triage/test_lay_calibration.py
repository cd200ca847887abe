"""The lay register's calibration on hand-written texts (issue #17), kept apart from the held-out texts; bare organ
names say where, not what; the generator adds what patients add around a problem."""

from __future__ import annotations

import copy
import csv

import numpy as np
import pytest

from konsil.triage import lay
from konsil.triage.lay import calibrate, generate
from konsil.triage.ml import GENERALIST, assess_text, outcome_confidence
from konsil.triage.model import load, top_map


def _texts(name: str) -> list[dict]:
    with (lay.HERE / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_calibration_split_is_hand_written_apart_from_the_held_out_texts_and_never_generated():
    calibration, held = _texts("calibration.csv"), _texts("heldout.csv")
    assert len(calibration) >= 360 and len(held) >= 450
    texts = {r["text"] for r in calibration}
    assert not texts & {r["text"] for r in held}
    assert not texts & {t.text for t in generate.texts()}
    classes = set(load().classes)
    for language in lay.LANGUAGES:  # every class in every language, at least twice
        labels = [r["label"] for r in calibration if r["language"] == language]
        assert set(labels) == classes and min(labels.count(c) for c in classes) >= 2
    assert {r["split"] for r in calibration} == {"calib", "tune", "calib2"}
    assert {r["split"] for r in held} == {"dev", "test", "test2", "test3", "test4"}


def test_training_split_is_hand_written_apart_from_calibration_and_held_out_texts():
    """lay/training.csv: four writers, every class in every language, no text shared with the splits that
    calibrate or judge (a shared text would be a test the model trained on)."""
    written = lay.written()
    assert written == _texts("training.csv") and len(written) >= 400
    texts = {r["text"] for r in written}
    assert len(texts) == len(written)
    assert not texts & {r["text"] for r in _texts("calibration.csv") + _texts("heldout.csv")}
    assert {r["split"] for r in written} == {"train-A", "train-B", "train-C", "train-D"}
    classes = set(load().classes)
    for language in lay.LANGUAGES:
        assert {r["label"] for r in written if r["language"] == language} == classes


def test_the_lay_part_trains_on_the_hand_written_split_and_nothing_without_a_lay_part():
    from dataclasses import replace

    from konsil.triage import train

    config = replace(train.Config(), lay_per_class=1)
    notes = train.lay_notes(config)
    written = [n for n in notes if n.id.startswith("lay-written-")]
    assert [n.text for n in written] == [r["text"] for r in lay.written()] * config.lay_written_repeat
    assert all(n.register == "lay" and n.labels == [r["label"]] for n, r in zip(written, lay.written()))
    assert len(notes) > len(written)  # the generated texts too
    assert train.lay_notes(replace(config, lay_per_class=0)) == []  # clinical-only builds stay clinical-only
    assert train.lay_notes(replace(config, lay_written_repeat=0)) == [n for n in notes if n not in written]


def test_the_artifact_calibrates_the_lay_register_on_the_calibration_split():
    cal = load().registers["lay"]
    assert cal["calibration"]["source"] == "calibration.csv" and cal["calibration"]["n"] == len(
        _texts("calibration.csv"))
    assert 0.3 <= cal["threshold"] < 1 and 0 < cal["generalist_first_confidence"] < 1
    assert not any(cal["bias"])  # no class offsets from a few hundred texts
    # temperature and map chosen by cross-fitting on the same split, and said so
    assert cal["temperature"] in calibrate.TEMPERATURES and cal["calibration"]["map"] in calibrate.MAPS
    assert len(cal["top_calibration"]) == {"platt": 2, "beta": 3}[cal["calibration"]["map"]]
    assert 0 < cal["calibration"]["cross_fitted_log_loss"] < 0.5


def test_fit_on_a_few_texts_chooses_temperature_and_map_by_cross_fitting():
    model = load()
    rows = [r for r in _texts("calibration.csv") if r["language"] == "es"][:30]
    fitted = calibrate.fit(model, rows, target=0.9)
    assert set(fitted) == {"temperature", "top_calibration", "threshold", "generalist_first_confidence",
                           "calibration"}
    assert fitted["temperature"] in calibrate.TEMPERATURES and 0 <= fitted["threshold"] <= 1
    meta = fitted["calibration"]
    assert meta["map"] in calibrate.MAPS and len(fitted["top_calibration"]) == {"platt": 2, "beta": 3}[meta["map"]]
    assert meta["cross_fitted_log_loss"] > 0
    assert {k: meta[k] for k in ("source", "n", "target")} == {"source": "calibration.csv", "n": 30, "target": 0.9}
    assert calibrate.fit(model, rows, target=0.9) == fitted  # fixed seeds: same texts, same calibration


def test_the_map_is_judged_on_texts_it_was_not_fitted_on():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.05, 0.999, 2000)
    correct = rng.uniform(size=2000) < top_map(confidence, 1.4, 0.5, 1.0)  # the middle under-confident
    a, b, c = calibrate.fit_map("beta", confidence, correct)
    assert abs(a - 1.4) < 0.2 and abs(b - 0.5) < 0.2 and abs(c - 1.0) < 0.2
    assert len(calibrate.fit_map("platt", confidence, correct)) == 2
    # scored on texts each fit never saw: evidence that says something beats the same values shuffled
    assert calibrate.cross_fitted_loss("beta", confidence[:300], correct[:300]) < calibrate.cross_fitted_loss(
        "beta", rng.permutation(confidence[:300]), correct[:300])
    # nothing to learn from (all right, or all wrong): the identity, never a crash
    assert calibrate.fit_map("beta", confidence[:5], np.ones(5, dtype=bool)) == [1.0, 0.0]
    # a beta fit that would not be monotone falls back to Platt
    decreasing = rng.uniform(size=2000) < 1 - confidence
    assert len(calibrate.fit_map("beta", confidence, decreasing)) == 2


def test_generalist_first_reports_the_rules_calibrated_confidence():
    model = load()
    found = assess_text("I feel dizzy and weak all the time and I don't know why.", model=model)
    assert found["abstain_reason"] == "generalist_first" and found["order"][0] == GENERALIST
    assert found["confidence"] == model.registers["lay"]["generalist_first_confidence"]
    # any other outcome reports the model's probability of its first choice
    found = assess_text("I was told I have cataracts and they want to do cataract surgery.", model=model)
    assert found["confidence"] == dict(found["labels"])[found["order"][0]]
    # an artifact without the fitted figure falls back to the model's probability
    bare = copy.copy(model)
    bare.registers = {"lay": {k: v for k, v in model.registers["lay"].items() if k != "generalist_first_confidence"}}
    labels = [(GENERALIST, 0.2), ("neurology", 0.1)]
    assert outcome_confidence(bare, "lay", labels, [GENERALIST], "generalist_first") == 0.2


@pytest.mark.parametrize(("text", "site"), [
    ("My blood work came back odd", "site_blood"), ("my knee", "site_knee"), ("Me duele la cabeza", "site_head"),
    ("腎臓に何かあると言われました", "site_kidney"),
])
def test_a_bare_organ_name_says_where_not_what(text, site):
    hits = {h["concept"]: h for h in lay.lookup(text)}
    assert site in hits and hits[site]["kind"] == "site"
    assert hits[site]["clinical"] not in lay.prepare(text)  # no clinical phrase for the model


def test_longer_wording_still_names_the_problem():
    assert [h["concept"] for h in lay.lookup("腎臓に石があると言われました")][:1] == ["kidney_stone"]
    assert "kidney_stone" in {h["concept"] for h in lay.lookup("I have stones in my kidney")}
    assert "incontinence" in {h["concept"] for h in lay.lookup("Se me escapa la orina cuando toso")}


def test_acronyms_match_beside_japanese():
    assert "hiv" in {h["concept"] for h in lay.lookup("HIVに感染していると言われました")}
    assert lay.lookup("HIVX") == [] and lay.lookup("xHIV") == []


def test_generated_texts_carry_context_and_other_conditions_in_passing():
    texts = generate.texts(per_class=6)
    context = {s for sentences in generate.CONTEXT.values() for s in sentences}
    assert any(any(s in t.text for s in context) for t in texts)
    assert any("under control" in t.text or "está controlado" in t.text or "落ち着いています" in t.text
               for t in texts)
    # a condition said in passing belongs to another class, and the text keeps its own label
    passing = [t for t in texts if "but that is under control" in t.text]
    assert passing and all(t.label for t in passing)
