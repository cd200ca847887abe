"""One-liners add the lay part's scores at a small weight chosen by cross-fitting at build time (issue #9)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from konsil.triage import ensemble, train
from konsil.triage.model import load


@pytest.fixture(scope="module")
def model():
    return load()


def test_the_artifact_says_the_one_liners_weight_and_applies_it_there_only(model):
    weight = model.registers["one_liner"]["lay_weight"]
    assert weight in ensemble.LAY_WEIGHTS
    assert model.lay_weight("one_liner") == weight
    assert model.lay_weight("notes") == 0.0 and model.lay_weight("lay") == 0.0


def test_the_weight_changes_one_liner_scores_and_nothing_else(model):
    text = "Carcinoma of the left breast, ER positive, for a second opinion on adjuvant therapy."
    heavier = copy.copy(model)
    heavier.registers = {**model.registers, "one_liner": {**model.registers["one_liner"], "lay_weight": 0.3}}
    assert not np.allclose(heavier.probabilities(text, register="one_liner"),
                           model.probabilities(text, register="one_liner"))
    assert np.allclose(heavier.probabilities(text, register="notes"), model.probabilities(text, register="notes"))
    assert np.allclose(heavier.probabilities("Me duele la rodilla.", register="lay"),
                       model.probabilities("Me duele la rodilla.", register="lay"))
    no_lay = copy.copy(heavier)
    no_lay.lay_part = None  # an artifact without a lay part: the weight has nothing to add
    assert no_lay.lay_weight("one_liner") == 0.0
    assert no_lay.predict(text, register="one_liner")


def _notes(n_per_class: int = 10):
    return [train.Note(id=f"{label}-{i}", labels=[label], description=f"{label} {i}")
            for label in ("a", "b", "c") for i in range(n_per_class)]


def test_the_weight_is_the_one_with_most_cross_fitted_hits_and_ties_go_to_the_smaller():
    notes = _notes()
    y = train.label_matrix(notes, ["a", "b", "c"])
    rng = np.random.default_rng(0)
    truth = y.argmax(axis=1)
    clinical = rng.normal(size=y.shape)  # noise: about a third right
    lay = np.eye(3)[truth] * 5.0  # the lay part knows the answer
    weight, hits = ensemble.choose_lay_weight(clinical, lay, y, notes)
    assert weight > 0 and hits[weight] == max(hits.values()) and hits[weight] > hits[0.0]
    weight, hits = ensemble.choose_lay_weight(np.eye(3)[truth] * 5.0, np.zeros(y.shape), y, notes)
    assert weight == 0.0 and len(set(hits.values())) == 1  # all tie: the smallest weight


def test_cross_fitted_hits_can_be_limited_to_some_rows():
    notes = _notes()
    y = train.label_matrix(notes, ["a", "b", "c"])
    scores = np.eye(3)[y.argmax(axis=1)] * 3.0
    within = np.arange(len(notes)) % 2 == 0
    hits = ensemble.cross_fitted_hits(scores, y, notes, train.Config(), within)
    assert len(hits) == within.sum() and hits.all()
