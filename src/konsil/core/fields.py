"""Encrypted model fields: names and file names never sit in the database in the clear.

A value is stored as ``enc1:<master key id>:<base64(nonce || AES-256-GCM ciphertext)>`` under a field key derived
(HKDF-SHA256) from the named master key; the model and field name are bound in as associated data, so a value
copied into another column does not decrypt. Rows written before a field became encrypted (no prefix) are read
as they are and encrypted on their next save; `konsil keys rotate` re-encrypts every value under the current key.
"""

from __future__ import annotations

import base64
import functools

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

from . import crypto

PREFIX = "enc1:"


@functools.lru_cache(maxsize=16)
def _field_key(key_id: str, master: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"konsil field encryption v1").derive(master)
    return AESGCM(derived)


def _aead(key_id: str) -> AESGCM:
    try:
        return _field_key(key_id, settings.KONSIL_MASTER_KEYS[key_id])
    except KeyError:
        raise crypto.DecryptionError(f"master key {key_id!r} is not configured") from None


def seal_text(value: str, *, aad: bytes, key_id: str | None = None) -> str:
    key_id = key_id or settings.KONSIL_MASTER_KEY_ID
    blob = crypto.seal(_aead(key_id), value.encode(), aad)
    return f"{PREFIX}{key_id}:{base64.b64encode(blob).decode()}"


def open_text(stored: str, *, aad: bytes) -> str:
    if not stored.startswith(PREFIX):
        return stored  # written before the field was encrypted
    key_id, _sep, b64 = stored[len(PREFIX):].partition(":")
    aead = _aead(key_id)  # an unconfigured key says so, rather than "tampered"
    try:
        blob = base64.b64decode(b64, validate=True)
    except ValueError as exc:  # bad base64: the value was tampered with
        raise crypto.DecryptionError("an encrypted field failed to authenticate") from exc
    try:
        return crypto.unseal(aead, blob, aad).decode()
    except (crypto.DecryptionError, UnicodeDecodeError) as exc:  # tampered with, cut short or moved
        raise crypto.DecryptionError("an encrypted field failed to authenticate") from exc


def key_id_of(stored: str | None) -> str | None:
    """The master key id a stored value is sealed under (None when plaintext or empty)."""
    if not stored or not stored.startswith(PREFIX):
        return None
    return stored[len(PREFIX):].partition(":")[0]


class EncryptedTextField(models.TextField):
    """A text value encrypted at rest. It cannot be filtered or ordered on in SQL; look rows up by other keys."""

    def _aad(self) -> bytes:
        return f"{self.model._meta.label_lower}.{self.name}".encode()

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return open_text(value, aad=self._aad())

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return seal_text(str(value), aad=self._aad())


def encrypted_fields(model) -> list[EncryptedTextField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
