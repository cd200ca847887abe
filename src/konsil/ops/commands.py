"""`konsil worker`, `konsil backup` and `konsil restore` (hooked in cli.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def add_parser(sub) -> None:
    worker = sub.add_parser("worker", help="run background tasks in lanes (urgent work never waits behind imaging)")
    worker.add_argument("--lanes", default="urgent,bulk",
                        help="comma-separated lanes (urgent, bulk) or queues, each its own lane (default: %(default)s)")
    worker.add_argument("--queues", default="", help="one lane serving these queues instead (e.g. urgent,default)")
    worker.add_argument("--concurrency", type=int, default=None,
                        help="threads (database) or processes (Celery) per lane (default KONSIL_WORKER_CONCURRENCY)")
    worker.add_argument("--batch", action="store_true", help="database backend: run what is queued, then exit")
    worker.set_defaults(func=cmd_worker)

    backup = sub.add_parser("backup", help="write an encrypted archive of the database, the files and key references")
    backup.add_argument("archive", type=Path, help="file to write (e.g. konsil-2026-12-05.kbak)")
    backup.add_argument("--key-file", type=Path, default=None,
                        help="file holding the backup passphrase (default: KONSIL_BACKUP_PASSPHRASE)")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="restore an archive into an empty database and file store")
    restore.add_argument("archive", type=Path)
    restore.add_argument("--key-file", type=Path, default=None)
    restore.add_argument("--force", action="store_true", help="replace a database that already holds data")
    restore.set_defaults(func=cmd_restore)


def cmd_worker(args) -> int:
    from django.conf import settings
    from django_tasks import task_backends

    from .backends import CeleryBackend
    from .queues import lane_queues
    from .worker import celery_argv, run_database_lanes

    lanes = [args.queues] if args.queues else [item for item in args.lanes.split(",") if item.strip()]
    concurrency = settings.KONSIL_WORKER_CONCURRENCY if args.concurrency is None else args.concurrency
    try:
        for lane in lanes:
            lane_queues(lane)
        if concurrency < 1 or concurrency > 256:
            raise ValueError("--concurrency must be between 1 and 256")
    except ValueError as exc:
        print(f"konsil worker: {exc}", file=sys.stderr)
        return 2
    if not isinstance(task_backends["default"], CeleryBackend):
        return run_database_lanes(lanes, concurrency=concurrency, batch=args.batch)
    if len(lanes) == 1:
        argv = celery_argv(lanes, concurrency=concurrency)
        os.execv(argv[0], argv)  # noqa: S606 (our own interpreter and arguments)
    from konsil.cli import Supervisor

    supervisor = Supervisor([(lane, celery_argv([lane], concurrency=concurrency)) for lane in lanes])
    import signal

    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    supervisor.start()
    return supervisor.wait()


def _passphrase(args) -> bytes | None:
    if args.key_file is not None:
        try:
            return args.key_file.read_bytes().strip() or None
        except OSError as exc:
            print(f"konsil: cannot read {args.key_file}: {exc.strerror}", file=sys.stderr)
            return None
    value = os.environ.get("KONSIL_BACKUP_PASSPHRASE", "")
    return value.encode() if value else None


def cmd_backup(args) -> int:
    from . import backup

    passphrase = _passphrase(args)
    if not passphrase:
        print("konsil backup: give a passphrase with --key-file or KONSIL_BACKUP_PASSPHRASE", file=sys.stderr)
        return 2
    try:
        summary = backup.create(args.archive, passphrase=passphrase)
    except backup.BackupError as exc:
        print(f"konsil backup: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.archive}: {summary}")
    return 0


def cmd_restore(args) -> int:
    from . import backup

    passphrase = _passphrase(args)
    if not passphrase:
        print("konsil restore: give a passphrase with --key-file or KONSIL_BACKUP_PASSPHRASE", file=sys.stderr)
        return 2
    try:
        summary = backup.restore(args.archive, passphrase=passphrase, force=args.force)
    except backup.BackupError as exc:
        print(f"konsil restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored {args.archive}: {summary}")
    return 0
