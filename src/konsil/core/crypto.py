"""Envelope encryption: AES-256-GCM content under a per-file data key, wrapped by a named master key."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

NONCE_BYTES = 12


class DecryptionError(Exception):
    """The ciphertext or its wrapped key does not authenticate (tampered, or the wrong key)."""


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes  # nonce || AES-GCM(ciphertext || tag)
    wrapped_key: bytes  # nonce || AES-GCM(data key) under the master key
    key_id: str


def _master(key_id: str) -> AESGCM:
    try:
        return AESGCM(settings.KONSIL_MASTER_KEYS[key_id])
    except KeyError:
        raise DecryptionError(f"master key {key_id!r} is not configured") from None


def seal(aead: AESGCM, data: bytes, aad: bytes) -> bytes:
    """nonce || AES-GCM(data) under `aead`, with `aad` bound in."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, data, aad)


def unseal(aead: AESGCM, blob: bytes, aad: bytes) -> bytes:
    """The inverse of `seal`; DecryptionError when cut short, tampered with or under another key."""
    if len(blob) < NONCE_BYTES + 16:  # nonce + GCM tag: anything shorter was cut
        raise DecryptionError("ciphertext is truncated")
    try:
        return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionError("authentication failed") from None


def wrap_key(data_key: bytes, key_id: str | None = None) -> tuple[bytes, str]:
    key_id = key_id or settings.KONSIL_MASTER_KEY_ID
    return seal(_master(key_id), data_key, key_id.encode()), key_id


def unwrap_key(wrapped: bytes, key_id: str) -> bytes:
    return unseal(_master(key_id), wrapped, key_id.encode())


def encrypt(plaintext: bytes, *, aad: bytes = b"") -> Sealed:
    """Encrypt under a fresh data key; `aad` binds the ciphertext to its owner (e.g. the object id)."""
    data_key = AESGCM.generate_key(bit_length=256)
    wrapped, key_id = wrap_key(data_key)
    return Sealed(seal(AESGCM(data_key), plaintext, aad), wrapped, key_id)


def decrypt(sealed: Sealed, *, aad: bytes = b"") -> bytes:
    return unseal(AESGCM(unwrap_key(sealed.wrapped_key, sealed.key_id)), sealed.ciphertext, aad)
