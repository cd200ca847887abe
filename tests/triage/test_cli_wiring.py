"""`konsil triage ...` reaches the triage commands through the console script's parser."""

import io
import json

import pytest

from konsil import cli


def test_classify_reads_stdin_and_writes_one_line_per_case(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": "a", "text": "Cataract of the right eye"}\nnope\n'))
    assert cli.main(["triage", "classify"]) == 0
    first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert first["id"] == "a" and first["labels"][0]["label"] == "ophthalmology"
    assert {"specialties", "urgency", "red_flags", "abstain", "model_version"} <= set(first)
    assert "error" in second


@pytest.mark.django_db
def test_retrain_without_decisions_says_so(capsys):
    assert cli.main(["triage", "retrain"]) == 1
    assert "no confirmed coordinator decisions" in capsys.readouterr().err
