"""`konsil triage classify`: JSON Lines in, one JSON line per case out; malformed lines do not stop the batch."""

from __future__ import annotations

import io
import json

import pytest

from konsil.triage import commands, redflags
from konsil.triage.model import load

ECHO = "2-D echocardiogram: normal left ventricular size, ejection fraction 60%, mild mitral regurgitation."
KEYS = {"id", "labels", "specialties", "urgency", "red_flags", "abstain", "model_version"}


def run(lines, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    text = "".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines)
    code = commands.classify(io.StringIO(text), out, err, **kwargs)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_one_line_per_case_with_the_specified_fields():
    code, rows, _err = run([{"id": "a", "text": ECHO},
                            {"id": 7, "text": "cataract right eye", "icd10": ["H25.9"], "age": 71, "sex": "F"}])
    assert code == 0 and [r["id"] for r in rows] == ["a", 7]
    model = load()
    for row in rows:
        assert set(row) == KEYS
        assert [x["label"] for x in row["labels"]] and {x["label"] for x in row["labels"]} == set(model.classes)
        probs = [x["probability"] for x in row["labels"]]
        assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1, abs=1e-3)
        assert all(set(s) == {"code", "name", "probability"} for s in row["specialties"])
        assert row["urgency"] in ("routine", "urgent", "stat") and isinstance(row["red_flags"], list)
        assert isinstance(row["abstain"], bool) and row["model_version"] == model.version
    assert rows[0]["labels"][0]["label"] == "cardiology_pulmonology"
    assert {s["code"] for s in rows[0]["specialties"][:2]} == {"cardiology", "pulmonology"}
    assert rows[1]["labels"][0]["label"] == "ophthalmology" and rows[1]["specialties"][0]["code"] == "ophthalmology"


@pytest.mark.parametrize(("line", "case_id"), [
    ("{not json\n", None),
    ("[1, 2]\n", None),
    ({"id": "t", "text": 5}, "t"),
    ({"id": "c", "text": ECHO, "icd10": "I10"}, "c"),
    ({"id": "c2", "text": ECHO, "icd10": [1]}, "c2"),
    ({"id": "a", "text": ECHO, "age": "forty"}, "a"),
    ({"id": "a2", "text": ECHO, "age": True}, "a2"),
    ({"id": "a3", "text": ECHO, "age": -1}, "a3"),
    ({"id": "s", "text": ECHO, "sex": "yes"}, "s"),
    ({"id": "e", "text": "  "}, "e"),
    ({"id": "n"}, "n"),
])
def test_a_malformed_line_gets_an_error_and_the_rest_go_on(line, case_id):
    code, rows, _err = run([{"id": "before", "text": ECHO}, line, {"id": "after", "text": ECHO}])
    assert code == 0
    assert [r["id"] for r in rows] == ["before", case_id, "after"]
    assert set(rows[1]) == {"id", "error"} and rows[1]["error"]
    assert "labels" in rows[0] and "labels" in rows[2]


def test_codes_alone_are_enough():
    code, rows, _err = run([{"id": 1, "icd10": ["N18.3"]}])
    assert code == 0 and rows[0]["labels"][0]["label"] == "nephrology"


@pytest.mark.parametrize("data", ["", "\n\n  \n"])
def test_empty_input_is_an_error_exit(data):
    out, err = io.StringIO(), io.StringIO()
    assert commands.classify(io.StringIO(data), out, err) == 1
    assert out.getvalue() == "" and "no case" in err.getvalue()


def test_nothing_readable_is_an_error_exit_but_still_reports_each_line():
    code, rows, err = run(["oops\n", {"id": "x", "text": 3}])
    assert code == 1 and [r["id"] for r in rows] == [None, "x"] and err


def test_binary_stdin_with_bad_utf8_is_a_malformed_line():
    data = json.dumps({"id": "ok", "text": ECHO}).encode() + b"\n\xff\xfe\n"
    out = io.StringIO()
    assert commands.classify(io.BytesIO(data), out, io.StringIO()) == 0
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert rows[0]["id"] == "ok" and rows[1] == {"id": None, "error": rows[1]["error"]}


def test_text_stdin_is_read_as_bytes_so_bad_utf8_does_not_stop_the_batch():
    good = [json.dumps({"id": i, "text": ECHO}).encode() for i in ("ok", "z")]
    data = good[0] + b"\n\xff\n" + good[1]
    out = io.StringIO()
    assert commands.classify(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"), out, io.StringIO()) == 0
    assert [json.loads(x)["id"] for x in out.getvalue().splitlines()] == ["ok", None, "z"]


def test_red_flags_come_from_the_red_flag_module(monkeypatch):
    assert commands._assess() is redflags.assess
    seen = []

    def fake(text, icd10, age, sex):
        seen.append((text, icd10, age, sex))
        return "stat", [{"code": "acs", "label": "Suspected ACS"}]

    monkeypatch.setattr(redflags, "assess", fake)
    code, rows, _err = run([{"id": 1, "text": "chest pain", "icd10": [" I21.9 "], "age": 58.0, "sex": "Male"}])
    assert code == 0 and rows[0]["urgency"] == "stat" and rows[0]["red_flags"][0]["code"] == "acs"
    assert seen == [("chest pain", ["I21.9"], 58, "male")]


def test_unloadable_model_exits_2(monkeypatch, tmp_path):
    import konsil.triage.model as model_module

    monkeypatch.setattr(model_module, "ARTIFACT_DIR", tmp_path)  # no model.json there
    out, err = io.StringIO(), io.StringIO()
    assert commands.classify(io.StringIO(json.dumps({"text": ECHO})), out, err) == 2
    assert out.getvalue() == "" and "konsil triage train" in err.getvalue()


# --- konsil triage train / retrain (a tiny training file, no ICD rows, 2 folds: fast) ---------------------------

@pytest.fixture
def tiny_csv(tmp_path):
    import csv

    from konsil.triage import train as training

    if not training.TRAINING_CSV.exists():
        pytest.skip(f"training file missing: {training.TRAINING_CSV}")
    with training.TRAINING_CSV.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = [r for label in ("urology", "ophthalmology", "neurology")
            for r in [x for x in rows if x["specialty"] == label][:12]]
    path = tmp_path / "tiny.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _config():
    from konsil.triage.train import Config

    return Config(icd_weight=0, folds=2, min_df=1, lay_per_class=0)  # the clinical part alone


def test_train_rebuilds_the_same_artifact(tiny_csv, tmp_path):
    from konsil.triage.model import TriageModel

    out = io.StringIO()
    first = commands.train(tiny_csv, tmp_path / "a", out, config=_config())
    second = commands.train(tiny_csv, tmp_path / "b", io.StringIO(), config=_config())
    assert first["version"] == second["version"] and first["version"] in out.getvalue()
    assert (tmp_path / "a" / "model.npz").read_bytes() == (tmp_path / "b" / "model.npz").read_bytes()
    model = TriageModel.from_dir(tmp_path / "a")
    assert model.classes == ["neurology", "ophthalmology", "urology"]
    assert model.predict("cataract and glaucoma of the left eye")[0][0] == "ophthalmology"
    assert first["training"]["notes"] == 36 and "text" in first["cv"]


def test_retrain_reports_before_and_after_on_the_same_folds(tiny_csv, tmp_path):
    rows = [{"text": f"retinal detachment repair, vitrectomy case {n}", "label": "ophthalmology"} for n in range(4)]
    rows += [{"text": "kidney stone, ureteroscopy", "label": "urology"},
             {"text": "migraine with aura", "label": "neurology"},
             {"text": "x", "label": "no_such_class"}]
    out = io.StringIO()
    report = commands.retrain(rows, tiny_csv, tmp_path / "m", out, config=_config())
    assert report["rows"] == 6 and set(report["before"]) == set(report["after"]) == {"text", "description",
                                                                                     "confirmed"}
    assert report["before"]["text"]["n"] == report["after"]["text"]["n"] == 36
    assert report["after"]["confirmed"]["n"] == 6
    assert (tmp_path / "m" / "model.json").exists() and report["version"] in out.getvalue()
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["training"]["extra_rows"] == 6
    dry = commands.retrain(rows[:2], tiny_csv, tmp_path / "dry", io.StringIO(), write=False, config=_config())
    assert "version" not in dry and not (tmp_path / "dry").exists()


@pytest.mark.slow
def test_train_with_a_lay_part_chooses_the_one_liners_weight(tiny_csv, tmp_path):
    from dataclasses import replace

    from konsil.triage import ensemble
    from konsil.triage.model import TriageModel

    meta = commands.train(tiny_csv, tmp_path / "lay", io.StringIO(), config=replace(_config(), lay_per_class=2))
    one_liner = meta["registers"]["one_liner"]
    assert one_liner["lay_weight"] in ensemble.LAY_WEIGHTS
    assert set(meta["cv_registers"]) == {"notes", "one_liner"}
    model = TriageModel.from_dir(tmp_path / "lay")
    assert model.lay_part is not None and model.lay_weight("one_liner") == one_liner["lay_weight"]
    assert model.registers["lay"]["calibration"]["n"] > 0
