"""`konsil matching ...` reaches the matching commands through the console script's parser."""

import json

from konsil import cli


def test_matching_specialties_prints_the_catalog(capsys):
    assert cli.main(["matching", "specialties"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"code": "cardiology", "name": "Cardiology", "nucc": "207RC0000X"}.items() <= next(
        r for r in rows if r["code"] == "cardiology").items()


def test_matching_assign_reads_files_and_reports_bad_lines(tmp_path, capsys):
    cases = tmp_path / "cases.jsonl"
    specialists = tmp_path / "specialists.jsonl"
    cases.write_text('{"id": "c1", "specialty": "cardiology", "state": "CA", "language": "en", '
                     '"urgency": "routine", "channel": "patient"}\nnot json\n')
    specialists.write_text('{"id": "s1", "specialties": ["cardiology"], "licensed_states": ["CA"], "imlc": false, '
                           '"languages": ["en"], "capacity": 1, "institution": "X", "turnaround_hours": 48}\n')
    assert cli.main(["matching", "assign", "--cases", str(cases), "--specialists", str(specialists)]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["case_id"] == "c1" and lines[0]["specialist_id"] == "s1"
    assert lines[-1]["assigned"] == 1 and lines[-1]["unassigned"] == 0
    assert ":2:" in err


def test_matching_assign_with_nothing_readable_fails(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert cli.main(["matching", "assign", "--cases", str(empty), "--specialists", str(empty)]) != 0
