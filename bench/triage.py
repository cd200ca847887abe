"""Triage benchmark (make bench-triage): stratified 5-fold CV on the training file, model vs a plain baseline.

For full notes (`text`) and one-liners (`description`): top-1 and top-3 (right when any of the note's labels),
macro-F1, ECE (15 bins), selective accuracy and coverage at the abstention threshold; p50/p95 latency of a
single-case predict through model.py; the artifact's size. The model's CV predictions go through model.py's
numpy inference (the code that runs in production), the baseline's through scikit-learn.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from konsil.triage import train  # noqa: E402
from konsil.triage.model import ARTIFACT_DIR, TriageModel, load  # noqa: E402

TARGETS = {"text": {"top1": 0.92, "top3": 0.99}, "description": {"top1": 0.88, "top3": 0.96},
           "ece": 0.05, "p95_ms": 20.0}


def baseline_cv(notes, classes, k: int = 5) -> train.CVResult:
    """Plain TF-IDF (word unigrams, sublinear tf) + multinomial logistic regression on notes and descriptions."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    y = train.label_matrix(notes, classes)
    text_p, desc_p = np.zeros(y.shape), np.zeros(y.shape)
    for train_idx, test_idx in train.folds(notes, k):
        docs = [notes[i].text for i in train_idx] + [notes[i].description for i in train_idx]
        targets = [notes[i].labels[0] for i in train_idx] * 2
        vectorizer = TfidfVectorizer(sublinear_tf=True)
        matrix = vectorizer.fit_transform(docs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lr = LogisticRegression(C=100, max_iter=1000).fit(matrix, targets)
        cols = [classes.index(c) for c in lr.classes_]
        text_p[np.ix_(test_idx, cols)] = lr.predict_proba(vectorizer.transform([notes[i].text for i in test_idx]))
        desc_p[np.ix_(test_idx, cols)] = lr.predict_proba(
            vectorizer.transform([notes[i].description for i in test_idx]))
    # probabilities as scores with temperature 1: softmax(log p) == p
    result = train.CVResult(list(classes), y, np.log(text_p + 1e-12), np.log(desc_p + 1e-12))
    result.threshold = max(train.choose_threshold(*train._confidence_correct(result.probs(k), y), 0.95)
                           for k in ("text", "description"))
    return result


def latency(model: TriageModel, texts: list[str]) -> tuple[float, float]:
    times = []
    for text in texts:
        start = time.perf_counter()
        model.predict(text)
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 95) * 1000)


def artifact_size(path: Path = ARTIFACT_DIR) -> int:
    return sum(f.stat().st_size for f in Path(path).iterdir() if f.is_file())


def table(rows: list[tuple[str, str, dict]]) -> str:
    head = ("| system | input | top-1 | top-3 | macro-F1 | ECE | threshold | selective acc. | coverage "
            "| p50 ms | p95 ms |")
    lines = [head, "|" + "---|" * 11]
    for system, kind, m in rows:
        lines.append(f"| {system} | {kind} | {m['top1']:.3f} | {m['top3']:.3f} | {m['macro_f1']:.3f} | "
                     f"{m['ece']:.3f} | {m['threshold']:.3f} | {m['selective_accuracy']:.3f} | "
                     f"{m['coverage']:.3f} | {m.get('p50', float('nan')):.1f} | {m.get('p95', float('nan')):.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(train.TRAINING_CSV))
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    notes = train.read_notes(args.data)
    classes = sorted({label for note in notes for label in note.labels})
    model = load()
    print(f"training file: {args.data} ({len(notes)} notes, {len(classes)} classes); "
          f"artifact {model.version}, threshold {model.threshold}, {artifact_size() / 1e6:.2f} MB", flush=True)

    t0 = time.perf_counter()
    cv = train.cross_validate(notes, classes)
    print(f"model CV: {time.perf_counter() - t0:.0f} s (calibration T={cv.temperature}, "
          f"top {cv.top_calibration}, threshold {cv.threshold})", flush=True)
    rows = []
    lat = {"text": latency(model, [n.text for n in notes]),
           "description": latency(model, [n.description for n in notes])}
    for kind, figures in cv.report().items():
        rows.append(("model", kind, {**figures, "threshold": cv.threshold, "p50": lat[kind][0],
                                     "p95": lat[kind][1]}))
    if not args.skip_baseline:
        t0 = time.perf_counter()
        base = baseline_cv(notes, classes)
        print(f"baseline CV: {time.perf_counter() - t0:.0f} s", flush=True)
        for kind, figures in base.report().items():
            rows.append(("baseline TF-IDF+LR", kind, {**figures, "threshold": base.threshold}))
    print()
    print(table(rows))
    print()
    codes_p50, codes_p95 = _latency_with_codes(model, [n.text for n in notes[:200]])
    print(f"latency with two ICD-10-CM codes (8 distinct codes, routes cached after first use): "
          f"p50 {codes_p50:.1f} ms, p95 {codes_p95:.1f} ms")
    print(f"artifact: {artifact_size() / 1e6:.2f} MB; total bench time {time.perf_counter() - started:.0f} s")
    misses = _misses(rows)
    print("targets: " + ("all met" if not misses else "missed: " + "; ".join(misses)))
    return 0


def _latency_with_codes(model: TriageModel, texts: list[str]) -> tuple[float, float]:
    codes = ["I25.10", "E11.9", "M54.16", "C50.911", "G40.909", "N18.3", "K21.9", "J45.909"]
    times = []
    for n, text in enumerate(texts):
        start = time.perf_counter()
        model.predict(text, icd10=[codes[n % len(codes)], codes[(n + 3) % len(codes)]])
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 95) * 1000)


def _misses(rows) -> list[str]:
    out = []
    for system, kind, m in rows:
        if system != "model":
            continue
        for key, target in TARGETS[kind].items():
            if m[key] < target:
                out.append(f"{kind} {key} {m[key]:.3f} < {target}")
        if m["ece"] > TARGETS["ece"]:
            out.append(f"{kind} ECE {m['ece']:.3f} > {TARGETS['ece']}")
        if m["p95"] > TARGETS["p95_ms"]:
            out.append(f"{kind} p95 {m['p95']:.1f} ms > {TARGETS['p95_ms']}")
    return out


if __name__ == "__main__":
    sys.exit(main())
