"""The specialty model at run time: numpy only, no scikit-learn, no download.

It reproduces the training vectorizers exactly (scikit-learn's TfidfVectorizer: lower-cased text, word
1-2-grams with the token pattern \\b\\w\\w+\\b, char_wb n-grams, sublinear tf, idf, l2 norm per block),
scores with the stored linear weights, and turns scores into calibrated probabilities (softmax with the
fitted temperature). Optional ICD-10-CM codes add a prior through icd10_routes.csv; age and sex scale
the classes they rule out.

A patient's own words (lay.register says "lay") are scored by the artifact's lay part ("lay_" arrays), whose
text first goes through lay.prepare (Japanese character bigrams, clinical phrases of lay concepts) as in
training; notes and one-liners by the clinical part (one-liners add the lay part's scores at a small weight,
"lay_weight", chosen by cross-fitting at build time). Each register has its own temperature, class offsets,
Platt scaling and abstention threshold when the artifact has them (meta "registers"); the lay register's are
fitted on hand-written patient texts (lay/calibrate.py).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from math import log
from pathlib import Path

import numpy as np

ARTIFACT_DIR = Path(__file__).with_name("data") / "model"
TOKEN = re.compile(r"(?u)\b\w\w+\b")
NO_TEXT_PRIOR_WEIGHT = 0.9  # codes but no usable text: the prior decides

DEFAULTS = {"icd_prior_weight": 0.35, "adult_pediatrics_factor": 0.25, "male_obgyn_factor": 0.25}


def word_ngrams(text: str, ngram_range: Sequence[int]) -> list[str]:
    tokens = TOKEN.findall(text.lower())
    low, high = ngram_range
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, ngram_range: Sequence[int]) -> list[str]:
    low, high = ngram_range
    grams = []
    for word in text.lower().split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if size <= n:
                grams.append(padded)  # a short word counts once, as in scikit-learn
                break
            grams.extend(padded[i:i + n] for i in range(size - n + 1))
    return grams


def logit(p):
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def top_map(p, *params: float):
    """The calibrated top probability: Platt sigmoid(a * logit(p) + b) for (a, b), beta calibration
    sigmoid(a * ln p - b * ln(1 - p) + c) for (a, b, c) (Kull et al. 2017; a == b is Platt)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    if len(params) == 3:
        a, b, c = params
        return 1.0 / (1.0 + np.exp(-(a * np.log(p) - b * np.log(1 - p) + c)))
    a, b = params
    return 1.0 / (1.0 + np.exp(-(a * logit(p) + b)))


def calibrate_top(probs: np.ndarray, *params: float) -> np.ndarray:
    """Calibrate each row's top probability (top_map: Platt or beta); the other classes share the rest in their
    proportions."""
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    rows = np.arange(len(probs))
    top = probs.argmax(axis=1)
    p = probs[rows, top]
    q = top_map(p, *params)
    spread = 1 - p < 1e-12  # nothing left to share in proportion: share it evenly
    rest = np.where(spread, 0.0, (1 - q) / np.clip(1 - p, 1e-12, None))
    out = probs * rest[:, None]
    if spread.any() and probs.shape[1] > 1:
        out[spread] = ((1 - q[spread]) / (probs.shape[1] - 1))[:, None]
    out[rows, top] = q
    return out


class _Block:
    """One TF-IDF block. char_wb grams depend on the word only, so each word's in-vocabulary grams are cached."""

    CACHE_WORDS = 200_000

    def __init__(self, analyzer: str, ngram_range: Sequence[int], vocabulary: list[str], idf, offset: int):
        if analyzer not in ("word", "char_wb"):
            raise ValueError(f"unknown analyzer {analyzer!r}")
        self.analyzer = analyzer
        self.ngram_range = tuple(ngram_range)
        self.index = {term: offset + i for i, term in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.offset = offset
        self._words: dict[str, tuple[int, ...]] = {}

    def _counts(self, text: str) -> Counter:
        index = self.index
        if self.analyzer == "word":
            grams = Counter(word_ngrams(text, self.ngram_range))
            return Counter({index[g]: c for g, c in grams.items() if g in index})
        counts: Counter = Counter()
        cache = self._words
        for word, times in Counter(text.lower().split()).items():
            cols = cache.get(word)
            if cols is None:
                cols = tuple(j for g in char_wb_ngrams(word, self.ngram_range) if (j := index.get(g)) is not None)
                if len(cache) >= self.CACHE_WORDS:
                    cache.clear()
                cache[word] = cols
            for j in cols:
                counts[j] += times
        return counts

    def features(self, text: str) -> tuple[list[int], list[float]]:
        counts = self._counts(text)
        if not counts:
            return [], []
        cols = sorted(counts)
        values = np.array([1.0 + log(counts[j]) for j in cols]) * self.idf[np.array(cols) - self.offset]
        values /= np.sqrt(values @ values)
        return cols, values.tolist()


class TriageModel:
    """Load with `load()`; `predict(text, icd10=(), age=None, sex=None)` -> [(label, probability)] best first."""

    def __init__(self, meta: dict, blocks: list[dict], coef: np.ndarray, intercept: np.ndarray):
        self.meta = meta
        self.version: str = meta.get("version", "unversioned")
        self.classes: list[str] = list(meta["classes"])
        self.threshold: float = float(meta.get("threshold", 0.0))
        self.temperature: float = float(meta.get("temperature", 1.0))
        self.top_calibration = tuple(meta.get("top_calibration", (1.0, 0.0)))
        self.options = {**DEFAULTS, **{k: v for k, v in meta.get("config", {}).items() if k in DEFAULTS}}
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.blocks, offset = [], 0
        for block in blocks:
            self.blocks.append(_Block(block["analyzer"], block["ngram_range"], block["vocabulary"], block["idf"],
                                      offset))
            offset += len(block["vocabulary"])
        self._column = {label: i for i, label in enumerate(self.classes)}
        self.registers: dict[str, dict] = dict(meta.get("registers") or {})
        self.prepare = bool(meta.get("prepare"))
        self.lay_part: TriageModel | None = None

    # --- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_dir(cls, path: str | Path = ARTIFACT_DIR) -> TriageModel:
        path = Path(path)
        meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
        arrays = {}
        with zipfile.ZipFile(path / "model.npz") as zf:
            for name in zf.namelist():
                arrays[name.removesuffix(".npy")] = np.lib.format.read_array(io.BytesIO(zf.read(name)),
                                                                             allow_pickle=False)
        def part(prefix: str, specs: list[dict]):
            blocks = [{**spec, "vocabulary": arrays[f"{prefix}vocab{n}"].tobytes().decode("utf-8").split("\n"),
                       "idf": arrays[f"{prefix}idf{n}"]} for n, spec in enumerate(specs)]
            coef = arrays[f"{prefix}coef_q"].astype(np.float32) * arrays[f"{prefix}coef_scale"][:, None]
            return blocks, coef, arrays[f"{prefix}intercept"]

        model = cls(meta, *part("", meta["blocks"]))
        if meta.get("lay_blocks"):
            model.lay_part = cls({"classes": meta["classes"], "prepare": True}, *part("lay_", meta["lay_blocks"]))
        return model

    @classmethod
    def from_fitted(cls, fitted) -> TriageModel:
        """From train.Fitted (cross-validation and tests, without writing files)."""
        meta = {"classes": fitted.classes, "temperature": fitted.temperature, "threshold": fitted.threshold,
                "top_calibration": list(fitted.top_calibration), "version": "in-memory", **fitted.meta}
        meta.setdefault("registers", getattr(fitted, "registers", None) or {})
        model = cls(meta, fitted.blocks, fitted.coef, fitted.intercept)
        lay = getattr(fitted, "lay", None)
        if lay is not None:
            model.lay_part = cls({"classes": fitted.classes, "prepare": True}, lay.blocks, lay.coef, lay.intercept)
        return model

    # --- inference ----------------------------------------------------------------------------------------
    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        from .lay import prepare

        cols, values = [], []
        text = prepare(text or "") if self.prepare else (text or "")
        for block in self.blocks:
            c, v = block.features(text)
            cols += c
            values += v
        return np.asarray(cols, dtype=np.int64), np.asarray(values, dtype=np.float64)

    def scores(self, text: str) -> np.ndarray:
        """The linear decision scores, one per class."""
        cols, values = self.vector(text)
        if not len(cols):
            return self.intercept.copy()
        return values @ self.coef[cols].astype(np.float64) + self.intercept

    def register(self, text: str) -> str:
        """"notes", "one_liner" or "lay" (a patient's own words): which calibration applies to `text`."""
        from .lay import register

        return register(text or "")

    def calibration(self, register: str | None) -> tuple[float, tuple[float, float], float, np.ndarray | float]:
        """(temperature, top calibration, threshold, class offsets) of a register; the shared ones for None or
        an old artifact."""
        cal = self.registers.get(register or "")
        if not cal:
            return self.temperature, self.top_calibration, self.threshold, 0.0
        bias = np.asarray(cal["bias"], dtype=np.float64) if cal.get("bias") else 0.0
        return float(cal["temperature"]), tuple(cal["top_calibration"]), float(cal["threshold"]), bias

    def lay_weight(self, register: str | None) -> float:
        """The weight of the lay part's scores in a clinical register (the one-liners'; 0 for none)."""
        if self.lay_part is None or register == "lay":
            return 0.0
        return float((self.registers.get(register or "") or {}).get("lay_weight") or 0.0)

    def threshold_for(self, register: str | None) -> float:
        return self.calibration(register)[2]

    def probabilities(self, text: str, icd10: Iterable[str] = (), age=None, sex=None,
                      register: str | None = "auto") -> np.ndarray:
        """`register`: "auto" (detected from the text), a register name, or None (the shared calibration)."""
        if register == "auto":
            register = self.register(text) if self.registers else None
        temperature, top_calibration, _threshold, bias = self.calibration(register)
        part = self.lay_part if register == "lay" and self.lay_part is not None else self
        cols, values = part.vector(text)
        z = (values @ part.coef[cols].astype(np.float64) if len(cols) else 0.0) + part.intercept
        weight = self.lay_weight(register)
        if weight and part is self:  # a small ensemble: the lay part's scores added to the clinical part's
            z = z + weight * self.lay_part.scores(text)
        z = (z - z.max()) / temperature + bias
        z = z - z.max()
        probs = np.exp(z)
        probs = calibrate_top(probs / probs.sum(), *top_calibration)[0]
        prior = self.icd_prior(icd10)
        if prior is not None:
            weight = self.options["icd_prior_weight"] if len(cols) else NO_TEXT_PRIOR_WEIGHT
            probs = (1 - weight) * probs + weight * prior
        probs = probs * self.demographic_factors(age, sex)
        return probs / probs.sum()

    def predict(self, text: str, icd10: Iterable[str] = (), age=None, sex=None,
                register: str | None = "auto") -> list[tuple[str, float]]:
        probs = self.probabilities(text, icd10, age, sex, register)
        order = np.argsort(-probs, kind="stable")
        return [(self.classes[i], float(probs[i])) for i in order]

    def predict_batch(self, cases: Iterable[dict | str]) -> list[list[tuple[str, float]]]:
        """`cases`: texts or dicts with text and optional icd10, age, sex."""
        out = []
        for case in cases:
            case = {"text": case} if isinstance(case, str) else case
            out.append(self.predict(case.get("text") or "", case.get("icd10") or (), case.get("age"),
                                    case.get("sex")))
        return out

    def abstains(self, ranked: Sequence[tuple[str, float]], register: str | None = None) -> bool:
        """Below the benchmark's threshold (the register's, when given) the case goes to a coordinator
        without an automatic offer."""
        return not ranked or ranked[0][1] < self.threshold_for(register)

    # --- knowledge ----------------------------------------------------------------------------------------
    def icd_prior(self, codes: Iterable[str]) -> np.ndarray | None:
        """A distribution over classes from the codes' routes (the first code, the principal one, counts twice)."""
        votes = np.zeros(len(self.classes))
        for position, code in enumerate(c for c in codes or () if isinstance(c, str) and c.strip()):
            targets = [self._column[c] for c in code_classes(code.strip().upper()) if c in self._column]
            for col in targets:
                votes[col] += (2.0 if position == 0 else 1.0) / len(targets)
        if not votes.any():
            return None
        return votes / votes.sum()

    def demographic_factors(self, age, sex) -> np.ndarray:
        factors = np.ones(len(self.classes))
        if isinstance(age, int | float) and not isinstance(age, bool) and age >= 18 and "pediatrics" in self._column:
            factors[self._column["pediatrics"]] = self.options["adult_pediatrics_factor"]
        if str(sex or "").strip().lower() in ("male", "m") and "obstetrics_gynecology" in self._column:
            factors[self._column["obstetrics_gynecology"]] = self.options["male_obgyn_factor"]
        return factors


@lru_cache(maxsize=4096)
def code_classes(code: str) -> tuple[str, ...]:
    """The classes an ICD-10-CM code is evidence for (its route in icd10_routes.csv), () when none."""
    from .labels import labels_for_specialty
    from .rules import route

    hit = route(code)
    return labels_for_specialty(hit[0]) if hit else ()


@lru_cache(maxsize=2)
def _load(path: str) -> TriageModel:
    return TriageModel.from_dir(path)


def load(path: str | Path | None = None) -> TriageModel:
    """The committed model (cached per path)."""
    return _load(str(Path(path or ARTIFACT_DIR).resolve()))
