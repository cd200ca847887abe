"""The audit trail: a gap-free hash chain that detects edits and deletions; append-only."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from konsil.audit.models import AuditEvent, ChainHead
from konsil.audit.services import GENESIS, compute_hash, emit, emit_many, verify
from konsil.core import context

from ..factories import audit_trigger_disabled

TABLE = AuditEvent._meta.db_table
TRIGGER = "audit_auditevent_append_only"
on_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                 reason="the trigger exists on PostgreSQL only")
PG_CASTS = {"detail": "::jsonb", "ip": "::inet"}


trigger_disabled = audit_trigger_disabled


@pytest.fixture
def chain(db, patient_user):
    patient_id = uuid.uuid4()
    for i in range(5):
        emit(actor=patient_user, action="case.read", object_type="cases.case", object_id=f"obj-{i}",
             patient_id=patient_id, role="patient", detail={"i": i, "nested": {"b": 1, "a": [1, 2]}})
    return list(AuditEvent.objects.order_by("seq"))


def test_emit_builds_a_gap_free_chain(chain):
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    assert chain[0].prev_hash == GENESIS
    for before, after in zip(chain, chain[1:], strict=False):
        assert after.prev_hash == before.hash
    for event in chain:
        assert compute_hash(event.prev_hash, event) == event.hash
    head = ChainHead.objects.get()
    assert (head.seq, head.hash) == (5, chain[-1].hash)


def test_verify_ok(chain):
    result = verify()
    assert (result.ok, result.verified, result.broken_seq) == (True, 5, None)
    assert verify(batch_size=2).verified == 5


def test_verify_an_empty_trail(db):
    assert verify().ok and verify().verified == 0


@pytest.mark.parametrize(("column", "value"), [("action", "case.delete"), ("outcome", "denied"),
                                               ("object_id", "obj-x"), ("detail", '{"i": 99}'),
                                               ("ip", "10.0.0.1"), ("role", "coordinator")])
def test_editing_a_row_is_detected(column, value, chain):
    with trigger_disabled() as cursor:
        cast = PG_CASTS.get(column, "") if connection.vendor == "postgresql" else ""
        cursor.execute(f"UPDATE {TABLE} SET {column} = %s{cast} WHERE seq = 3", [value])
    result = verify()
    assert not result.ok
    assert result.broken_seq == 3
    assert result.verified == 2
    assert "3" in result.reason


def test_rehashing_an_edited_row_breaks_the_next_link(chain):
    tampered = AuditEvent.objects.get(seq=2)
    tampered.action = "case.nothing_to_see"
    new_hash = compute_hash(tampered.prev_hash, tampered)
    with trigger_disabled() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET action = %s, hash = %s WHERE seq = 2",
                       [tampered.action, new_hash])
    result = verify()
    assert (result.ok, result.broken_seq) == (False, 3)


def test_deleting_a_middle_row_is_detected(chain):
    with trigger_disabled() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq = 3")
    result = verify()
    assert (result.ok, result.broken_seq, result.verified) == (False, 3, 2)


def test_deleting_the_last_row_is_detected(chain):
    with trigger_disabled() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq = 5")
    result = verify()
    assert (result.ok, result.broken_seq, result.verified) == (False, 5, 4)


def test_deleting_everything_is_detected(chain):
    with trigger_disabled() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
    result = verify()
    assert not result.ok and result.broken_seq == 1


def test_deleting_the_last_row_and_the_head_is_detected(chain):
    with trigger_disabled() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq = 5")
        ChainHead.objects.all().delete()
    assert not verify().ok


def test_model_refuses_update_and_delete(chain):
    event = chain[0]
    event.action = "changed"
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()
    assert verify().ok


@on_postgres
@pytest.mark.parametrize("sql", [f"UPDATE {TABLE} SET action = 'x' WHERE seq = 1", f"DELETE FROM {TABLE}"])
def test_database_trigger_refuses_raw_changes(sql, chain):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert verify().ok


def test_a_rolled_back_write_leaves_no_gap(chain, patient_user):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        emit(actor=patient_user, action="case.update")
        1 / 0  # noqa: B018
    emit(actor=patient_user, action="case.update")
    assert AuditEvent.objects.order_by("-seq").first().seq == 6
    assert verify().ok


def test_event_fields(db, patient_user, draft_case):
    token = context.set_current(context.RequestContext(ip="198.51.100.7", channel="api"))
    try:
        event = emit(actor=patient_user, action="case.read", obj=draft_case, patient_id=draft_case.patient_id,
                     role="patient", purpose="treatment")
    finally:
        context.reset(token)
    event.refresh_from_db()
    assert (event.object_type, event.object_id) == ("cases.case", str(draft_case.pk))
    assert (event.actor, event.actor_label) == (patient_user, patient_user.email)
    assert (event.ip, event.channel, event.outcome) == ("198.51.100.7", "api", "success")
    assert event.occurred_at is not None
    assert str(event) == f"#{event.seq} case.read"


def test_system_and_named_actors(db):
    assert emit(actor=None, action="seed.run").actor_label == "system"
    assert emit(actor="triage", action="triage.propose").actor_label == "triage"


def test_oversized_values_are_cut_to_fit_and_still_verify(db):
    event = emit(actor="x" * 400, action="a" * 100, object_type="t" * 100, object_id="i" * 100,
                 role="r" * 50)
    event.refresh_from_db()
    sizes = (len(event.actor_label), len(event.action), len(event.object_id), len(event.role))
    assert sizes == (254, 64, 64, 32)
    assert verify().ok


def test_emit_many(db, coordinator):
    ids = [uuid.uuid4() for _ in range(3)]
    emit_many(actor=coordinator, role="coordinator", events=[
        {"action": "case.list", "object_type": "cases.case", "object_id": str(i), "patient_id": i}
        for i in ids])
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.patient_id for e in events] == ids
    assert {e.role for e in events} == {"coordinator"}
    emit_many(actor=coordinator, events=[])
    assert AuditEvent.objects.count() == 3
    assert verify().ok
