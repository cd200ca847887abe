"""The `konsil` console script: version, seed, audit verify, manage, and the pieces of `konsil run`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import django
import pytest
from django.conf import settings

from konsil import __version__, cli, demo
from konsil.audit.models import AuditEvent
from konsil.audit.services import emit

from .factories import audit_trigger_disabled

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def chain(db):
    """Five audit events, seq 1..5."""
    for i in range(5):
        emit(actor="test", action=f"test.event{i}", object_type="test", object_id=str(i))
    return AuditEvent.objects.count()


def tamper(sql: str, params=()) -> None:
    """Run SQL on the audit table, the append-only trigger lifted for the statement."""
    with audit_trigger_disabled() as cursor:
        cursor.execute(sql, params)


# --- version, help, seed ------------------------------------------------------------------------------------

def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"konsil {__version__}"


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "run" in capsys.readouterr().out


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["launch"])
    assert exit_info.value.code == 2


def test_seed_needs_a_data_set(capsys):
    assert cli.main(["seed"]) == 2
    assert "--demo" in capsys.readouterr().err


@pytest.mark.slow
def test_seed_demo_twice(db, capsys):
    assert cli.main(["seed", "--demo"]) == 0
    out = capsys.readouterr().out
    assert "Demo data created" in out and "14 demo cases" in out
    assert cli.main(["seed", "--demo"]) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_manage_passes_arguments_to_django(capsys):
    assert cli.main(["manage", "version"]) == 0
    assert capsys.readouterr().out.strip() == django.get_version()


# --- audit verify -------------------------------------------------------------------------------------------

def test_audit_verify_ok(chain, capsys):
    assert cli.main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.strip() == f"audit chain OK: {chain} events verified"


def test_audit_verify_empty_chain(db, capsys):
    assert cli.main(["audit", "verify"]) == 0
    assert "0 events verified" in capsys.readouterr().out


def test_audit_verify_names_an_edited_event(chain, capsys):
    tamper("UPDATE audit_auditevent SET action = 'x' WHERE seq = 2")
    assert cli.main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "audit chain BROKEN at event 2:" in err and "(1 verified before it)" in err


def test_audit_verify_names_a_deleted_event(chain, capsys):
    tamper("DELETE FROM audit_auditevent WHERE seq = 3")
    assert cli.main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "BROKEN at event 3" in err and "missing" in err


def test_audit_verify_notices_a_truncated_tail(chain, capsys):
    tamper("DELETE FROM audit_auditevent WHERE seq = 5")
    assert cli.main(["audit", "verify"]) == 1
    assert "BROKEN at event 5" in capsys.readouterr().err


def test_audit_needs_an_action():
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["audit"])
    assert exit_info.value.code == 2


# --- konsil run: its pieces ---------------------------------------------------------------------------------

def test_child_commands():
    commands = dict(cli.child_commands("127.0.0.1", 8123))
    web = commands["web"]
    assert web[1:3] == ["-m", "gunicorn"] and "konsil.wsgi:application" in web
    assert web[web.index("--bind") + 1] == "127.0.0.1:8123"
    assert web[web.index("--workers") + 1] == "2" and int(web[web.index("--threads") + 1]) > 1
    assert commands["worker"][1:] == ["-m", "konsil.cli", "worker"]
    assert commands["schedule"][1:] == ["-m", "konsil.cli", "schedule"]
    assert commands["dicom"][1:] == ["-m", "konsil.cli", "dicom", "listen"]
    assert [name for name, _argv in cli.child_commands("127.0.0.1", 8123, worker=False)] == ["web"]


def test_child_env_shares_settings_and_state():
    env = cli.child_env("127.0.0.1", 8123)
    assert env["DJANGO_SETTINGS_MODULE"] == os.environ["DJANGO_SETTINGS_MODULE"]
    assert env["KONSIL_HOME"] == str(settings.HOME)


def test_child_env_allows_a_named_host(monkeypatch):
    monkeypatch.delenv("KONSIL_ALLOWED_HOSTS", raising=False)
    env = cli.child_env("konsil.internal", 8123)
    assert env["KONSIL_ALLOWED_HOSTS"].split(",")[-1] == "konsil.internal"
    assert "KONSIL_ALLOWED_HOSTS" not in cli.child_env("0.0.0.0", 8123)  # noqa: S104


def test_banner_lists_one_login_per_role():
    logins = [("Patient", "patient@konsil.demo", False),
              ("Care coordinator", "coordinator@konsil.demo", True)]
    text = cli.banner("http://127.0.0.1:8000", logins, "konsil-demo-2026")
    assert "http://127.0.0.1:8000" in text and "konsil-demo-2026" in text
    assert "patient@konsil.demo\n" in text  # no MFA mark for patients
    assert "coordinator@konsil.demo  *" in text
    assert "authenticator app" in text and "Ctrl+C" in text


def test_banner_without_demo_data():
    text = cli.banner("http://127.0.0.1:8000", [], "konsil-demo-2026")
    assert "konsil-demo-2026" not in text and "http://127.0.0.1:8000" in text


@pytest.mark.slow
def test_demo_logins_cover_every_role_after_seeding(db):
    assert cli.demo_logins() == []
    demo.seed_demo()
    logins = cli.demo_logins()
    assert len(logins) == len(demo.LOGINS) == 10
    mfa = {email: needs for _role, email, needs in logins}
    assert not mfa["patient@konsil.demo"] and not mfa["caregiver@konsil.demo"]
    assert mfa["specialist@konsil.demo"] and mfa["admin@konsil.demo"]
    text = cli.banner("http://127.0.0.1:8000", logins, demo.PASSWORD)
    for login in demo.LOGINS:
        assert login.email in text


def test_supervisor_stops_children_when_asked():
    supervisor = cli.Supervisor([("a", SLEEPER), ("b", SLEEPER)], grace=5)
    supervisor.start()
    threading.Timer(0.5, supervisor.stop).start()
    assert supervisor.wait(poll=0.05) == 0
    assert all(proc.poll() is not None for _name, proc in supervisor.procs)


def test_children_run_in_their_own_process_group():
    supervisor = cli.Supervisor([("a", SLEEPER)], grace=5)
    supervisor.start()
    try:
        assert os.getpgid(supervisor.procs[0][1].pid) != os.getpgid(0)  # Ctrl+C goes to `konsil run` only
    finally:
        supervisor.terminate()


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux only")
def test_children_die_with_a_killed_parent(tmp_path):
    script = ("import sys; from konsil import cli; "
              f"s = cli.Supervisor([('a', {SLEEPER!r})]); s.start(); "
              "print(s.procs[0][1].pid, flush=True); s.wait()")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process_running(child):
        time.sleep(0.1)
    if process_running(child):
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child outlived its parent")


def process_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_supervisor_fails_when_a_child_dies(capsys):
    supervisor = cli.Supervisor([("web", SLEEPER), ("worker", [sys.executable, "-c", "raise SystemExit(3)"])])
    supervisor.start()
    assert supervisor.wait(poll=0.05) == 3
    assert all(proc.poll() is not None for _name, proc in supervisor.procs)
    assert "worker" in capsys.readouterr().err


def test_supervisor_fails_when_a_child_is_killed():
    supervisor = cli.Supervisor([("web", SLEEPER), ("worker", SLEEPER)])
    supervisor.start()
    supervisor.procs[0][1].kill()
    assert supervisor.wait(poll=0.05) == 1


def test_supervisor_fails_even_when_a_child_exits_cleanly():
    supervisor = cli.Supervisor([("web", SLEEPER), ("worker", [sys.executable, "-c", "pass"])])
    supervisor.start()
    assert supervisor.wait(poll=0.05) == 1


def test_supervisor_kills_a_child_that_ignores_terminate():
    stubborn = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ready', flush=True); time.sleep(60)"]
    supervisor = cli.Supervisor([("stubborn", stubborn)], grace=0.5)
    supervisor.procs.append(("stubborn", subprocess.Popen(stubborn, stdout=subprocess.PIPE)))
    supervisor.procs[0][1].stdout.readline()
    started = time.monotonic()
    supervisor.terminate()
    assert supervisor.procs[0][1].poll() == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_wait_until_ready_polls_the_health_check():
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.handle_request, daemon=True).start()
    alive = cli.Supervisor([])
    alive.alive = lambda: True
    try:
        assert cli.wait_until_ready(f"http://127.0.0.1:{server.server_port}", alive, timeout=10)
    finally:
        server.server_close()


def test_wait_until_ready_gives_up_when_the_server_died():
    dead = cli.Supervisor([])
    assert not cli.wait_until_ready(f"http://127.0.0.1:{free_port()}", dead, timeout=10)


class FakeSupervisor:
    instances: list[FakeSupervisor] = []

    def __init__(self, commands, env=None):
        self.commands, self.env, self.started = commands, env, False
        FakeSupervisor.instances.append(self)

    def start(self):
        self.started = True

    def stop(self, *_args):
        pass

    def alive(self):
        return True

    def wait(self):
        return 7


@pytest.fixture
def fake_run(monkeypatch):
    calls = {}
    FakeSupervisor.instances.clear()
    monkeypatch.setattr(cli, "prepare", lambda *, seed: calls.setdefault("seed", seed))
    monkeypatch.setattr(cli, "Supervisor", FakeSupervisor)
    monkeypatch.setattr(cli, "wait_until_ready", lambda *a, **k: True)
    monkeypatch.setattr(cli, "demo_logins", lambda: [("Patient", "patient@konsil.demo", False)])
    monkeypatch.setattr(cli.signal, "signal", lambda signum, handler: calls.setdefault(signum, handler))
    monkeypatch.setattr(cli, "port_free", lambda host, port: True)
    return calls


def test_run_prepares_starts_its_children_and_prints_the_banner(fake_run, capsys):
    assert cli.main(["run", "--port", "8123"]) == 7
    supervisor = FakeSupervisor.instances[0]
    assert supervisor.started
    assert [name for name, _argv in supervisor.commands] == ["web", "worker", "schedule", "dicom"]
    assert fake_run["seed"] is True
    assert fake_run[signal.SIGINT] == supervisor.stop and fake_run[signal.SIGTERM] == supervisor.stop
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123" in out and "patient@konsil.demo" in out


def test_run_options(fake_run):
    cli.main(["run", "--host", "0.0.0.0", "--port", "9000", "--no-worker", "--no-seed"])  # noqa: S104
    supervisor = FakeSupervisor.instances[0]
    assert [name for name, _argv in supervisor.commands] == ["web"]
    assert "0.0.0.0:9000" in supervisor.commands[0][1]
    assert fake_run["seed"] is False


def test_run_refuses_a_busy_port(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["run", "--port", str(port)]) == 1
    assert "already in use" in capsys.readouterr().err


def test_prepare_migrates_collects_and_seeds(monkeypatch, tmp_path, settings):
    settings.STATIC_ROOT = str(tmp_path / "static")
    commands = []
    monkeypatch.setattr("django.core.management.call_command",
                        lambda name, **options: commands.append((name, options)))
    monkeypatch.setattr(cli, "_seed", lambda: type("S", (), {"report": lambda self: ["seeded"]})())
    histories = []
    monkeypatch.setattr(cli, "_seed_history", lambda: histories.append(cli.DEMO_HISTORY))
    (tmp_path / "static").mkdir()
    cli.prepare(seed=True)
    assert [name for name, _o in commands] == ["migrate", "createcachetable", "collectstatic"]
    assert histories == [500]  # the demo has analytics history to show
    assert all(o["interactive"] is False for n, o in commands if n != "createcachetable")
    # Unchanged sources: the next run does not collect again.
    commands.clear()
    cli.prepare(seed=False)
    assert [name for name, _o in commands] == ["migrate", "createcachetable"]
    assert histories == [500]


# --- konsil run, for real -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (local test server)
        return response.status


@pytest.mark.slow
def test_konsil_run_serves_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # an SQLite of its own
    env["KONSIL_HOME"] = str(tmp_path / "home")
    out, err = (tmp_path / "out.log").open("w"), (tmp_path / "err.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "konsil.cli", "run", "--port", str(port)], env=env,
                            stdout=out, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while "Ctrl+C" not in (tmp_path / "out.log").read_text():
            assert proc.poll() is None, (tmp_path / "err.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "konsil run did not come up"
            time.sleep(0.5)
        assert get(f"http://127.0.0.1:{port}/healthz") == 200
        assert get(f"http://127.0.0.1:{port}/static/konsil/konsil.css") == 200
        banner = (tmp_path / "out.log").read_text()
        assert f"http://127.0.0.1:{port}" in banner and "admin@konsil.demo" in banner
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group this test started: konsil run and its children
        out.close()
        err.close()
