"""`konsil matching assign` / `konsil matching specialties` as plain functions (paths and streams in, status out)."""

from __future__ import annotations

import io
import json

from konsil.matching import catalog, commands

SPECIALISTS = [
    {"id": "s-ca", "specialties": ["cardiology"], "licensed_states": ["CA"], "imlc": False, "languages": ["en", "es"],
     "capacity": 1, "institution": "Mercy", "turnaround_hours": 48, "quality": 0.9},
    {"id": "s-ny", "specialties": ["cardiology"], "licensed_states": ["NY"], "imlc": True, "languages": ["en"],
     "capacity": 5, "institution": "General", "turnaround_hours": 72, "quality": 0.7},
]
CASES = [
    {"id": "c1", "specialty": "cardiology", "state": "CA", "language": "es", "urgency": "urgent", "channel": "patient"},
    {"id": "c2", "specialty": "cardiology", "state": "CA", "language": "en", "urgency": "routine",
     "channel": "clinician"},
    {"id": "c3", "specialty": "cardiology", "state": "TX", "language": "en", "urgency": "routine",
     "channel": "clinician"},
]


def jsonl(tmp_path, name, records, extra_lines=()):
    path = tmp_path / name
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(tmp_path, cases, specialists, case_lines=(), spec_lines=()):
    out, err = io.StringIO(), io.StringIO()
    status = commands.assign(jsonl(tmp_path, "cases.jsonl", cases, case_lines),
                             jsonl(tmp_path, "specialists.jsonl", specialists, spec_lines), out, err)
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_assign_writes_one_line_per_case_and_a_summary(tmp_path):
    status, lines, err = run(tmp_path, CASES, SPECIALISTS)
    assert status == 0 and err == ""
    by_case = {line["case_id"]: line for line in lines[:-1]}
    assert list(by_case) == ["c1", "c2", "c3"]
    # c1 (patient direct in CA) can only go to the CA licensee; c2 (clinician referral) then goes to NY.
    assert by_case["c1"]["specialist_id"] == "s-ca" and by_case["c2"]["specialist_id"] == "s-ny"
    assert "licensed in CA" in by_case["c1"]["reasons"]
    assert "CA allows out-of-state consultation with a local physician (clinician referral)" in by_case["c2"]["reasons"]
    assert 0 < by_case["c1"]["score"] <= 1 and by_case["c1"]["factors"][0].keys() == {"factor", "value", "weight"}
    c3 = by_case["c3"]
    assert c3["specialist_id"] is None and c3["score"] is None
    assert c3["reasons"][0] == "no specialist meets every hard constraint"
    assert any("TX requires a Texas licence" in r for r in c3["reasons"])
    summary = lines[-1]
    assert summary.keys() == {"assigned", "unassigned", "objective", "seconds"}
    assert (summary["assigned"], summary["unassigned"]) == (2, 1)
    assert summary["objective"] == round(by_case["c1"]["score"] + by_case["c2"]["score"], 6)


def test_bad_lines_are_reported_with_line_and_field_and_skipped(tmp_path):
    bad_case = {**CASES[0], "id": "c9", "urgency": "soon"}
    status, lines, err = run(tmp_path, [CASES[0], bad_case, CASES[0]], SPECIALISTS,
                             case_lines=["{not json", "[]", ""],
                             spec_lines=[json.dumps({**SPECIALISTS[0], "id": "s-x", "capacity": -2})])
    assert status == 0
    assert "cases.jsonl:2: field urgency:" in err
    assert "cases.jsonl:3: field id: duplicate id c1" in err
    assert "cases.jsonl:4: not valid JSON" in err
    assert "cases.jsonl:5: field record:" in err
    assert "specialists.jsonl:3: field capacity: must be >= 0" in err
    assert [line.get("case_id") for line in lines[:-1]] == ["c1"]
    assert lines[-1]["assigned"] == 1


def test_non_utf8_line_is_skipped(tmp_path):
    cases = jsonl(tmp_path, "cases.jsonl", CASES[:1])
    with cases.open("ab") as fh:
        fh.write(b'{"id": "caf\xe9"}\n')
    out, err = io.StringIO(), io.StringIO()
    assert commands.assign(cases, jsonl(tmp_path, "s.jsonl", SPECIALISTS), out, err) == 0
    assert "cases.jsonl:2: not UTF-8" in err.getvalue()


def test_nothing_readable_is_an_error(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert commands.assign(tmp_path / "absent.jsonl", jsonl(tmp_path, "s.jsonl", SPECIALISTS), out, err) == 1
    assert "absent.jsonl: cannot be read" in err.getvalue() and out.getvalue() == ""
    status, lines, err = run(tmp_path, [], SPECIALISTS, case_lines=["{}"])
    assert status == 1 and lines == [] and "no valid record" in err
    status, lines, err = run(tmp_path, CASES, [])
    assert status == 1 and "specialists.jsonl: no valid record" in err


def test_specialties_prints_the_catalog():
    out = io.StringIO()
    assert commands.specialties(out) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == len(catalog.rows())
    cardiology = next(r for r in rows if r["code"] == "cardiology")
    assert cardiology == {"code": "cardiology", "name": "Cardiology", "nucc": "207RC0000X", "parent": None}
    assert next(r for r in rows if r["code"] == "electrophysiology")["parent"] == "cardiology"
