"""Encrypted file storage through Django's storage API. Object names are random; no PHI in names."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import storages

from . import crypto


class IntegrityError(Exception):
    """Stored content does not match its recorded SHA-256."""


@dataclass(frozen=True)
class StoredObject:
    name: str
    size: int
    sha256: str
    wrapped_key: bytes
    key_id: str


def _storage():
    return storages["default"]


def random_object_name() -> str:
    token = secrets.token_hex(16)
    return f"objects/{token[:2]}/{token}"


def put(plaintext: bytes, *, aad: bytes, sha256: str | None = None) -> StoredObject:
    """Encrypt `plaintext` and store it under a random name (`sha256`: the digest, when the caller has it)."""
    sealed = crypto.encrypt(plaintext, aad=aad)
    name = _storage().save(random_object_name(), ContentFile(sealed.ciphertext))
    return StoredObject(
        name=name,
        size=len(plaintext),
        sha256=sha256 or hashlib.sha256(plaintext).hexdigest(),
        wrapped_key=sealed.wrapped_key,
        key_id=sealed.key_id,
    )


def get(*, name: str, wrapped_key: bytes, key_id: str, sha256: str, aad: bytes) -> bytes:
    """Read, decrypt and integrity-check a stored object."""
    with _storage().open(name, "rb") as fh:
        ciphertext = fh.read()
    plaintext = crypto.decrypt(crypto.Sealed(ciphertext, bytes(wrapped_key), key_id), aad=aad)
    if hashlib.sha256(plaintext).hexdigest() != sha256:
        raise IntegrityError("stored object failed its integrity check")
    return plaintext


def save_raw(blob: bytes) -> str:
    """Store bytes the caller already encrypted (upload parts) under a random name; returns the name."""
    return _storage().save(random_object_name(), ContentFile(blob))


def put_for(obj, plaintext: bytes, *, sha256: str | None = None) -> StoredObject:
    """Store `plaintext` for a row with storage fields (a record, a derivative), bound to its primary key."""
    stored = put(plaintext, aad=str(obj.pk).encode(), sha256=sha256)
    obj.storage_name, obj.wrapped_key, obj.key_id = stored.name, stored.wrapped_key, stored.key_id
    obj.size, obj.sha256 = stored.size, stored.sha256
    return stored


def get_for(obj) -> bytes:
    """Read back what `put_for` (or streams.write_for) stored for `obj`, decrypted and checked. The caller audits."""
    if str(obj.storage_name).startswith("segmented/"):  # a large record written as a stream (core.streams)
        from .streams import read_segmented

        return read_segmented(obj)
    return get(name=obj.storage_name, wrapped_key=obj.wrapped_key, key_id=obj.key_id, sha256=obj.sha256,
               aad=str(obj.pk).encode())


def delete(name: str) -> None:
    _storage().delete(name)


def raw(name: str) -> bytes:
    """Stored bytes as written (ciphertext): upload parts written by `save_raw`, and tests."""
    with _storage().open(name, "rb") as fh:
        return fh.read()
