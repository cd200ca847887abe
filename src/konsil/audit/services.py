"""Writing and verifying the audit trail. Call `emit` inside the transaction of the write it records.

No global lock in business transactions: `emit` inside a transaction only inserts `PendingEvent` rows (with an
HMAC of their content) and registers the sequencer for the commit; `seal` then chains every pending event under
a short lock on the chain head (one small transaction, batching whatever other workers committed meanwhile: a
group commit). We chose this over per-shard chains because the chain, `verify`, the checkpoints and the exports
stay one gap-free sequence, and the lock is held for the chaining only, never across a request's work.
Outside a transaction (autocommit) `emit` chains at once; so does a test's never-committing transaction.
KONSIL_AUDIT_SEAL=inline keeps the old behaviour (the head locked until the business transaction ends).

Nobody waits for the head after a commit (PostgreSQL): a sequencer that finds it locked leaves its events pending
(an autocommit read stages them instead of chaining), because whoever holds the head looks for pending events
again after releasing it and chains them. A committed event is therefore always chained by a later holder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from konsil.core import context
from konsil.core.prepared import Prepared

from . import statements
from .models import Alg, AuditEvent, ChainHead, Outcome, PendingEvent

GENESIS = "0" * 64
PENDING_MAC_PREFIX = b"konsil audit pending v1\n"
CONTENT_FIELDS = ("id", "occurred_at", "actor_id", "actor_label", "role", "action", "object_type", "object_id",
                  "patient_id", "purpose", "outcome", "ip", "channel", "detail")
logger = logging.getLogger(__name__)
SEAL_BATCH = 2000
# The oldest staged events, as the sequencer reads them (compiled once: every commit that audits runs it).
_OLDEST_PENDING = Prepared(PendingEvent, lambda: PendingEvent.objects.order_by("pos")[:SEAL_BATCH])
HASHED_FIELDS = (
    "seq", "id", "occurred_at", "actor_id", "actor_label", "role", "action", "object_type", "object_id",
    "patient_id", "purpose", "outcome", "ip", "channel", "detail",
)


def _canonical(event: AuditEvent) -> bytes:
    values = {}
    for name in HASHED_FIELDS:
        value = getattr(event, name)
        if name == "occurred_at":
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif value is not None and name in ("id", "actor_id", "patient_id"):
            value = str(value)
        values[name] = value
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    """HMAC-SHA-256 under the audit key (kept outside the database); plain SHA-256 for legacy events."""
    message = prev_hash.encode() + _canonical(event)
    if getattr(event, "alg", Alg.HMAC) == Alg.LEGACY:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(settings.KONSIL_AUDIT_KEY, message, hashlib.sha256).hexdigest()


def emit(
    *,
    actor,
    action: str,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    patient_id=None,
    role: str = "",
    purpose: str = "treatment",
    outcome: str = Outcome.SUCCESS,
    detail: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain. Never put PHI in `detail`: ids and codes only."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    spec = {"action": action, "object_type": object_type, "object_id": object_id, "patient_id": patient_id,
            "role": role, "purpose": purpose, "outcome": outcome, "detail": detail}
    return _append(actor, [spec])[0]


def emit_many(*, actor, events: list[dict], role: str = "", purpose: str = "treatment") -> list[AuditEvent]:
    """Append several events under one lock and one insert (a list page showing many patients' cases)."""
    return _append(actor, [{"role": role, "purpose": purpose, **fields} for fields in events])


def _build(actor, specs: list[dict]) -> list[AuditEvent]:
    ctx = context.current()
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = (user.email if user else (actor if isinstance(actor, str) else "system"))[:254]
    now = timezone.now()
    return [
        AuditEvent(
            occurred_at=now,
            actor=user,
            actor_label=label,
            role=str(spec.get("role") or "")[:32],
            action=str(spec["action"])[:64],
            object_type=str(spec.get("object_type") or "")[:64],
            object_id=str(spec.get("object_id") or "")[:64],
            patient_id=spec.get("patient_id"),
            purpose=spec.get("purpose") or "treatment",
            outcome=spec.get("outcome") or Outcome.SUCCESS,
            ip=ctx.ip,
            channel=ctx.channel,
            detail=spec.get("detail") or {},
        )
        for spec in specs
    ]


def _seal_inside() -> bool:
    """Chain inside the caller's transaction, waiting for the head (inline mode, a test's transaction)?"""
    if settings.KONSIL_AUDIT_SEAL == "inline":
        return True
    # A test case's transaction never commits, so on_commit would never run: chain at once there.
    return connection.in_atomic_block and any(
        getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def _append(actor, specs: list[dict]) -> list[AuditEvent]:
    """Chain the events now, or stage them for the sequencer that runs when this transaction commits."""
    if not specs:
        return []
    events = _build(actor, specs)
    if _seal_inside():
        with transaction.atomic():
            _chain(events, _lock_head())
        return events
    if not connection.in_atomic_block:  # autocommit (a read): chain now, or stage when the head is busy
        with transaction.atomic():
            head = _lock_head(wait=False)
            _chain(events, head) if head is not None else _stage(events)
        _seal_waiting(staged=head is None)
        return events
    _stage(events)
    transaction.on_commit(_seal_waiting)
    return events


def _stage(events: list[AuditEvent]) -> None:
    statements.insert([PendingEvent(mac=pending_mac(event), **{
        name: getattr(event, name) for name in CONTENT_FIELDS}) for event in events])


def _lock_head(*, wait: bool = True) -> ChainHead | None:
    """The chain head, locked for this transaction; None when another sequencer holds it and `wait` is false
    (PostgreSQL: SKIP LOCKED; SQLite serializes every write transaction, so there it is always taken)."""
    if not wait and connection.features.has_select_for_update_skip_locked:
        head, exists = statements.try_head()
        if exists:
            return head
    return statements.head(lock="wait") or ChainHead.objects.select_for_update().get_or_create(id=statements.HEAD_ID)[0]


def pending_mac(event: AuditEvent) -> str:
    """HMAC of an event's content alone: it protects the event while it waits to be chained."""
    values = {name: getattr(event, name) for name in CONTENT_FIELDS}
    values["occurred_at"] = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for name in ("id", "actor_id", "patient_id"):
        values[name] = None if values[name] is None else str(values[name])
    message = PENDING_MAC_PREFIX + json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hmac.new(settings.KONSIL_AUDIT_KEY, message, hashlib.sha256).hexdigest()


def _chain(events: list[AuditEvent], head: ChainHead) -> None:
    """Under the head's lock (the caller's transaction): number, link and insert the events, move the head."""
    seq, prev_hash = head.seq, head.hash
    for event in events:
        seq += 1
        event.seq, event.prev_hash = seq, prev_hash
        event.hash = prev_hash = compute_hash(prev_hash, event)
    statements.insert(events)
    head.seq, head.hash = seq, prev_hash
    statements.move_head(head)


def _seal_waiting(*, staged: bool = False) -> None:
    """After a commit or a release of the head: chain what waits, unless another sequencer holds the head (it
    looks again after its own release, so nothing is left behind). `staged`: this caller just staged events, so
    something waits without asking."""
    try:
        if staged or statements.anything_pending():
            seal(wait=False)
    except Exception as exc:  # the business work is committed; the clock and verify chain what is left
        logger.error("audit events left pending for the next seal: %s", type(exc).__name__)


def seal(batch: int = SEAL_BATCH, *, wait: bool = True) -> int:
    """Chain every pending event, oldest first, in short transactions of at most `batch`; returns how many.
    With `wait` false it returns 0 at once when another sequencer holds the head."""
    total = 0
    while True:
        with transaction.atomic():
            head = _lock_head(wait=wait)  # one sequencer at a time
            if head is None:
                return total
            rows = _OLDEST_PENDING() if batch == SEAL_BATCH else list(PendingEvent.objects.order_by("pos")[:batch])
            if not rows:
                return total
            events, altered = [], []
            for row in rows:
                event = AuditEvent(**{name: getattr(row, name) for name in CONTENT_FIELDS})
                if not hmac.compare_digest(pending_mac(event), row.mac):
                    altered.append(str(row.id))
                events.append(event)
            for event_id in altered:  # chained as found (the trail only grows), and flagged beside it
                events += _build("audit", [{"action": "audit.pending_altered", "outcome": Outcome.FAILURE,
                                            "object_type": "audit.auditevent", "object_id": event_id}])
            _chain(events, head)
            statements.delete_pending([row.pos for row in rows])
        if altered:
            logger.error("%d audit events were altered while waiting to be chained", len(altered))
        total += len(rows)
        # Look again after the release: what others staged while this call held the head is chained next round.
        if len(rows) < batch and not statements.anything_pending():
            return total


def pending_count() -> int:
    return PendingEvent.objects.count()


@dataclass
class VerifyResult:
    verified: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""
    checkpoints: int = 0  # signed checkpoints outside the database that matched the chain
    warnings: list[str] = field(default_factory=list)


def verify(batch_size: int = 2000, checkpoint_path=None) -> VerifyResult:
    """Walk the chain in order; report the first event whose hash, link or sequence is wrong.

    Each signed checkpoint (written outside the database, see checkpoints.py) must name an event that exists with
    the hash it recorded: a rewrite that recomputed the hashes, or newest events deleted with the head moved back,
    both fail here even with the audit key in hand.
    """
    from . import checkpoints as cps
    from . import dbguard

    seal()  # what was written but not chained yet (a worker that died between its commit and its seal)
    warnings = [f"the database trigger {name} is missing; run `konsil audit protect`"
                for name in dbguard.missing(connection)]
    try:
        marks = cps.read(checkpoint_path)
    except cps.CheckpointError as exc:
        return VerifyResult(0, False, None, str(exc), warnings=warnings)
    if not marks:
        warnings.append("no signed checkpoint outside the database yet (`konsil audit checkpoint`)")
    wanted = {mark.seq: mark for mark in marks if mark.seq}
    prev_hash, expected_seq, count, matched = GENESIS, 1, 0, 0
    last_seq, legacy, keyed_seen = 0, 0, False

    def broken(seq, reason):
        return VerifyResult(count, False, seq, reason, matched, warnings)

    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=batch_size):
        if event.seq != expected_seq:
            return broken(expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return broken(event.seq, f"event {event.seq} does not link to its predecessor")
        if event.alg == Alg.LEGACY:
            if keyed_seen or not marks or event.seq > marks[-1].legacy:
                return broken(event.seq, f"event {event.seq} claims to predate the keyed chain: it was rewritten")
            legacy += 1
        else:
            keyed_seen = True
        if not hmac.compare_digest(compute_hash(prev_hash, event), event.hash):
            return broken(event.seq, f"event {event.seq} was altered")
        mark = wanted.get(event.seq)
        if mark is not None:
            if not hmac.compare_digest(mark.hash, event.hash):
                return broken(event.seq, f"event {event.seq} differs from the signed checkpoint of "
                                         f"{mark.at}: the chain was rewritten")
            matched += 1
        prev_hash, expected_seq, count, last_seq = event.hash, expected_seq + 1, count + 1, event.seq
    beyond = [mark for mark in marks if mark.seq > last_seq]
    if beyond:
        return broken(last_seq + 1, f"events after {last_seq} were removed: a signed checkpoint of "
                                    f"{beyond[-1].at} records event {beyond[-1].seq}")
    head = statements.head() or ChainHead(seq=0, hash=GENESIS)
    if head.seq != last_seq or head.hash != prev_hash:
        return broken(last_seq + 1, f"events after {last_seq} were removed")
    if legacy:
        warnings.append(f"{legacy} events written before the chain was keyed are protected by the "
                        "checkpoints only")
    if marks and marks[-1].seq < last_seq:
        warnings.append(f"events after {marks[-1].seq} are not checkpointed yet")
    return VerifyResult(count, True, checkpoints=matched, warnings=warnings)

