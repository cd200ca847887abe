"""Writing and verifying the audit trail. Call `emit` inside the transaction of the write it records."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.db import transaction
from django.utils import timezone

from konsil.core import context

from .models import AuditEvent, ChainHead, Outcome

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
    return hashlib.sha256(prev_hash.encode() + _canonical(event)).hexdigest()


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
    ctx = context.current()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        head, _ = ChainHead.objects.select_for_update().get_or_create(id=1)
        event = AuditEvent(
            seq=head.seq + 1,
            occurred_at=timezone.now(),
            actor=user,
            actor_label=(user.email if user else (actor if isinstance(actor, str) else "system"))[:254],
            role=str(role or "")[:32],
            action=str(action)[:64],
            object_type=str(object_type or "")[:64],
            object_id=str(object_id)[:64],
            patient_id=patient_id,
            purpose=purpose,
            outcome=outcome,
            ip=ctx.ip,
            channel=ctx.channel,
            detail=detail or {},
            prev_hash=head.hash,
        )
        event.hash = compute_hash(head.hash, event)
        event.save(force_insert=True)
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
    return event


@dataclass
class VerifyResult:
    verified: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""


def verify(batch_size: int = 2000) -> VerifyResult:
    """Walk the chain in order; report the first event whose hash, link or sequence is wrong."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=batch_size):
        if event.seq != expected_seq:
            return VerifyResult(count, False, expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return VerifyResult(count, False, event.seq,
                                f"event {event.seq} does not link to its predecessor")
        if compute_hash(prev_hash, event) != event.hash:
            return VerifyResult(count, False, event.seq, f"event {event.seq} was altered")
        prev_hash, expected_seq, count, last_seq = event.hash, expected_seq + 1, count + 1, event.seq
    head = ChainHead.objects.filter(id=1).first() or ChainHead(seq=0, hash=GENESIS)
    if head.seq != last_seq or head.hash != prev_hash:
        return VerifyResult(count, False, last_seq + 1, f"events after {last_seq} were removed")
    return VerifyResult(count, True)


def emit_many(*, actor, events: list[dict], role: str = "", purpose: str = "treatment") -> None:
    """Append several events in one transaction (a list page showing many patients' cases)."""
    if not events:
        return
    with transaction.atomic():
        for fields in events:
            emit(actor=actor, role=fields.pop("role", role), purpose=purpose, **fields)
