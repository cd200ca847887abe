"""Writing and verifying the audit trail. Call `emit` inside the transaction of the write it records."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from konsil.core import context

from .models import Alg, AuditEvent, ChainHead, Outcome

GENESIS = "0" * 64
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


def _append(actor, specs: list[dict]) -> list[AuditEvent]:
    """Lock the chain head, link each event to the previous one, insert them, move the head."""
    if not specs:
        return []
    ctx = context.current()
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = (user.email if user else (actor if isinstance(actor, str) else "system"))[:254]
    with transaction.atomic():
        head, _ = ChainHead.objects.select_for_update().get_or_create(id=1)
        seq, prev_hash, events = head.seq, head.hash, []
        now = timezone.now()
        for spec in specs:
            seq += 1
            event = AuditEvent(
                seq=seq,
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
                prev_hash=prev_hash,
            )
            event.hash = prev_hash = compute_hash(prev_hash, event)
            events.append(event)
        AuditEvent.objects.bulk_create(events)
        head.seq, head.hash = seq, prev_hash
        head.save(update_fields=["seq", "hash"])
    return events


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
    head = ChainHead.objects.filter(id=1).first() or ChainHead(seq=0, hash=GENESIS)
    if head.seq != last_seq or head.hash != prev_hash:
        return broken(last_seq + 1, f"events after {last_seq} were removed")
    if legacy:
        warnings.append(f"{legacy} events written before the chain was keyed are protected by the "
                        "checkpoints only")
    if marks and marks[-1].seq < last_seq:
        warnings.append(f"events after {marks[-1].seq} are not checkpointed yet")
    return VerifyResult(count, True, checkpoints=matched, warnings=warnings)

