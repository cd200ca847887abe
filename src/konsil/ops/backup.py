"""`konsil backup` / `konsil restore`: the database, the stored files and the key references in one encrypted
archive (a tar stream sealed by sealed_stream.py under a passphrase kept apart from the archive).

Members: manifest.json (version, engine, counts, key references: the master key ids each table's data keys
are wrapped by and a fingerprint of the audit key, never the keys), database.sqlite3 (SQLite's online backup)
or database.pgdump (pg_dump's custom format), files/<object name> (already encrypted objects, copied as stored,
from the local folder or S3), and audit_checkpoints.log. Restoring checks the configured keys against the
references first: an archive restored without its keys could not be read, so it is refused before anything is
written.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.files.storage import storages
from django.db import connection, connections

from konsil.core.streams import open_stored, save_stored

from .sealed_stream import OpeningReader, SealingWriter, StreamError

FORMAT = 1


class BackupError(Exception):
    """What went wrong, in a sentence for the operator (no file or patient names)."""


def _engine() -> str:
    return "sqlite" if connection.vendor == "sqlite" else connection.vendor


def key_references() -> dict:
    from konsil.core import keys

    try:
        status = keys.status()
    except Exception as exc:  # a key provider away must not stop a backup of ciphertext
        status = {"error": type(exc).__name__}
    return {"data_keys": status.get("data_keys", {}), "provider": status.get("provider", ""),
            "audit_key": hashlib.sha256(settings.KONSIL_AUDIT_KEY).hexdigest()[:16]}


def _configured_key_ids() -> set[str]:
    try:
        from konsil.core.keyproviders import provider

        return set(provider().key_ids())
    except Exception:  # an older layout: the keys in settings
        return set(getattr(settings, "KONSIL_MASTER_KEYS", {}) or {})


def _walk(storage, folder: str = ""):
    dirs, names = storage.listdir(folder)
    for name in names:
        yield f"{folder}/{name}" if folder else name
    for sub in dirs:
        yield from _walk(storage, f"{folder}/{sub}" if folder else sub)


def _pg_env() -> tuple[list[str], dict]:
    db = connection.settings_dict
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = ["--host", str(db.get("HOST") or "127.0.0.1"), "--port", str(db.get("PORT") or 5432),
            "--username", str(db.get("USER") or "postgres"), "--dbname", str(db["NAME"])]
    return args, env


def _dump_database(folder: Path) -> Path:
    if _engine() == "sqlite":
        target = folder / "database.sqlite3"
        source = sqlite3.connect(str(connection.settings_dict["NAME"]))
        dest = sqlite3.connect(str(target))
        try:
            source.backup(dest)  # a consistent copy while the app keeps running
        finally:
            dest.close()
            source.close()
        return target
    if _engine() == "postgresql":
        target = folder / "database.pgdump"
        args, env = _pg_env()
        argv = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), *args]
        done = subprocess.run(argv, env=env, capture_output=True, text=True)  # noqa: S603,S607 (PATH's pg_dump)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
        return target
    raise BackupError(f"backups of {_engine()} databases are not supported")


def create(archive: Path, *, passphrase: bytes) -> dict:
    """Write the archive (atomically: a temporary file renamed into place). Returns what it holds."""
    storage = storages["default"]
    archive = Path(archive)
    with tempfile.TemporaryDirectory(prefix="konsil-backup-") as tmp:
        dump = _dump_database(Path(tmp))
        names = sorted(_walk(storage)) if _storage_exists(storage) else []
        manifest = {"format": FORMAT, "konsil": settings.KONSIL_VERSION, "engine": _engine(),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": len(names),
                    "database": dump.name, "keys": key_references()}
        partial = archive.with_name(f".{archive.name}.partial")
        try:
            with open(partial, "wb") as raw, SealingWriter(raw, passphrase) as sealed, \
                    tarfile.open(fileobj=sealed, mode="w|") as tar:
                _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
                tar.add(dump, arcname=dump.name)
                total = 0
                for name in names:
                    info = tarfile.TarInfo(f"files/{name}")
                    info.size, info.mtime, info.mode = storage.size(name), int(time.time()), 0o600
                    with open_stored(name) as handle:  # by ranges on S3, never a whole object in memory
                        tar.addfile(info, handle)
                    total += info.size
                checkpoints = Path(settings.KONSIL_AUDIT_CHECKPOINTS)
                if checkpoints.is_file():
                    tar.add(checkpoints, arcname="audit_checkpoints.log")
            os.replace(partial, archive)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return {"engine": manifest["engine"], "files": len(names), "file_bytes": total}


def _storage_exists(storage) -> bool:
    location = getattr(storage, "location", None)
    return not isinstance(location, str) or not hasattr(storage, "base_location") or Path(location).exists()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
    tar.addfile(info, io.BytesIO(data))


def _has_data() -> bool:
    tables = connection.introspection.table_names()
    if "audit_auditevent" not in tables:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM audit_auditevent LIMIT 1")
        return cursor.fetchone() is not None


def check_keys(manifest: dict) -> None:
    """The keys this installation is configured with must be those the archive's data was sealed with."""
    refs = manifest.get("keys", {})
    if refs.get("audit_key") and refs["audit_key"] != key_references()["audit_key"]:
        raise BackupError("the configured audit key is not the one of the backed-up installation "
                          "(KONSIL_AUDIT_KEY); restore it first")
    configured = _configured_key_ids()
    needed = {key_id for counts in (refs.get("data_keys") or {}).values() if isinstance(counts, dict)
              for key_id in counts}
    missing = sorted(needed - configured) if configured else []
    if missing:
        raise BackupError(f"master keys {', '.join(missing)} are not configured (KONSIL_MASTER_KEYS); "
                          "restore them first")


def restore(archive: Path, *, passphrase: bytes, force: bool = False) -> dict:
    """Restore into this installation's database and file store. Refuses a database that holds data unless
    `force`; refuses an archive whose keys are not configured."""
    storage = storages["default"]
    if not Path(archive).is_file():
        raise BackupError(f"{archive} does not exist")
    if _has_data() and not force:
        raise BackupError("the database already holds data; restore into an empty one, or pass --force")
    try:
        with open(archive, "rb") as raw, tempfile.TemporaryDirectory(prefix="konsil-restore-") as tmp:
            reader = io.BufferedReader(OpeningReader(raw, passphrase), buffer_size=1024 * 1024)
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                return _restore_members(tar, Path(tmp), storage)
    except StreamError as exc:
        raise BackupError(str(exc)) from None
    except tarfile.TarError:
        raise BackupError("the archive is damaged") from None


def _restore_members(tar: tarfile.TarFile, tmp: Path, storage) -> dict:
    manifest, restored, engine = None, 0, _engine()
    for member in tar:
        if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
            raise BackupError("the archive holds an unexpected entry")
        handle = tar.extractfile(member)
        if member.name == "manifest.json":
            manifest = json.loads(handle.read())
            if manifest.get("format") != FORMAT:
                raise BackupError("this archive was written by an unknown version of Konsil")
            if manifest.get("engine") != engine:
                raise BackupError(f"the archive holds a {manifest.get('engine')} database; this installation "
                                  f"uses {engine}")
            check_keys(manifest)
        elif manifest is None:
            raise BackupError("the archive has no manifest")
        elif member.name in ("database.sqlite3", "database.pgdump"):
            target = tmp / member.name
            with open(target, "wb") as out:
                shutil.copyfileobj(handle, out, 1024 * 1024)
            _load_database(target)
        elif member.name.startswith("files/"):
            name = member.name[len("files/"):]
            if storage.exists(name):
                storage.delete(name)
            saved = save_stored(name, handle)
            if saved != name:
                raise BackupError("the file store renamed a restored object; restore into an empty store")
            restored += 1
        elif member.name == "audit_checkpoints.log":
            path = Path(settings.KONSIL_AUDIT_CHECKPOINTS)
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "wb") as out:
                    shutil.copyfileobj(handle, out)
    if manifest is None:
        raise BackupError("the archive is empty")
    if restored != manifest.get("files", 0):
        raise BackupError(f"the archive was cut: {restored} of {manifest.get('files')} files restored")
    return {"engine": engine, "files": restored, "created": manifest.get("created")}


def _load_database(dump: Path) -> None:
    if _engine() == "sqlite":
        target = Path(connection.settings_dict["NAME"])
        connections.close_all()
        source, dest = sqlite3.connect(str(dump)), sqlite3.connect(str(target))
        try:
            source.backup(dest)  # page by page into the live file (WAL and all), not a file swap
        finally:
            dest.close()
            source.close()
        return
    args, env = _pg_env()
    connections.close_all()
    argv = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
            "--exit-on-error", *args, str(dump)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)  # noqa: S603,S607 (PATH's pg_restore)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
