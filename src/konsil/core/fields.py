"""Encrypted model fields: names and file names never sit in the database in the clear.

A value is stored as ``enc1:<master key id>:<base64(nonce || AES-256-GCM ciphertext)>`` under a field key derived
(HKDF-SHA256) from the named master key; the model and field name are bound in as associated data, so a value
copied into another column does not decrypt. Rows written before a field became encrypted (no prefix) are read
as they are and encrypted on their next save; `konsil keys rotate` re-encrypts every value under the current key.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import hmac
import json

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django import forms
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q

from . import crypto
from .keyproviders import provider

PREFIX = "enc1:"
FIELD_PURPOSE = b"konsil field encryption v1"
INDEX_PURPOSE = b"konsil blind index v1"


@functools.lru_cache(maxsize=32)
def _aead_for(derived: bytes) -> AESGCM:
    return AESGCM(derived)


def _aead(key_id: str) -> AESGCM:
    """The field key of master key `key_id` (crypto.DecryptionError when it is not configured)."""
    return _aead_for(provider().derive(key_id, FIELD_PURPOSE))


def seal_text(value: str, *, aad: bytes, key_id: str | None = None) -> str:
    key_id = key_id or provider().current_key_id()
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


class EncryptedCharField(EncryptedTextField):
    """A short encrypted value (a name): a one-line input in forms, its plain length capped by `plain_max_length`."""

    def __init__(self, *args, plain_max_length: int = 150, **kwargs):
        self.plain_max_length = plain_max_length
        super().__init__(*args, **kwargs)
        self.validators.append(MaxLengthValidator(plain_max_length))

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["plain_max_length"] = self.plain_max_length
        return name, path, args, kwargs

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": forms.CharField, "max_length": self.plain_max_length,
                                    "widget": forms.TextInput, **kwargs})


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (dict or list) encrypted at rest as one sealed document; rows written as clear JSON still read."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        if not isinstance(value, str):  # a JSON column not yet converted (PostgreSQL jsonb decoded by the driver)
            return value
        return json.loads(open_text(value, aad=self._aad()) or "null")

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        if value is None:
            return value
        return seal_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")), aad=self._aad())

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj), ensure_ascii=False)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": forms.JSONField, **kwargs})


class EncryptedDateField(EncryptedTextField):
    """A date (a birth date) encrypted at rest; Python sees a `datetime.date`. Exact lookups go through a
    BlindIndexField beside it."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return None
        if isinstance(value, datetime.date):  # a date column not yet converted
            return value
        return datetime.date.fromisoformat(open_text(value, aad=self._aad()))

    def to_python(self, value):
        if value is None or value == "" or isinstance(value, datetime.date):
            return value.date() if isinstance(value, datetime.datetime) else (value or None)
        return models.DateField().to_python(value)

    def get_prep_value(self, value):
        value = self.to_python(value)
        if value is None:
            return None
        return seal_text(value.isoformat(), aad=self._aad())

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return value.isoformat() if value else ""

    def formfield(self, **kwargs):
        return models.DateField(verbose_name=self.verbose_name, blank=self.blank,
                                null=self.null).formfield(**kwargs)


# -- blind indexes: exact matches on encrypted values ----------------------------------------------------------------

INDEX_CHARS = 32  # hex characters of one keyed hash (128 bits)
TOKEN_CHARS = 16  # hex characters of one word's keyed hash in a token index


def _normalize(value) -> str:
    if isinstance(value, datetime.date):
        return value.isoformat()
    return " ".join(str(value).split()).casefold()


def _index_key(key_id: str) -> bytes:
    return provider().derive(key_id, INDEX_PURPOSE)


def keyed_hash(value, *, label: str, key_id: str, chars: int = INDEX_CHARS) -> str:
    """HMAC-SHA256 of the normalized value under the blind-index key of `key_id`, bound to `label` (the column)."""
    message = f"{label}\0{_normalize(value)}".encode()
    return hmac.new(_index_key(key_id), message, hashlib.sha256).hexdigest()[:chars]


class BlindIndexField(models.CharField):
    """Keyed hashes of other (encrypted) fields of the row, kept in step on every save: exact-match lookups and
    unique constraints without the clear value in the database. `tokens=True` indexes each word (name search).

    Lookups try every configured key id, so they keep working while `konsil keys rotate` moves rows to a new key.
    """

    def __init__(self, *args, of: tuple[str, ...] | str = (), tokens: bool = False, **kwargs):
        self.of = (of,) if isinstance(of, str) else tuple(of)
        self.tokens = tokens
        kwargs.setdefault("max_length", 400 if tokens else INDEX_CHARS)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("db_index", not tokens)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["of"] = self.of
        if self.tokens:
            kwargs["tokens"] = True
        for key, default in (("max_length", 400 if self.tokens else INDEX_CHARS), ("editable", False),
                             ("blank", True), ("db_index", not self.tokens)):
            if kwargs.get(key, default) == default:
                kwargs.pop(key, None)
        return name, path, args, kwargs

    def _label(self) -> str:
        return f"{self.model._meta.label_lower}.{'+'.join(self.of)}"

    def compute(self, instance, key_id: str | None = None) -> str:
        key_id = key_id or provider().current_key_id()
        values = [getattr(instance, name) for name in self.of]
        if self.tokens:
            words = sorted({w for v in values if v for w in _normalize(v).split()})
            digests = (keyed_hash(w, label=self._label(), key_id=key_id, chars=TOKEN_CHARS) for w in words)
            return " ".join(digests)[:self.max_length]
        if all(v in (None, "") for v in values):
            return ""
        return keyed_hash("\x1f".join(_normalize(v) for v in values if v not in (None, "")),
                          label=self._label(), key_id=key_id)

    def pre_save(self, model_instance, add):
        value = self.compute(model_instance)
        setattr(model_instance, self.attname, value)
        return value

    def matches(self, *values, through: str = "") -> Q:
        """Rows whose indexed fields equal `values` (or, for a token index, that hold the word `values[0]`);
        `through` names a relation to reach them from another model ("identity__")."""
        key_ids, name = provider().key_ids(), through + self.name
        if self.tokens:
            q = Q(pk__in=[])
            for key_id in key_ids:
                q |= Q(**{f"{name}__contains": keyed_hash(values[0], label=self._label(), key_id=key_id,
                                                                chars=TOKEN_CHARS)})
            return q
        joined = "\x1f".join(_normalize(v) for v in values if v not in (None, ""))
        return Q(**{f"{name}__in": [keyed_hash(joined, label=self._label(), key_id=k) for k in key_ids]})


def blind_indexes(model) -> list[BlindIndexField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]


def matching(model, index_name: str, *values) -> Q:
    """`Q` for rows of `model` whose index `index_name` matches `values` (see BlindIndexField.matches)."""
    return model._meta.get_field(index_name).matches(*values)


def with_indexes(model, update_fields):
    """`update_fields` plus the blind indexes over any of them, so `save(update_fields=...)` keeps them in step."""
    if update_fields is None:
        return None
    names = set(update_fields)
    return list(names | {f.name for f in blind_indexes(model) if names & set(f.of)})
