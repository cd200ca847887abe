"""Signed checkpoints of the chain head, written outside the database.

Every few minutes (core/schedule.py) the clock appends one line to an append-only file (KONSIL_AUDIT_CHECKPOINTS,
default KONSIL_HOME/audit_checkpoints.log) and, when KONSIL_AUDIT_CHECKPOINT_SYSLOG is set, sends it to a syslog
collector too. A line names the head's sequence number and hash and is signed with Ed25519 under a key derived
from the audit key, so anyone holding the public key (`konsil audit checkpoint --public-key`) can check it.
`services.verify` then requires each checkpointed event to still exist with the recorded hash: a database
administrator who rewrites events and recomputes the chain, or deletes the newest events and moves the head back,
is caught for everything written before the last checkpoint.
"""

from __future__ import annotations

import base64
import json
import logging
import logging.handlers
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils import timezone

from .models import Alg, AuditEvent, ChainHead

VERSION = 1
GENESIS = "0" * 64


class CheckpointError(Exception):
    """The checkpoint file is not what Konsil wrote: a line altered, forged, reordered or unreadable."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    legacy: int  # events before the chain was keyed (they may never grow)
    at: str

    def payload(self) -> bytes:
        body = {"v": VERSION, "seq": self.seq, "hash": self.hash, "legacy": self.legacy, "at": self.at}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _signing_key() -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"konsil audit checkpoint signing v1").derive(settings.KONSIL_AUDIT_KEY)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key() -> Ed25519PublicKey:
    return _signing_key().public_key()


def public_key_pem() -> str:
    return public_key().public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def path(override=None) -> Path:
    return Path(override or settings.KONSIL_AUDIT_CHECKPOINTS)


def sign(mark: Checkpoint) -> str:
    signature = base64.b64encode(_signing_key().sign(mark.payload())).decode()
    return json.dumps({**json.loads(mark.payload()), "sig": signature}, sort_keys=True, separators=(",", ":"))


def parse(line: str, number: int, key: Ed25519PublicKey | None = None) -> Checkpoint:
    try:
        data = json.loads(line)
        mark = Checkpoint(seq=int(data["seq"]), hash=str(data["hash"]), legacy=int(data["legacy"]),
                          at=str(data["at"]))
        (key or public_key()).verify(base64.b64decode(data["sig"]), mark.payload())
    except InvalidSignature:
        raise CheckpointError(f"checkpoint line {number} is not signed by the audit key") from None
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"checkpoint line {number} is unreadable") from None
    return mark


def read(override=None) -> list[Checkpoint]:
    """Every checkpoint in the file, in order; CheckpointError when one is forged or they go backwards."""
    target = path(override)
    if not target.exists():
        return []
    key, marks = public_key(), []
    for number, line in enumerate(target.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        mark = parse(line, number, key)
        if marks and (mark.seq < marks[-1].seq or mark.legacy < marks[-1].legacy):
            raise CheckpointError(f"checkpoint line {number} goes back to event {mark.seq}")
        marks.append(mark)
    return marks


def _legacy_count(previous: Checkpoint | None) -> int:
    if previous is not None:
        return previous.legacy  # legacy events are a prefix written before the upgrade: the count never changes
    last = AuditEvent.objects.filter(alg=Alg.LEGACY).order_by("-seq").values_list("seq", flat=True).first()
    return last or 0


def write(override=None, *, force: bool = False) -> Checkpoint | None:
    """Append a signed checkpoint of the current head; None when nothing was written since the last one."""
    target = path(override)
    marks = read(target)
    previous = marks[-1] if marks else None
    head = ChainHead.objects.filter(id=1).first()
    seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if not force and previous is not None and (previous.seq, previous.hash) == (seq, head_hash):
        return None
    mark = Checkpoint(seq=seq, hash=head_hash, legacy=_legacy_count(previous),
                      at=timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
    line = sign(mark) + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    _to_syslog(line.strip())
    return mark


def _to_syslog(line: str) -> None:
    address = settings.KONSIL_AUDIT_CHECKPOINT_SYSLOG
    if not address:
        return
    host, _sep, port = address.rpartition(":")
    handler = logging.handlers.SysLogHandler(address=(host or "127.0.0.1", int(port or 514)),
                                             facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV)
    try:
        handler.emit(logging.makeLogRecord({"msg": f"konsil-audit-checkpoint {line}", "levelno": logging.INFO,
                                            "levelname": "INFO"}))
    finally:
        handler.close()
