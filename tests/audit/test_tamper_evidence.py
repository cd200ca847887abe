"""Tamper evidence that survives a database administrator: a keyed chain, signed checkpoints outside the
database, triggers on both engines and an ORM that refuses bulk changes."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from konsil import cli
from konsil.audit import checkpoints, dbguard
from konsil.audit.models import AuditEvent, ChainHead
from konsil.audit.services import _canonical, compute_hash, emit, verify
from konsil.audit.tasks import write_checkpoint
from konsil.core import schedule

from ..factories import audit_trigger_disabled

TABLE = AuditEvent._meta.db_table


@pytest.fixture
def chain(db):
    for i in range(6):
        emit(actor="test", action=f"case.read{i}", object_type="cases.case", object_id=str(i))
    return list(AuditEvent.objects.order_by("seq"))


def rewrite_from(seq: int, change: dict, hasher, every: dict | None = None) -> None:
    """The attack: change one event and recompute every following hash, then move the head to the new end."""
    events = list(AuditEvent.objects.filter(seq__gte=seq).order_by("seq"))
    prev = AuditEvent.objects.get(seq=seq - 1).hash if seq > 1 else "0" * 64
    with audit_trigger_disabled():
        for event in events:
            fields = {**(every or {}), **(change if event.seq == seq else {})}
            for name, value in fields.items():
                setattr(event, name, value)
            event.prev_hash = prev
            event.hash = prev = hasher(prev, event)
            AuditEvent.objects.filter(seq=event.seq).update(
                prev_hash=event.prev_hash, hash=event.hash, **{k: getattr(event, k) for k in {*change, *fields}})
        ChainHead.objects.filter(id=1).update(hash=prev)


def plain_sha256(prev, event):
    return hashlib.sha256(prev.encode() + _canonical(event)).hexdigest()


def test_the_chain_is_keyed(chain):
    event = chain[0]
    assert event.alg == "hmac-sha256"
    assert event.hash != plain_sha256(event.prev_hash, event)
    settings.KONSIL_AUDIT_KEY = b"another key" * 3
    assert compute_hash(event.prev_hash, event) != event.hash


def test_a_rewrite_without_the_key_is_detected(chain):
    rewrite_from(3, {"action": "case.nothing"}, plain_sha256)
    result = verify()
    assert (result.ok, result.broken_seq) == (False, 3)


def test_relabelling_events_as_unkeyed_is_detected(chain):
    checkpoints.write()
    rewrite_from(1, {"action": "case.nothing"}, plain_sha256, every={"alg": "sha256"})
    result = verify()
    assert not result.ok and "predate the keyed chain" in result.reason


def test_a_rewrite_with_the_key_is_caught_by_the_checkpoint(chain):
    checkpoints.write()
    rewrite_from(3, {"action": "case.nothing"}, compute_hash)  # the attacker even holds the audit key
    result = verify()
    assert (result.ok, result.broken_seq) == (False, 6)
    assert "signed checkpoint" in result.reason


def test_deleting_the_newest_events_and_moving_the_head_back_is_detected(chain):
    checkpoints.write()
    with audit_trigger_disabled() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq > 4")
        ChainHead.objects.filter(id=1).update(seq=4, hash=chain[3].hash)
    result = verify()
    assert (result.ok, result.broken_seq) == (False, 5)
    assert "removed" in result.reason


def test_cli_verify_detects_both_rewrites(chain, capsys):
    assert cli.main(["audit", "checkpoint"]) == 0
    assert cli.main(["audit", "verify"]) == 0
    assert "1 signed checkpoints matched" in capsys.readouterr().out
    rewrite_from(2, {"object_id": "x"}, compute_hash)
    assert cli.main(["audit", "verify"]) == 1
    assert "BROKEN" in capsys.readouterr().err


def test_cli_verify_detects_a_truncated_chain(chain, capsys):
    assert cli.main(["audit", "checkpoint"]) == 0
    with audit_trigger_disabled() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq = 6")
        ChainHead.objects.filter(id=1).update(seq=5, hash=chain[4].hash)
    assert cli.main(["audit", "verify"]) == 1
    assert "events after 5 were removed" in capsys.readouterr().err


def test_checkpoints_are_signed_appended_and_private(chain):
    first = checkpoints.write()
    assert (first.seq, first.hash) == (6, chain[-1].hash)
    assert checkpoints.write() is None  # nothing new
    emit(actor="test", action="case.read")
    assert checkpoints.write().seq == 7
    target = Path(settings.KONSIL_AUDIT_CHECKPOINTS)
    assert len(target.read_text().splitlines()) == 2
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [m.seq for m in checkpoints.read()] == [6, 7]
    assert "BEGIN PUBLIC KEY" in checkpoints.public_key_pem()


@pytest.mark.parametrize("forge", ["seq", "signature", "garbage", "backwards"])
def test_a_forged_checkpoint_file_fails_verification(chain, forge):
    checkpoints.write()
    target = Path(settings.KONSIL_AUDIT_CHECKPOINTS)
    line = json.loads(target.read_text())
    if forge == "seq":
        line["seq"] = 3
        target.write_text(json.dumps(line) + "\n")
    elif forge == "signature":
        line["sig"] = line["sig"][::-1]
        target.write_text(json.dumps(line) + "\n")
    elif forge == "garbage":
        target.write_text("not json\n")
    else:
        earlier = checkpoints.sign(checkpoints.Checkpoint(seq=2, hash=chain[1].hash, legacy=0, at="x"))
        target.write_text(target.read_text() + earlier + "\n")
    result = verify()
    assert not result.ok and "checkpoint line" in result.reason


def test_verify_against_a_copy_of_the_checkpoints(chain, tmp_path, capsys):
    copy = tmp_path / "worm-copy.log"
    checkpoints.write(copy)
    assert verify(checkpoint_path=copy).checkpoints == 1
    assert cli.main(["audit", "verify", "--checkpoints", str(copy)]) == 0


def test_the_clock_writes_checkpoints(chain):
    assert "konsil.audit.tasks.write_checkpoint" in {p.task for p in schedule.SCHEDULE}
    write_checkpoint.call()
    assert checkpoints.read()[-1].seq == 6


def test_verify_warns_without_checkpoints_and_with_unchecked_events(chain):
    result = verify()
    assert result.ok and any("no signed checkpoint" in w for w in result.warnings)
    checkpoints.write()
    emit(actor="test", action="case.read")
    result = verify()
    assert result.ok and any("not checkpointed yet" in w for w in result.warnings)


def test_queryset_update_and_delete_are_refused(chain):
    with pytest.raises(RuntimeError):
        AuditEvent.objects.filter(seq=1).update(action="x")
    with pytest.raises(RuntimeError):
        AuditEvent.objects.filter(seq=6).delete()
    with pytest.raises(RuntimeError):
        AuditEvent.objects.bulk_update(chain[:1], ["action"])
    with pytest.raises(RuntimeError):
        AuditEvent._base_manager.filter(seq=1).update(action="x")
    assert verify().ok


@pytest.mark.parametrize("sql", [f"UPDATE {TABLE} SET action = 'x' WHERE seq = 1", f"DELETE FROM {TABLE}",
                                 "UPDATE audit_chainhead SET seq = 2", "DELETE FROM audit_chainhead"])
def test_the_database_refuses_raw_changes_on_every_engine(sql, chain):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert verify().ok


def test_the_head_still_moves_forward(chain):
    emit(actor="test", action="case.read")
    assert ChainHead.objects.get().seq == 7


def test_missing_triggers_are_reported_and_restored(chain, capsys):
    assert dbguard.missing(connection) == []
    dbguard.uninstall(connection)
    try:
        assert any("trigger" in w for w in verify().warnings)
    finally:
        assert cli.main(["audit", "protect"]) == 0
    assert dbguard.missing(connection) == []


def test_unkeyed_events_without_a_checkpoint_fail(chain):
    rewrite_from(1, {"action": "case.nothing"}, plain_sha256, every={"alg": "sha256"})
    result = verify()
    assert not result.ok and result.broken_seq == 1


def test_an_upgraded_trail_keeps_its_unkeyed_prefix(db):
    """Events written before the upgrade stay SHA-256; the migration's first checkpoint pins how many."""
    for i in range(3):
        emit(actor="test", action=f"old{i}")
    rewrite_from(1, {}, plain_sha256, every={"alg": "sha256"})  # what 0003 leaves behind
    checkpoints.write()  # what 0003 writes
    assert checkpoints.read()[-1].legacy == 3
    emit(actor="test", action="new")
    assert AuditEvent.objects.get(seq=4).alg == "hmac-sha256"
    checkpoints.write()
    assert checkpoints.read()[-1].legacy == 3
    result = verify()
    assert result.ok and any("3 events written before" in w for w in result.warnings)


def test_a_committing_test_can_still_be_cleaned_up(transactional_db):
    """The flush after a committing test (live server) lifts the triggers for the flush only."""
    emit(actor="test", action="case.read")
    assert AuditEvent.objects.count() == 1


def test_the_triggers_are_back_after_a_flush(transactional_db):
    assert AuditEvent.objects.count() == 0
    assert dbguard.missing(connection) == []
