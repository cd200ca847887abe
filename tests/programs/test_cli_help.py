"""`konsil --help` parses without setting Django up: the programs commands import no models at import time."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# A settings module that does not exist: any django.setup() before parsing would fail on it.
ENV = {**os.environ, "DJANGO_SETTINGS_MODULE": "no_such_settings_module"}


@pytest.mark.parametrize("args", [["--help"], ["programs", "--help"], ["programs", "roster", "import", "--help"],
                                  ["programs", "eligibility", "--help"]])
def test_help_parses_without_django_setup(args):
    run = subprocess.run([sys.executable, "-m", "konsil.cli", *args], capture_output=True, text=True, env=ENV,
                         timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert "usage: konsil" in run.stdout
    assert "ModuleNotFoundError" not in run.stderr


def test_programs_commands_import_no_models():
    code = ("import sys, konsil.programs.commands, konsil.cli; konsil.cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m.endswith('.models') and m.startswith('konsil')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


@pytest.mark.django_db
def test_a_command_still_runs_on_the_database(capsys, monkeypatch, employer_program):
    """Past parsing, main() sets Django up and the command reads the database (bad input: an unknown program)."""
    from konsil import cli

    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO(""))
    assert cli.main(["programs", "eligibility", "--program", "no-such"]) == 2
    assert "no program with the address 'no-such'" in capsys.readouterr().err
    assert cli.main(["programs", "eligibility", "--program", employer_program.slug]) == 0
