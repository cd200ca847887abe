"""Envelope encryption: AES-256-GCM content under a per-file data key, wrapped by a named master key.

The master keys sit with a provider (core.keyproviders: key file, environment or Vault Transit)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .keyproviders import DecryptionError, KeyUnavailable, provider  # noqa: F401 - DecryptionError is re-exported

NONCE_BYTES = 12


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes  # nonce || AES-GCM(ciphertext || tag)
    wrapped_key: bytes  # nonce || AES-GCM(data key) under the master key
    key_id: str


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
    """`data_key` wrapped under master key `key_id` (the provider's current one by default)."""
    keys = provider()
    key_id = key_id or keys.current_key_id()
    return keys.wrap(data_key, key_id), key_id


def unwrap_key(wrapped: bytes, key_id: str) -> bytes:
    return provider().unwrap(wrapped, key_id)


def encrypt(plaintext: bytes, *, aad: bytes = b"") -> Sealed:
    """Encrypt under a fresh data key; `aad` binds the ciphertext to its owner (e.g. the object id)."""
    data_key = AESGCM.generate_key(bit_length=256)
    wrapped, key_id = wrap_key(data_key)
    return Sealed(seal(AESGCM(data_key), plaintext, aad), wrapped, key_id)


def decrypt(sealed: Sealed, *, aad: bytes = b"") -> bytes:
    return unseal(AESGCM(unwrap_key(sealed.wrapped_key, sealed.key_id)), sealed.ciphertext, aad)
