"""`konsil triage classify | train | retrain` as plain functions (cli.py parses the arguments)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from django.utils.translation import gettext as _

SEXES = {"female": "female", "f": "female", "male": "male", "m": "male", "other": "other", "unknown": "unknown"}


class BadCase(ValueError):
    pass


def _assess():
    """konsil.triage.redflags.assess, or a stand-in while that module is absent."""
    try:
        from .redflags import assess
    except ImportError:  # pragma: no cover - the red-flag module ships with Konsil
        def assess(text, icd10=(), age=None, sex=None):
            return "routine", []
    return assess


def parse_case(line: str | bytes) -> tuple[object, dict]:
    """(id, {"text", "icd10", "age", "sex"}) from one JSON line; BadCase (with the id if it was read) otherwise."""
    case_id = None
    try:
        if isinstance(line, bytes):
            line = line.decode("utf-8")
        data = json.loads(line)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadCase(None, _("not a valid JSON line")) from exc
    if not isinstance(data, dict):
        raise BadCase(None, _("a case must be a JSON object"))
    case_id = data.get("id")
    text = data.get("text")
    codes = data.get("icd10")
    age = data.get("age")
    sex = data.get("sex")
    if text is not None and not isinstance(text, str):
        raise BadCase(case_id, _("'text' must be a string"))
    if codes is not None and not (isinstance(codes, list) and all(isinstance(c, str) for c in codes)):
        raise BadCase(case_id, _("'icd10' must be a list of code strings"))
    if not (text or "").strip() and not codes:
        raise BadCase(case_id, _("a case needs 'text' or 'icd10' codes"))
    if age is not None and (isinstance(age, bool) or not isinstance(age, int | float) or not 0 <= age <= 130):
        raise BadCase(case_id, _("'age' must be a number of years between 0 and 130"))
    if sex is not None and (not isinstance(sex, str) or sex.strip().lower() not in SEXES):
        raise BadCase(case_id, _("'sex' must be one of female, male, other, unknown"))
    return case_id, {"text": text or "", "icd10": [c.strip() for c in codes or [] if c.strip()],
                     "age": int(age) if age is not None else None,
                     "sex": SEXES[sex.strip().lower()] if sex is not None else None}


def classify_case(model, case: dict, assess=None) -> dict:
    """The output object for one parsed case (without its id)."""
    from .labels import ranked_specialties

    ranked = model.predict(case["text"], icd10=case["icd10"], age=case["age"], sex=case["sex"])
    urgency, flags = (assess or _assess())(case["text"], case["icd10"], case["age"], case["sex"])
    return {
        "labels": [{"label": label, "probability": round(p, 4)} for label, p in ranked],
        "specialties": ranked_specialties(ranked),
        "urgency": urgency,
        "red_flags": flags,
        "abstain": model.abstains(ranked, model.register(case["text"]) if hasattr(model, "register") else None),
        "model_version": model.version,
    }


def classify(in_stream: IO, out_stream: IO, err_stream: IO | None = None, model=None) -> int:
    """JSON Lines in, one JSON line out per case; a malformed line gets {"id", "error"} and the rest go on.

    Returns 0 when at least one case was classified, 1 when nothing could be read, 2 without a model.
    """
    err_stream = err_stream or sys.stderr
    if model is None:
        from .model import load

        try:
            model = load()
        except (OSError, KeyError, ValueError) as exc:
            print(_("konsil triage: the model could not be loaded (%(error)s); run `konsil triage train`.")
                  % {"error": exc}, file=err_stream)
            return 2
    assess = _assess()
    classified = 0
    source = getattr(in_stream, "buffer", in_stream)  # stdin's bytes: a bad UTF-8 line is one malformed line
    for raw in source:
        if not (raw.strip() if isinstance(raw, str | bytes) else raw):
            continue
        try:
            case_id, case = parse_case(raw)
            result = {"id": case_id, **classify_case(model, case, assess)}
            classified += 1
        except BadCase as exc:
            result = {"id": exc.args[0], "error": exc.args[1]}
        out_stream.write(json.dumps(result) + "\n")  # ASCII-safe whatever the locale
        out_stream.flush()
    if not classified:
        print(_("konsil triage classify: no case could be read from the input."), file=err_stream)
        return 1
    return 0


def train(training_csv: str | Path | None = None, out_dir: str | Path | None = None,
          out_stream: IO | None = None, config=None) -> dict:
    """Rebuild the artifact from the training file (fixed seeds: same input, same files); returns its metadata."""
    from . import train as training

    meta = training.build(training_csv or training.TRAINING_CSV, out_dir or training.ARTIFACT_DIR,
                          config=config or training.Config())
    _print_summary(meta["version"], {"cross-validation": meta["cv"]}, out_stream)
    return meta


def retrain(extra_rows: Iterable[dict], training_csv: str | Path | None = None, out_dir: str | Path | None = None,
            out_stream: IO | None = None, write: bool = True, config=None) -> dict:
    """Fold labelled rows {"text", "label"} (confirmed decisions) into training; before/after on the same folds.

    Before: the training file alone; after: the file plus the rows. The rows are split into the same number
    of folds as the notes, so the figures on them ("confirmed") are held out too. Writes the new artifact
    unless `write` is false.
    """
    from . import train as training

    config = config or training.Config()
    training_csv = training_csv or training.TRAINING_CSV
    notes = training.read_notes(training_csv)
    classes = training.all_classes(notes)
    extra = training.extra_notes(list(extra_rows), classes)
    before = training.cross_validate(notes, classes, config, extra=extra, train_extra=False)
    after = training.cross_validate(notes, classes, config, extra=extra, train_extra=True)
    report = {"rows": len(extra), "before": _round(before.report()), "after": _round(after.report())}
    if write:
        meta = training.build(training_csv, out_dir or training.ARTIFACT_DIR, extra=extra, config=config, cv=after)
        report["version"] = meta["version"]
    _print_summary(report.get("version", "-"), {"before": report["before"], "after": report["after"]}, out_stream)
    return report


def _round(value):
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def _print_summary(version: str, sections: dict, out_stream: IO | None) -> None:
    out = out_stream or sys.stdout
    print(_("model version %(version)s") % {"version": version}, file=out)
    for title, report in sections.items():
        for kind, figures in report.items():
            line = "  ".join(f"{k}={v}" for k, v in figures.items())
            print(f"{title:18s} {kind:12s} {line}", file=out)
