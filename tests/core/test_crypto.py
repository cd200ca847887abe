"""Envelope encryption (AES-256-GCM) and the encrypted file store."""

from __future__ import annotations

import base64
import os
import re

import pytest

from konsil.core import crypto, files

PLAIN = b"Patient: Ana Garcia, DOB 1970-05-17, echo report"


def test_round_trip():
    sealed = crypto.encrypt(PLAIN, aad=b"attachment-1")
    assert PLAIN not in sealed.ciphertext
    assert crypto.decrypt(sealed, aad=b"attachment-1") == PLAIN


def test_empty_plaintext_round_trips():
    assert crypto.decrypt(crypto.encrypt(b"", aad=b"a"), aad=b"a") == b""


def test_same_plaintext_gives_different_ciphertexts_and_keys():
    one, two = crypto.encrypt(PLAIN, aad=b"a"), crypto.encrypt(PLAIN, aad=b"a")
    assert one.ciphertext != two.ciphertext
    assert one.wrapped_key != two.wrapped_key


def _flip(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 1]) + blob[at + 1:]


@pytest.mark.parametrize("where", ["nonce", "body", "tag", "truncated", "empty"])
def test_tampered_ciphertext_is_refused(where):
    sealed = crypto.encrypt(PLAIN, aad=b"a")
    blob = sealed.ciphertext
    tampered = {"nonce": _flip(blob, 0), "body": _flip(blob, 20), "tag": _flip(blob, len(blob) - 1),
                "truncated": blob[:5], "empty": b""}[where]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(crypto.Sealed(tampered, sealed.wrapped_key, sealed.key_id), aad=b"a")


def test_tampered_wrapped_key_is_refused():
    sealed = crypto.encrypt(PLAIN, aad=b"a")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(crypto.Sealed(sealed.ciphertext, _flip(sealed.wrapped_key, 15), sealed.key_id),
                       aad=b"a")


def test_wrong_aad_is_refused():
    sealed = crypto.encrypt(PLAIN, aad=b"attachment-1")
    for aad in (b"attachment-2", b""):
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(sealed, aad=aad)


def test_unknown_key_id_is_refused():
    sealed = crypto.encrypt(PLAIN, aad=b"a")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(crypto.Sealed(sealed.ciphertext, sealed.wrapped_key, "retired-2019"), aad=b"a")


def test_a_wrapped_key_is_bound_to_its_key_id(settings):
    settings.KONSIL_MASTER_KEYS = {"k1": os.urandom(32), "k2": os.urandom(32)}
    settings.KONSIL_MASTER_KEY_ID = "k1"
    sealed = crypto.encrypt(PLAIN, aad=b"a")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(crypto.Sealed(sealed.ciphertext, sealed.wrapped_key, "k2"), aad=b"a")


def test_rotation_to_a_second_master_key(settings):
    settings.KONSIL_MASTER_KEYS = {"2024": os.urandom(32), "2025": os.urandom(32)}
    settings.KONSIL_MASTER_KEY_ID = "2024"
    old = crypto.encrypt(PLAIN, aad=b"a")
    settings.KONSIL_MASTER_KEY_ID = "2025"
    new = crypto.encrypt(PLAIN, aad=b"a")
    assert (old.key_id, new.key_id) == ("2024", "2025")
    assert crypto.decrypt(old, aad=b"a") == crypto.decrypt(new, aad=b"a") == PLAIN
    # re-wrapping a data key under the new master key keeps the content readable
    data_key = crypto.unwrap_key(old.wrapped_key, old.key_id)
    rewrapped, key_id = crypto.wrap_key(data_key, "2025")
    assert crypto.decrypt(crypto.Sealed(old.ciphertext, rewrapped, key_id), aad=b"a") == PLAIN
    del settings.KONSIL_MASTER_KEYS["2024"]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(old, aad=b"a")


def test_settings_parse_master_keys_from_the_environment(monkeypatch):
    from konsil import settings as konsil_settings

    keys = {"a": os.urandom(32), "b": os.urandom(32)}
    monkeypatch.setenv("KONSIL_MASTER_KEYS", ",".join(f"{k}:{base64.b64encode(v).decode()}"
                                                      for k, v in keys.items()))
    assert konsil_settings._master_keys() == keys


# --- the file store ---------------------------------------------------------------------------------------

def test_put_stores_ciphertext_under_a_random_name():
    stored = files.put(PLAIN, aad=b"att-1")
    assert re.fullmatch(r"objects/[0-9a-f]{2}/[0-9a-f]{32}", stored.name)
    assert stored.size == len(PLAIN)
    raw = files.raw(stored.name)
    assert PLAIN not in raw and b"Ana" not in raw
    assert files.get(name=stored.name, wrapped_key=stored.wrapped_key, key_id=stored.key_id,
                     sha256=stored.sha256, aad=b"att-1") == PLAIN


def test_names_are_random():
    names = {files.random_object_name() for _ in range(50)}
    assert len(names) == 50


def test_get_checks_integrity():
    stored = files.put(PLAIN, aad=b"att-1")
    with pytest.raises(files.IntegrityError):
        files.get(name=stored.name, wrapped_key=stored.wrapped_key, key_id=stored.key_id,
                  sha256="0" * 64, aad=b"att-1")


def test_get_refuses_a_tampered_object(settings):
    stored = files.put(PLAIN, aad=b"att-1")
    path = os.path.join(settings.STORAGES["default"]["OPTIONS"]["location"], stored.name)
    with open(path, "r+b") as fh:
        fh.seek(20)
        byte = fh.read(1)
        fh.seek(20)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(crypto.DecryptionError):
        files.get(name=stored.name, wrapped_key=stored.wrapped_key, key_id=stored.key_id,
                  sha256=stored.sha256, aad=b"att-1")


def test_get_refuses_another_objects_aad():
    stored = files.put(PLAIN, aad=b"att-1")
    with pytest.raises(crypto.DecryptionError):
        files.get(name=stored.name, wrapped_key=stored.wrapped_key, key_id=stored.key_id,
                  sha256=stored.sha256, aad=b"att-2")


def test_delete():
    stored = files.put(PLAIN, aad=b"x")
    files.delete(stored.name)
    with pytest.raises(FileNotFoundError):
        files.raw(stored.name)


def test_wrapped_key_from_the_database_as_memoryview():
    stored = files.put(PLAIN, aad=b"x")
    assert files.get(name=stored.name, wrapped_key=memoryview(stored.wrapped_key), key_id=stored.key_id,
                     sha256=stored.sha256, aad=b"x") == PLAIN
