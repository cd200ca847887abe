"""The compose file and the Dockerfile, checked without docker: every role present, one image, shared engines
wired the same way for every Konsil service, secrets never written in, commands the real CLI accepts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from konsil import cli

ROOT = Path(__file__).resolve().parents[2]
KONSIL_SERVICES = {"web", "worker-urgent", "worker-bulk", "clock", "migrate"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_every_role_and_engine_is_a_service():
    services = compose()["services"]
    assert set(services) >= KONSIL_SERVICES | {"postgres", "redis", "s3"}
    assert {services[name]["image"] for name in KONSIL_SERVICES} == {"konsil:latest"}  # one image for all roles


def test_konsil_services_share_database_cache_queue_storage_and_keys():
    services = compose()["services"]
    shared = ("DATABASE_URL", "KONSIL_REDIS_URL", "KONSIL_CELERY_BROKER_URL", "KONSIL_S3_BUCKET",
              "KONSIL_S3_ENDPOINT_URL", "KONSIL_SECRET_KEY", "KONSIL_MASTER_KEYS", "KONSIL_AUDIT_KEY")
    envs = [services[name]["environment"] for name in KONSIL_SERVICES]
    for key in shared:
        assert len({env[key] for env in envs}) == 1, key
    env = envs[0]
    assert env["KONSIL_TASKS_BACKEND"] == "celery"
    assert "@postgres:5432/" in env["DATABASE_URL"] and "redis:6379" in env["KONSIL_CELERY_BROKER_URL"]
    for name in KONSIL_SERVICES:
        assert set(services[name]["depends_on"]) >= {"postgres", "redis", "s3"}


def test_secrets_come_from_the_environment_never_the_file():
    text = (ROOT / "compose.yaml").read_text()
    for key in ("POSTGRES_PASSWORD", "S3_SECRET_KEY", "KONSIL_SECRET_KEY", "KONSIL_MASTER_KEYS", "KONSIL_AUDIT_KEY"):
        assert re.search(r"\$\{" + key + r":\?", text), key
    env = compose()["services"]["web"]["environment"]
    for key in ("KONSIL_SECRET_KEY", "KONSIL_MASTER_KEYS", "KONSIL_AUDIT_KEY"):
        assert env[key].startswith("${")


def test_every_konsil_variable_is_one_the_code_reads():
    settings_text = "".join(path.read_text() for path in (ROOT / "src/konsil").rglob("*.py"))
    env = compose()["services"]["web"]["environment"]
    for key in env:
        if key.startswith("KONSIL_"):
            assert f'"{key}"' in settings_text, key


def test_commands_are_ones_the_cli_accepts():
    services = compose()["services"]
    parser = cli.build_parser()
    for name in ("worker-urgent", "worker-bulk", "clock"):
        command = services[name]["command"]
        assert command[0] == "konsil"
        args = parser.parse_args(command[1:])
        assert args.func is not None
    assert services["worker-urgent"]["command"][2:4] == ["--lanes", "urgent"]
    assert services["worker-bulk"]["command"][2:4] == ["--lanes", "bulk"]
    assert "replicas" not in str(services["clock"].get("deploy", {}))  # one clock


def test_dockerfile_installs_the_scale_extra_and_runs_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    assert '".[scale]"' in text and "collectstatic" in text
    assert re.search(r"^USER konsil$", text, re.M)
    assert "/healthz" in text
