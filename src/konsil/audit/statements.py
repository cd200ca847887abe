"""The audit trail's fixed statements, written once per database as SQL instead of compiled per call.

Every audited request locks the chain head, inserts its events, moves the head and looks for pending events.
Compiling those same ORM queries on each call took about a tenth of the web workers' CPU under load (py-spy,
bench/results-load.md). The SQL is built from the models' metadata, and the models' own fields prepare every
value, as `bulk_create` does. The statements are the ones the ORM ran, and so is the number of queries.
"""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models.fields import AutoFieldMixin

from .models import ChainHead, PendingEvent

HEAD_ID = 1  # the one row of ChainHead


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _head_sql(vendor: str, lock: str) -> str:
    """SELECT of the head row; `lock` is "" (no lock), "wait" or "skip" (SKIP LOCKED)."""
    meta = ChainHead._meta
    seq, hash_ = _q(meta.get_field("seq").column), _q(meta.get_field("hash").column)
    sql = f"SELECT {seq}, {hash_} FROM {_q(meta.db_table)} WHERE {_q(meta.pk.column)} = %s"  # noqa: S608 (model names)
    if lock and connection.features.has_select_for_update:  # SQLite: the write transaction serializes instead
        sql += " FOR UPDATE"
        if lock == "skip":
            sql += " SKIP LOCKED"
    return sql


def head(*, lock: str = "") -> ChainHead | None:
    """The chain head (locked as `lock` says: "", "wait" or "skip"); None when it is missing, or locked by
    another transaction with "skip"."""
    with connection.cursor() as cursor:
        cursor.execute(_head_sql(connection.vendor, lock), [HEAD_ID])
        row = cursor.fetchone()
    return None if row is None else ChainHead(id=HEAD_ID, seq=row[0], hash=row[1])


@cache
def _try_head_sql(vendor: str) -> str:
    """The head locked with SKIP LOCKED, and whether it exists, in one round trip (PostgreSQL)."""
    meta = ChainHead._meta
    seq, hash_ = _q(meta.get_field("seq").column), _q(meta.get_field("hash").column)
    table, pk = _q(meta.db_table), _q(meta.pk.column)
    return (f"SELECT h.{seq}, h.{hash_}, x.e FROM (SELECT EXISTS (SELECT 1 FROM {table} WHERE {pk} = %s) AS e) AS x "  # noqa: S608
            f"LEFT JOIN (SELECT {seq}, {hash_} FROM {table} WHERE {pk} = %s FOR UPDATE SKIP LOCKED) AS h ON TRUE")


def try_head() -> tuple[ChainHead | None, bool]:
    """(the chain head locked for this transaction, or None when another transaction holds it or it is missing;
    whether it exists): what `head(lock="skip")` and `head_exists()` say, in one statement where the database
    skips locked rows (PostgreSQL), else in those two."""
    if not connection.features.has_select_for_update_skip_locked:
        found = head(lock="skip")
        return found, found is not None or head_exists()
    with connection.cursor() as cursor:
        cursor.execute(_try_head_sql(connection.vendor), [HEAD_ID, HEAD_ID])
        seq, hash_, exists = cursor.fetchone()
    return (None if seq is None else ChainHead(id=HEAD_ID, seq=seq, hash=hash_)), bool(exists)


@cache
def _move_sql(vendor: str) -> str:
    meta = ChainHead._meta
    seq, hash_ = _q(meta.get_field("seq").column), _q(meta.get_field("hash").column)
    return f"UPDATE {_q(meta.db_table)} SET {seq} = %s, {hash_} = %s WHERE {_q(meta.pk.column)} = %s"  # noqa: S608


def move_head(head: ChainHead) -> None:
    """Write the head's new sequence number and hash (the caller holds its lock)."""
    with connection.cursor() as cursor:
        cursor.execute(_move_sql(connection.vendor), [head.seq, head.hash, HEAD_ID])


@cache
def _exists_sql(vendor: str, table: str, where: str) -> str:
    return f"SELECT 1 FROM {_q(table)}{where} LIMIT 1"  # noqa: S608 (model names)


def head_exists() -> bool:
    meta = ChainHead._meta
    return _exists(_exists_sql(connection.vendor, meta.db_table, f" WHERE {_q(meta.pk.column)} = %s"), [HEAD_ID])


def anything_pending() -> bool:
    """Are events waiting to be chained?"""
    return _exists(_exists_sql(connection.vendor, PendingEvent._meta.db_table, ""), [])


def _exists(sql: str, params: list) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


@cache
def _insert_fields(model) -> tuple:
    """The columns `bulk_create` writes: every concrete field but an auto-incremented key."""
    return tuple(field for field in model._meta.concrete_fields if not isinstance(field, AutoFieldMixin))


def insert(objs: list) -> None:
    """INSERT `objs` (instances of one model) in as few statements as the database allows, values prepared by
    their fields as `bulk_create` prepares them; the instances are then saved ones."""
    if not objs:
        return
    model = type(objs[0])
    fields = _insert_fields(model)
    columns = ", ".join(_q(field.column) for field in fields)
    into = f"INSERT INTO {_q(model._meta.db_table)} ({columns}) VALUES "  # noqa: S608 (model names)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, connection.ops.bulk_batch_size(list(fields), objs))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            batch = objs[start:start + size]
            params = [field.get_db_prep_save(field.pre_save(obj, True), connection)
                      for obj in batch for field in fields]
            cursor.execute(into + ", ".join([row] * len(batch)), params)
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


@cache
def _delete_sql(vendor: str, count: int) -> str:
    meta = PendingEvent._meta
    marks = ", ".join(["%s"] * count)
    return f"DELETE FROM {_q(meta.db_table)} WHERE {_q(meta.pk.column)} IN ({marks})"  # noqa: S608 (model names)


def delete_pending(positions: list[int], chunk: int = 500) -> None:
    """Remove the staged rows at `positions` (just chained, under the head's lock)."""
    with connection.cursor() as cursor:
        for start in range(0, len(positions), chunk):
            part = positions[start:start + chunk]
            cursor.execute(_delete_sql(connection.vendor, len(part)), part)
