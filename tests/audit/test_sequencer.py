"""Events are chained after their transaction commits, by a sequencer under a short lock: business transactions
never wait on the chain head, and the chain keeps its tamper evidence."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, connections, transaction
from django.db.models.sql import compiler
from django.test.utils import CaptureQueriesContext

from konsil import cli
from konsil.audit import checkpoints, services
from konsil.audit.models import AuditEvent, ChainHead, PendingEvent
from konsil.audit.services import compute_hash, emit, emit_many, seal, verify
from konsil.audit.tasks import write_checkpoint
from konsil.core import context

from ..factories import audit_trigger_disabled

pytestmark = pytest.mark.django_db(transaction=True)


def emit_in_transaction(n: int = 1, prefix: str = "case.read") -> None:
    with transaction.atomic():
        for i in range(n):
            emit(actor="test", action=f"{prefix}{i}", object_type="cases.case", object_id=str(i))


def stage(n: int) -> None:
    """Events committed by a worker that died before its seal ran: pending rows and nothing else."""
    events = services._build("test", [{"action": f"case.lost{i}"} for i in range(n)])
    PendingEvent.objects.bulk_create([PendingEvent(mac=services.pending_mac(e), **{
        name: getattr(e, name) for name in services.CONTENT_FIELDS}) for e in events])


def test_events_wait_in_the_transaction_and_are_chained_on_commit():
    with transaction.atomic():
        emit(actor="test", action="case.read", object_id="1")
        emit_many(actor="test", events=[{"action": "case.list", "object_id": "2"},
                                        {"action": "case.list", "object_id": "3"}])
        assert PendingEvent.objects.count() == 3
        assert AuditEvent.objects.count() == 0
    assert PendingEvent.objects.count() == 0
    assert list(AuditEvent.objects.values_list("seq", "object_id")) == [(1, "1"), (2, "2"), (3, "3")]
    assert ChainHead.objects.get().seq == 3
    assert verify().ok


def test_a_business_transaction_never_touches_the_chain_head():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        emit(actor="test", action="case.read")
        in_transaction = len(queries)
    business = [q["sql"] for q in queries.captured_queries[:in_transaction]]
    assert not [sql for sql in business if "audit_chainhead" in sql]
    assert [sql for sql in queries.captured_queries[in_transaction:] if "audit_chainhead" in sql["sql"]]


def test_inline_mode_locks_the_head_inside_the_transaction(settings):
    settings.KONSIL_AUDIT_SEAL = "inline"
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        emit(actor="test", action="case.read")
        assert AuditEvent.objects.count() == 1
        assert [q for q in queries.captured_queries if "audit_chainhead" in q["sql"]]
    assert PendingEvent.objects.count() == 0 and verify().ok


def test_autocommit_emits_are_chained_at_once():
    emit(actor="test", action="case.read")
    assert AuditEvent.objects.count() == 1 and PendingEvent.objects.count() == 0


def test_a_rolled_back_transaction_leaves_nothing_and_no_gap():
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        emit(actor="test", action="case.update")
        1 / 0  # noqa: B018
    assert PendingEvent.objects.count() == 0 and AuditEvent.objects.count() == 0
    emit_in_transaction(2)
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1, 2]
    assert verify().ok


def test_events_left_pending_by_a_dead_worker_are_chained_by_verify_and_the_clock(capsys):
    emit_in_transaction(2)
    stage(3)
    assert cli.main(["audit", "verify"]) == 0
    assert "audit chain OK: 5 events verified" in capsys.readouterr().out
    stage(2)
    write_checkpoint.call()
    assert checkpoints.read()[-1].seq == 7
    assert PendingEvent.objects.count() == 0


def test_seal_works_in_batches():
    stage(5)
    assert seal(batch=2) == 5
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    assert seal() == 0
    assert verify().ok


def test_an_event_altered_while_pending_is_flagged_when_chained():
    stage(2)
    PendingEvent.objects.filter(action="case.lost1").update(action="case.nothing")
    assert seal() == 2
    flagged = AuditEvent.objects.get(action="audit.pending_altered")
    assert flagged.outcome == "failure"
    assert flagged.object_id == str(AuditEvent.objects.get(action="case.nothing").id)
    assert verify().ok  # the chain itself is whole: the alteration is recorded in it


def test_deferred_events_keep_their_tamper_evidence():
    for i in range(4):
        emit_in_transaction(1, prefix=f"case.read{i}-")
    checkpoints.write()
    with audit_trigger_disabled() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = 'x' WHERE seq = 2")
    result = verify()
    assert (result.ok, result.broken_seq) == (False, 2)


def test_deferred_rewrite_with_the_key_is_caught_by_the_checkpoint():
    emit_in_transaction(4)
    checkpoints.write()
    prev = AuditEvent.objects.get(seq=2).hash
    with audit_trigger_disabled():
        for event in AuditEvent.objects.filter(seq__gte=3).order_by("seq"):
            event.object_id = "rewritten"
            event.prev_hash = prev
            event.hash = prev = compute_hash(prev, event)
            AuditEvent.objects.filter(seq=event.seq).update(object_id="rewritten", prev_hash=event.prev_hash,
                                                            hash=event.hash)
        ChainHead.objects.filter(id=1).update(hash=prev)
    result = verify()
    assert not result.ok and "signed checkpoint" in result.reason


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_an_open_business_transaction_does_not_block_other_writers():
    """A slow transaction holding its events pending: another worker's events commit and chain meanwhile."""
    started, release, done = threading.Event(), threading.Event(), threading.Event()
    errors = []

    def slow():
        try:
            with transaction.atomic():
                emit(actor="slow", action="case.slow")
                started.set()
                release.wait(10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def fast():
        try:
            started.wait(10)
            for i in range(5):
                emit_in_transaction(1, prefix=f"case.fast{i}-")
            done.set()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=slow), threading.Thread(target=fast)]
    for thread in threads:
        thread.start()
    assert done.wait(10), "the fast writer waited on the slow transaction"
    assert AuditEvent.objects.filter(action__startswith="case.fast").count() == 5
    release.set()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert AuditEvent.objects.count() == 6 and PendingEvent.objects.count() == 0
    assert verify().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_concurrent_writers_make_one_gap_free_chain():
    errors = []

    def writer(n):
        try:
            for i in range(10):
                emit_in_transaction(2, prefix=f"w{n}.{i}.")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 161))
    assert PendingEvent.objects.count() == 0
    assert verify().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_nobody_waits_for_a_busy_head_and_its_holder_chains_what_was_left(monkeypatch):
    """A read that finds the head locked stages its event; so does a commit's sequencer. Neither waits, and the
    holder chains both after its release: nothing stays pending."""
    ChainHead.objects.get_or_create(id=1)  # the head exists after the first event (its creation waits)
    held, release, done = threading.Event(), threading.Event(), threading.Event()
    errors = []
    chain = services._chain

    def slow_chain(events, head):
        if events[0].action == "case.held":
            held.set()
            release.wait(10)  # the head stays locked meanwhile
        chain(events, head)

    monkeypatch.setattr(services, "_chain", slow_chain)

    def run(work):
        try:
            work()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def others():
        held.wait(10)
        with CaptureQueriesContext(connections["default"]) as read:
            emit(actor="reader", action="case.read")  # autocommit, as a read is audited
        reads.extend(q["sql"] for q in read.captured_queries)
        emit_in_transaction(1, prefix="case.update")
        done.set()

    reads = []
    threads = [threading.Thread(target=run, args=(lambda: emit(actor="holder", action="case.held"),)),
               threading.Thread(target=run, args=(others,))]
    for thread in threads:
        thread.start()
    assert done.wait(10), "a sequencer waited for the locked head"
    # the busy read: the head and whether it exists in one statement, its staged event, one more try at the head
    # (no separate "does the head exist", no "is anything pending" after staging: it knows)
    data = [sql for sql in reads if sql.split()[0] in ("SELECT", "INSERT")]
    assert len(data) == 3 and sum("SKIP LOCKED" in sql for sql in data) == 2, reads
    assert PendingEvent.objects.count() == 2 and not AuditEvent.objects.exists()
    release.set()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert list(AuditEvent.objects.order_by("seq").values_list("action", flat=True)) == [
        "case.held", "case.read", "case.update0"]
    assert PendingEvent.objects.count() == 0 and verify().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_a_blocking_seal_looks_again_after_each_round(monkeypatch):
    """Events staged while `seal` (the clock, verify) held the head are chained by that same call."""
    ChainHead.objects.get_or_create(id=1)
    stage(2)
    chain, staged = services._chain, []

    def chain_and_stage_more(events, head):
        chain(events, head)
        if not staged:  # another worker's commit while the head is held: it skips and leaves its event
            staged.append(True)
            worker = threading.Thread(target=lambda: (emit_in_transaction(1, prefix="case.late"),
                                                      connections.close_all()))
            worker.start()
            worker.join(10)

    monkeypatch.setattr(services, "_chain", chain_and_stage_more)
    assert seal() == 3
    assert PendingEvent.objects.count() == 0 and AuditEvent.objects.count() == 3 and verify().ok


def _count_compiles(monkeypatch) -> list[str]:
    """The SQL of every ORM query compiled from now on."""
    compiled = []
    for cls in (compiler.SQLCompiler, compiler.SQLInsertCompiler, compiler.SQLUpdateCompiler,
                compiler.SQLDeleteCompiler):
        def as_sql(self, *args, _real=cls.__dict__["as_sql"], **kwargs):
            sql = _real(self, *args, **kwargs)
            compiled.append(str(sql[0]) if isinstance(sql, tuple) else str(sql))
            return sql
        monkeypatch.setattr(cls, "as_sql", as_sql)
    return compiled


def test_appending_compiles_no_orm_query(monkeypatch):
    """An audited request chains its events with SQL written once (audit/statements.py): compiling the same ORM
    queries on every request cost about a tenth of the web workers' CPU under load."""
    emit(actor="test", action="case.warm")  # the head exists from here on, as it does after the first event
    emit_in_transaction(1, prefix="case.warm")  # and the sequencer's read is compiled, once per process
    compiled = _count_compiles(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        emit(actor="test", action="case.read")  # autocommit, as a read is audited
        emit_many(actor="test", events=[{"action": "case.list", "object_id": str(i)} for i in range(3)])
    assert compiled == [] and len(queries) >= 8  # lock, insert, move, look for pending: twice
    with transaction.atomic():
        emit(actor="test", action="case.update")
        assert compiled == []  # the business transaction only stages its event
    assert compiled == []  # nor does the sequencer that chains it after the commit
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1, 2, 3, 4, 5, 6, 7]
    assert PendingEvent.objects.count() == 0 and verify().ok


@pytest.mark.parametrize("staged", [False, True], ids=["chained at once", "staged then chained"])
def test_the_fixed_statements_store_what_the_orm_stores(staged):
    """Every column written by audit/statements.py reads back as written, odd values included."""
    token = context.set_current(context.RequestContext(ip="2001:db8::7", channel="api"))
    patient_id = uuid.uuid4()
    detail = {"text": "İ\u0301 日本 \U0001F600 \"quoted\" \\ end", "n": 10**30, "nested": [{"a": None}, 1.5, True]}
    try:
        def write():
            return emit(actor="system", action="case.read", object_type="cases.case", object_id="x" * 64,
                        patient_id=patient_id, role="coordinator", purpose="HOPERAT", outcome="denied",
                        detail=detail)
        if staged:
            with transaction.atomic():
                event = write()
        else:
            event = write()
    finally:
        context.reset(token)
    stored = AuditEvent.objects.get(id=event.id)
    for name in services.CONTENT_FIELDS:
        assert getattr(stored, name) == getattr(event, name), name
    assert stored.ip == "2001:db8::7" and stored.detail == detail and stored.patient_id == patient_id
    assert verify().ok
