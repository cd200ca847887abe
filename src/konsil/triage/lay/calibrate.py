"""The lay register's calibration, fitted on hand-written patient texts (calibration.csv), not generated ones.

Generated training text is cleaner than what patients write, so probabilities calibrated on it out of fold
were over-confident on real words. calibration.csv is a separate hand-written split: never trained on, never
part of the held-out evaluation (heldout.csv). It fits, on the engine's outcome (ml.assess_text, the
"needs a generalist first" rule included):

- the temperature of the lay part's scores and the map of the first choice's probability (Platt (a, b) or beta
  calibration (a, b, c)), chosen together by 5-fold cross-fitting on the calibration texts: each candidate is
  fitted on four fifths and scored (log-loss of "the first choice is right") on the fifth it never saw, three
  shuffles; the best is refitted on all of them. The former choice (temperature by the labels' likelihood,
  then Platt fitted in sample) left held-out texts at 0.5-0.8 more often right than said, a shape a sigmoid
  in logit(p) cannot follow; beta calibration can, with one parameter more,
- the abstention threshold: the lowest calibrated probability whose accepted texts keep the target selective
  accuracy,
- the confidence of the "needs a generalist first" outcome: how often internal medicine was right when the rule
  fired (Laplace-smoothed), since that outcome is a rule and not the model's probability.

No class offsets: 27 of them would need more than 189 texts. Generated text is still cross-validated out of fold
for the benchmark's figure (train.cross_validate), not for the artifact's calibration.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from . import HERE, written

CALIBRATION = HERE / "calibration.csv"


def rows(path: str | Path = CALIBRATION) -> list[dict]:
    """{"split", "language", "label", "text", "answer"} per hand-written calibration text."""
    return written(path)


TEMPERATURES = (0.05, 0.07, 0.1, 0.14, 0.2, 0.3)  # the lay part's scores; the labels' NLL fit lands near 0.14
MAPS = ("platt", "beta")
CROSS_FIT_FOLDS = 5
CROSS_FIT_SHUFFLES = 3
SEED = 0


def _outcomes(model, texts: list[str]) -> list[tuple[str, float, str, str]]:
    """(first choice, its probability, abstain reason, register) of the engine for each text."""
    from ..ml import assess_text

    out = []
    for text in texts:
        found = assess_text(text, model=model)
        first = (found["order"] or [""])[0]
        out.append((first, dict(found["labels"]).get(first, 0.0), found["abstain_reason"], found["register"]))
    return out


def _with_lay(model, **changes):
    """A shallow copy of `model` whose lay register calibration has `changes`."""
    changed = copy.copy(model)
    changed.registers = {**model.registers, "lay": {**model.registers["lay"], **changes}}
    return changed


def fit_map(kind: str, confidence: np.ndarray, correct: np.ndarray) -> list[float]:
    """Platt (a, b) or beta (a, b, c) parameters of model.top_map for "the first choice is right", by logistic
    regression with scikit-learn's default L2 penalty (C=1: 189 texts). A beta fit that would not be monotone
    (a or b below 0) falls back to Platt."""
    from sklearn.linear_model import LogisticRegression

    p = np.clip(confidence, 1e-9, 1 - 1e-9)
    y = correct.astype(int)
    if len(set(y)) < 2:  # all right or all wrong: nothing to scale
        return [1.0, 0.0]
    if kind == "beta":
        lr = LogisticRegression(max_iter=5000).fit(np.c_[np.log(p), -np.log(1 - p)], y)
        a, b = (float(v) for v in lr.coef_[0])
        if a >= 0 and b >= 0:
            return [round(a, 5), round(b, 5), round(float(lr.intercept_[0]), 5)]
    lr = LogisticRegression(max_iter=5000).fit(np.log(p / (1 - p))[:, None], y)
    return [round(float(lr.coef_[0, 0]), 5), round(float(lr.intercept_[0]), 5)]


def cross_fitted_loss(kind: str, confidence: np.ndarray, correct: np.ndarray) -> float:
    """Mean log-loss of a map fitted on the other folds, on texts it never saw (CROSS_FIT_SHUFFLES shuffles)."""
    from ..model import top_map

    rng = np.random.default_rng(SEED)
    losses = []
    for _ in range(CROSS_FIT_SHUFFLES):
        order = rng.permutation(len(confidence))
        out = np.zeros(len(confidence))
        for fold in range(CROSS_FIT_FOLDS):
            test = order[fold::CROSS_FIT_FOLDS]
            train = np.setdiff1d(order, test)
            out[test] = top_map(confidence[test], *fit_map(kind, confidence[train], correct[train]))
        q = np.clip(out, 1e-4, 1 - 1e-4)
        losses.append(-np.mean(correct * np.log(q) + (1 - correct) * np.log(1 - q)))
    return float(np.mean(losses))


def _scored(model, texts: list[str], truth: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(first choice's probability, right) of the lay texts the model scores (not the rule's outcome)."""
    pairs = [(p, first == label) for (first, p, reason, register), label in
             zip(_outcomes(model, texts), truth, strict=True) if reason != "generalist_first" and register == "lay"]
    return np.array([p for p, _ok in pairs]), np.array([ok for _p, ok in pairs])


def fit(model, calibration_rows: list[dict], target: float) -> dict:
    """The lay register's {"temperature", "top_calibration", "threshold", "generalist_first_confidence",
    "calibration"} from the hand-written calibration texts, for `model` (a TriageModel with a "lay" register):
    the temperature and map with the lowest cross-fitted log-loss, refitted on every text."""
    from ..model import top_map
    from ..train import choose_threshold

    texts = [r["text"] for r in calibration_rows]
    truth = [r["label"] for r in calibration_rows]
    candidates = []
    for temperature in TEMPERATURES:
        confidence, correct = _scored(_with_lay(model, temperature=temperature, top_calibration=[1.0, 0.0],
                                                threshold=0.0), texts, truth)
        for kind in MAPS:
            candidates.append((cross_fitted_loss(kind, confidence, correct), temperature, kind, confidence, correct))
    loss, temperature, kind, confidence, correct = min(candidates, key=lambda c: c[:3])
    top = fit_map(kind, confidence, correct)
    threshold = choose_threshold(top_map(confidence, *top), correct, target)
    fitted = _with_lay(model, temperature=temperature, top_calibration=top, threshold=threshold)
    rule = [first == label for (first, _p, reason, _r), label in zip(_outcomes(fitted, texts), truth, strict=True)
            if reason == "generalist_first"]
    generalist = (sum(rule) + 1) / (len(rule) + 2)
    return {"temperature": temperature, "top_calibration": top, "threshold": threshold,
            "generalist_first_confidence": round(generalist, 4),
            "calibration": {"source": CALIBRATION.name, "n": len(calibration_rows), "target": target,
                            "generalist_first_n": len(rule), "map": kind,
                            "cross_fitted_log_loss": round(loss, 4)}}


def register(model, calibration_rows: list[dict], target: float) -> dict:
    """The whole lay register for `model` (its lay part trained, no lay calibration yet): no class offsets (27
    of them would need more than 189 texts), then `fit` (temperature, map, threshold)."""
    base = {"temperature": 1.0, "bias": [0.0] * len(model.classes), "top_calibration": [1.0, 0.0], "threshold": 0.0}
    staged = copy.copy(model)
    staged.registers = {**model.registers, "lay": base}
    return {**base, **fit(staged, calibration_rows, target)}
