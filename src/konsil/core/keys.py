"""Master key rotation: every data key re-wrapped under the current master key; content is not re-encrypted.

Operators add the new key to KONSIL_MASTER_KEYS, point KONSIL_MASTER_KEY_ID at it and run `konsil keys rotate`;
in the embedded default `konsil keys rotate --new` generates the key into KONSIL_HOME/master_keys first. Old keys
stay configured until `konsil keys status` shows nothing left under them.
"""

from __future__ import annotations

import base64
import secrets

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Count

from . import crypto
from .fields import blind_indexes, encrypted_fields
from .keyproviders import provider

WRAPPED = "wrapped_key"


def _models_with_data_keys():
    return [m for m in apps.get_models() if {f.name for f in m._meta.concrete_fields} >= {WRAPPED, "key_id"}]


def _models_with_encrypted_fields():
    return [m for m in apps.get_models() if encrypted_fields(m) or blind_indexes(m)]


def status() -> dict:
    """How many data keys each master key wraps, per model."""
    out = {}
    for model in _models_with_data_keys():
        rows = model._base_manager.order_by().values("key_id").annotate(n=Count("pk"))
        counts = {row["key_id"]: row["n"] for row in rows}
        if counts:
            out[model._meta.label] = counts
    keys = provider()
    return {"provider": keys.name, "current": keys.current_key_id(), "configured": keys.key_ids(),
            "data_keys": out}


def rotate(batch_size: int = 500) -> dict:
    """Re-wrap every data key not under the current master key, re-seal every encrypted field and recompute every
    blind index under it."""
    current = provider().current_key_id()
    crypto.wrap_key(b"\0" * 32, current)  # the current key must be configured before anything is touched
    rewrapped: dict[str, int] = {}
    for model in _models_with_data_keys():
        n = 0
        for rows in _batches(model._base_manager.exclude(key_id=current).only("pk", WRAPPED, "key_id"), batch_size):
            for row in rows:
                data_key = crypto.unwrap_key(bytes(getattr(row, WRAPPED)), row.key_id)
                wrapped, key_id = crypto.wrap_key(data_key, current)
                n += model._base_manager.filter(pk=row.pk, key_id=row.key_id).update(
                    **{WRAPPED: wrapped, "key_id": key_id})
        if n:
            rewrapped[model._meta.label] = n
    resealed: dict[str, int] = {}
    for model in _models_with_encrypted_fields():
        n = reseal(model, key_id=current, batch_size=batch_size)
        if n:
            resealed[model._meta.label] = n
    report = {"master_key": current, "rewrapped": rewrapped, "resealed_rows": resealed}
    from konsil.audit.services import emit

    emit(actor="keys", action="keys.rotate", object_type="core.masterkey", object_id=current, detail=report)
    return report


def reseal(model, *, key_id: str | None = None, batch_size: int = 500) -> int:
    """Write every row's encrypted fields back sealed under `key_id` (default: the current key) and recompute its
    blind indexes; rows written in the clear before a field became encrypted are sealed. Used by `rotate` and by the
    migrations that encrypt a column. Returns the number of rows."""
    key_id = key_id or provider().current_key_id()
    names = [f.name for f in encrypted_fields(model)]
    indexes = blind_indexes(model)
    sources = {name for index in indexes for name in index.of}
    n = 0
    for rows in _batches(model._base_manager.only("pk", *names, *sources), batch_size):
        with transaction.atomic():
            for row in rows:
                # reading decrypts under whichever key sealed the value; writing seals under the current one
                values = {name: getattr(row, name) for name in names}
                values.update({index.name: index.compute(row, key_id) for index in indexes})
                model._base_manager.filter(pk=row.pk).update(**values)
                n += 1
    return n


def _batches(queryset, size: int):
    """Rows in primary-key order, `size` at a time, each batch read afresh (safe while the table is updated)."""
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page[:size])
        if not rows:
            return
        yield rows
        last = rows[-1].pk


def new_embedded_key() -> str:
    """Generate a master key into KONSIL_HOME/master_keys and make it current (embedded default only)."""
    path = settings.HOME / "master_keys"
    existing = path.read_text().strip() if path.exists() else ""
    taken = {item.partition(":")[0] for item in existing.split(",") if item}
    n = len(taken) + 1
    while f"k{n}" in taken:
        n += 1
    key_id, key = f"k{n}", secrets.token_bytes(32)
    path.write_text(",".join(filter(None, [f"{key_id}:{base64.b64encode(key).decode()}", existing])))
    path.chmod(0o600)
    settings.KONSIL_MASTER_KEYS = {key_id: key, **settings.KONSIL_MASTER_KEYS}
    settings.KONSIL_MASTER_KEY_ID = key_id
    return key_id
