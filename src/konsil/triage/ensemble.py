"""The one-liners' small ensemble (issue #9): the lay part's scores, which never saw the notes, added to the
clinical part's at a weight chosen by cross-fitted top-1 on the out-of-fold scores (train.build), and judged
nested in the benchmark (bench/triage.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .calibration import fit_bias, fit_temperature
from .train import Config, Note, folds

# Small steps where the choice lands (0.05 on all folds). The earlier grid (0, 0.05, 0.1, 0.2, 0.3) let one outer
# fold pick 0.2 once the lay part also trained on hand-written patient texts: nested 1,250/1,423 against 1,254 here.
LAY_WEIGHTS = (0.0, 0.025, 0.05, 0.075, 0.1)


def cross_fitted_hits(scores: np.ndarray, y: np.ndarray, notes: Sequence[Note], config: Config,
                      within: np.ndarray | None = None) -> np.ndarray:
    """Per row (of `within`, all rows by default): is the first choice right when the register's calibration
    (temperature, class offsets) is fitted on the other folds only."""
    rows = np.arange(len(y)) if within is None else np.flatnonzero(within)
    fold_of = np.full(len(y), -1)
    for fold, (_train, test) in enumerate(folds(notes, config.folds)):
        fold_of[test] = fold
    hits = np.zeros(len(y), dtype=bool)
    for fold in sorted(set(fold_of[rows])):
        test = rows[fold_of[rows] == fold]
        train_rows = rows[fold_of[rows] != fold]
        temperature = fit_temperature(scores[train_rows], y[train_rows])
        bias = fit_bias(scores[train_rows] / temperature, y[train_rows])
        hits[test] = y[test, (scores[test] + temperature * bias).argmax(axis=1)]
    return hits[rows]


def choose_lay_weight(desc_scores: np.ndarray, lay_scores: np.ndarray, y: np.ndarray, notes: Sequence[Note],
                      config: Config | None = None, within: np.ndarray | None = None) -> tuple[float, dict]:
    """The one-liners' small ensemble: the weight w of the lay part's scores (which never saw the notes) added to
    the clinical part's out-of-fold scores, the one with the most cross-fitted top-1 hits (ties: the smaller w).
    Returns (w, {w: hits}). `within` restricts the choice to some rows (nested cross-validation in the bench)."""
    config = config or Config()
    hits = {w: int(cross_fitted_hits(desc_scores + w * lay_scores, y, notes, config, within).sum())
            for w in LAY_WEIGHTS}
    return max(LAY_WEIGHTS, key=lambda w: (hits[w], -w)), hits
