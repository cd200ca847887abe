"""The lay register's calibration, fitted on hand-written patient texts (calibration.csv), not generated ones.

Generated training text is cleaner than what patients write, so probabilities calibrated on it out of fold
were over-confident on real words. calibration.csv is a separate hand-written split: never trained on, never
part of the held-out evaluation (heldout.csv). It fits, on the engine's outcome (ml.assess_text, the
"needs a generalist first" rule included):

- the temperature of the lay part's scores (negative log-likelihood of the texts' labels),
- the Platt scaling of the first choice's probability (a, b),
- the abstention threshold: the lowest calibrated probability whose accepted texts keep the target selective
  accuracy,
- the confidence of the "needs a generalist first" outcome: how often internal medicine was right when the rule
  fired (Laplace-smoothed), since that outcome is a rule and not the model's probability.

No class offsets: 27 of them would need more than 189 texts. Generated text is still cross-validated out of fold
for the benchmark's figure (train.cross_validate), not for the artifact's calibration.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import numpy as np

from . import HERE

CALIBRATION = HERE / "calibration.csv"


def rows(path: str | Path = CALIBRATION) -> list[dict]:
    """{"split", "language", "label", "text", "answer"} per hand-written calibration text."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _outcomes(model, texts: list[str]) -> list[tuple[str, float, str]]:
    """(first choice, its probability, abstain reason) of the engine for each text."""
    from ..ml import assess_text

    out = []
    for text in texts:
        found = assess_text(text, model=model)
        first = (found["order"] or [""])[0]
        out.append((first, dict(found["labels"]).get(first, 0.0), found["abstain_reason"]))
    return out


def _with_lay(model, **changes):
    """A shallow copy of `model` whose lay register calibration has `changes`."""
    changed = copy.copy(model)
    changed.registers = {**model.registers, "lay": {**model.registers["lay"], **changes}}
    return changed


def fit(model, calibration_rows: list[dict], target: float) -> dict:
    """The lay register's {"top_calibration", "threshold", "generalist_first_confidence", "calibration"} from the
    hand-written calibration texts, for `model` (a TriageModel with a "lay" register)."""
    from ..model import logit
    from ..train import choose_threshold, fit_top_calibration

    texts = [r["text"] for r in calibration_rows]
    truth = [r["label"] for r in calibration_rows]
    raw = _outcomes(_with_lay(model, top_calibration=[1.0, 0.0], threshold=0.0), texts)
    scored = [(p, first == label) for (first, p, reason), label in zip(raw, truth, strict=True)
              if reason != "generalist_first"]
    confidence = np.array([p for p, _ok in scored])
    correct = np.array([ok for _p, ok in scored])
    top = fit_top_calibration(confidence, correct)
    calibrated = 1.0 / (1.0 + np.exp(-(top[0] * logit(confidence) + top[1])))
    threshold = choose_threshold(calibrated, correct, target)
    fitted = _with_lay(model, top_calibration=list(top), threshold=threshold)
    rule = [first == label for (first, _p, reason), label in zip(_outcomes(fitted, texts), truth, strict=True)
            if reason == "generalist_first"]
    generalist = (sum(rule) + 1) / (len(rule) + 2)
    return {"top_calibration": list(top), "threshold": threshold, "generalist_first_confidence": round(generalist, 4),
            "calibration": {"source": CALIBRATION.name, "n": len(calibration_rows), "target": target,
                            "generalist_first_n": len(rule)}}


def register(model, calibration_rows: list[dict], target: float) -> dict:
    """The whole lay register for `model` (its lay part trained, no lay calibration yet): the temperature that
    minimises the negative log-likelihood of the calibration texts' labels, no class offsets, then `fit`."""
    from ..train import Note, fit_temperature, label_matrix

    scores = np.vstack([model.lay_part.scores(r["text"]) for r in calibration_rows])
    y = label_matrix([Note(id=str(n), labels=[r["label"]]) for n, r in enumerate(calibration_rows)], model.classes)
    temperature = fit_temperature(scores, y)
    base = {"temperature": temperature, "bias": [0.0] * len(model.classes), "top_calibration": [1.0, 0.0],
            "threshold": 0.0}
    staged = copy.copy(model)
    staged.registers = {**model.registers, "lay": base}
    return {**base, **fit(staged, calibration_rows, target)}
