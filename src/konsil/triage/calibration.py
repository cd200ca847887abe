"""Calibration and metrics of the specialty model (build time): temperatures, per-register class offsets, Platt
scaling of the top probability, abstention thresholds, and the figures the benchmark reports."""

from __future__ import annotations

import numpy as np

BIAS_L2 = 0.01  # penalty on the per-register class offsets


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of 'one of the note's labels' (grid, then refine)."""
    def nll(t: float) -> float:
        p = (softmax(scores, t) * y).sum(axis=1)
        return float(-np.log(np.clip(p, 1e-12, None)).mean())

    grid = np.exp(np.linspace(np.log(0.01), np.log(10), 121))
    best = min(grid, key=nll)
    fine = np.linspace(best / 1.06, best * 1.06, 41)
    return round(float(min(fine, key=nll)), 5)


def fit_top_calibration(confidence: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    """Platt scaling of the top-1 probability against 'the top class is one of the labels' (multi-label notes
    split their mass over several right classes, so temperature alone leaves the middle under-confident)."""
    from sklearn.linear_model import LogisticRegression

    from .model import logit

    lr = LogisticRegression(C=1e6, max_iter=1000).fit(logit(confidence)[:, None], correct.astype(int))
    return round(float(lr.coef_[0, 0]), 5), round(float(lr.intercept_[0]), 5)


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The lowest top-1 probability whose accepted cases (>= it) keep selective accuracy >= target."""
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(hits >= target)
    if not len(ok):
        return 1.0
    return round(float(confidence[order][ok[-1]]), 4)


def metrics(probs: np.ndarray, y: np.ndarray, threshold: float | None = None, bins: int = 15) -> dict:
    """top-1/top-3 (right when any of the note's labels), macro-F1, ECE, selective accuracy and coverage."""
    order = np.argsort(-probs, axis=1, kind="stable")
    rows = np.arange(len(y))
    top1 = order[:, 0]
    correct = y[rows, top1]
    top3 = y[rows[:, None], order[:, :3]].any(axis=1)
    confidence = probs[rows, top1]
    truth = np.where(correct, top1, y.argmax(axis=1))  # a multi-label note counts for the label predicted if right
    f1s = []
    for c in range(y.shape[1]):
        tp = np.sum((top1 == c) & (truth == c))
        fp = np.sum((top1 == c) & (truth != c))
        fn = np.sum((top1 != c) & (truth == c))
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (confidence > lo) & (confidence <= hi)
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - confidence[sel].mean())
    out = {"n": int(len(y)), "top1": float(correct.mean()), "top3": float(top3.mean()),
           "macro_f1": float(np.mean(f1s)), "ece": float(ece)}
    if threshold is not None:
        accepted = confidence >= threshold
        out["coverage"] = float(accepted.mean())
        out["selective_accuracy"] = float(correct[accepted].mean()) if accepted.any() else None
    return out


def calibrate_register(scores: np.ndarray, y: np.ndarray, target: float) -> dict:
    """Temperature, class offsets (the register's own prior over classes), top-1 Platt scaling and abstention
    threshold, fitted on one register's out-of-fold scores."""
    from .model import calibrate_top

    temperature = fit_temperature(scores, y)
    bias = fit_bias(scores / temperature, y)
    shifted = scores + temperature * bias  # softmax(scores / T + bias)
    top = fit_top_calibration(*confidence_correct(softmax(shifted, temperature), y))
    probs = calibrate_top(softmax(shifted, temperature), *top)
    return {"temperature": temperature, "bias": [round(float(b), 4) for b in bias], "top_calibration": list(top),
            "threshold": choose_threshold(*confidence_correct(probs, y), target)}


def fit_bias(z: np.ndarray, y: np.ndarray, l2: float = BIAS_L2, steps: int = 400, rate: float = 2.0) -> np.ndarray:
    """Per-class offsets b minimising the NLL of softmax(z + b) for 'one of the labels', with an L2 penalty: a
    register's prior over classes (clinical notes never carry the patient-only classes, patients rarely write
    about bariatric surgery). Gradient descent from zero; classes with no example stay bounded by the penalty."""
    bias = np.zeros(z.shape[1])
    for _ in range(steps):
        p = softmax(z + bias)
        q = p * y
        q = q / np.clip(q.sum(axis=1, keepdims=True), 1e-12, None)
        grad = (p - q).mean(axis=0) + l2 * bias
        bias -= rate * grad
    return bias


def confidence_correct(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    top1 = probs.argmax(axis=1)
    rows = np.arange(len(y))
    return probs[rows, top1], y[rows, top1]
