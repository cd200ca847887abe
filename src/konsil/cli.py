"""The `konsil` console script: run, seed, audit, triage, matching, records, keys, manage (Django's commands)."""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from konsil.supervisor import Supervisor, port_free, wait_until_ready

SETTINGS = "konsil.settings"
BIND_ALL = ("0.0.0.0", "::", "")  # noqa: S104 (recognized, not used to bind)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    import django

    django.setup()


def _version() -> str:
    from konsil import __version__

    return __version__


# --- konsil run ---------------------------------------------------------------------------------------------

def child_commands(host: str, port: int, *, worker: bool = True, web_workers: int = 2,
                   threads: int = 4) -> list[tuple[str, list[str]]]:
    """The processes `konsil run` supervises: the web server (gunicorn), the task worker and the periodic clock."""
    web = [sys.executable, "-m", "gunicorn", "konsil.wsgi:application", "--bind", f"{host}:{port}",
           "--workers", str(web_workers), "--threads", str(threads), "--worker-class", "gthread",
           "--graceful-timeout", "10", "--access-logfile", "-", "--log-level", "warning"]
    commands = [("web", web)]
    if worker:
        commands.append(("worker", [sys.executable, "-m", "konsil.cli", "worker"]))  # lanes (konsil/ops)
        commands.append(("schedule", [sys.executable, "-m", "konsil.cli", "schedule"]))
        if os.environ.get("KONSIL_DICOM_PORT", "11112") != "0":  # the DICOM listener (C-STORE, C-ECHO)
            commands.append(("dicom", [sys.executable, "-m", "konsil.cli", "dicom", "listen"]))
    return commands


def child_env(host: str, port: int) -> dict[str, str]:
    """The children's environment: same settings module and state folder as this process."""
    from django.conf import settings

    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", SETTINGS)
    env["KONSIL_HOME"] = str(settings.HOME)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("KONSIL_SITE_URL", f"http://{_display_host(host)}:{port}")
    if "KONSIL_ALLOWED_HOSTS" not in env and host not in [*settings.ALLOWED_HOSTS, *BIND_ALL]:
        env["KONSIL_ALLOWED_HOSTS"] = ",".join([*settings.ALLOWED_HOSTS, host])
    return env


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in BIND_ALL else host


def banner(url: str, logins: Sequence[tuple[str, str, bool]], password: str) -> str:
    """What `konsil run` prints once the server answers: the address and one demo login per role."""
    from django.utils.translation import gettext as _

    lines = ["", _("Konsil is running at %(url)s") % {"url": url}, ""]
    if logins:
        lines.append(_("Demo logins (password for every one: %(password)s):") % {"password": password})
        width = max(len(role) for role, _email, _mfa in logins)
        for role, email, mfa in logins:
            lines.append(f"  {role.ljust(width)}  {email}{'  *' if mfa else ''}")
        lines += ["", _("* Clinical and admin roles set up two-factor sign-in (TOTP) the first time they "
                        "sign in: scan the QR code with any authenticator app.")]
    lines += [_("Press Ctrl+C to stop."), ""]
    return "\n".join(lines)


def demo_logins() -> list[tuple[str, str, bool]]:
    """(role label, email, MFA required) of the demo logins present in the database."""
    from konsil.accounts.models import User
    from konsil.accounts.roles import MFA_ROLES, Role
    from konsil.demo import LOGINS

    present = set(User.objects.filter(email__in=[lg.email for lg in LOGINS]).values_list("email", flat=True))
    return [(str(Role(lg.role).label), lg.email, lg.role in MFA_ROLES)
            for lg in LOGINS if lg.email in present]


STATIC_IGNORE = ["*.map"]  # source maps: still served through the finders, not worth compressing
STATIC_STAMP = ".konsil-collected"


def static_fingerprint() -> str:
    """A digest of every static source file (path, size, mtime): unchanged means nothing to collect."""
    from django.apps import apps
    from django.contrib.staticfiles.finders import get_finders

    ignore = STATIC_IGNORE + apps.get_app_config("staticfiles").ignore_patterns
    entries = []
    for finder in get_finders():
        for path, storage in finder.list(ignore):
            stat = os.stat(storage.path(path))
            entries.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


def collect_static() -> bool:
    """collectstatic (compressing for whitenoise) unless the sources are unchanged; True when it ran."""
    from django.conf import settings
    from django.core.management import call_command

    stamp = Path(settings.STATIC_ROOT) / STATIC_STAMP
    fingerprint = static_fingerprint()
    if stamp.exists() and stamp.read_text() == fingerprint:
        return False
    call_command("collectstatic", interactive=False, verbosity=0, ignore_patterns=STATIC_IGNORE)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)
    return True


def prepare(*, seed: bool) -> None:
    """Migrate, collect static files, load the demo data: what `konsil run` does before serving."""
    from django.core.management import call_command
    from django.utils.translation import gettext as _

    print(_("Migrating the database…"), flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)  # the shared cache (throttles) when no Redis is configured
    print(_("Collecting static files…"), flush=True)
    collect_static()
    if seed:
        print(_("Loading the demo data…"), flush=True)
        _print_summary(_seed())
        _seed_history()


def cmd_run(args) -> int:
    from django.utils.translation import gettext as _

    from konsil.demo import PASSWORD

    if not port_free(args.host, args.port):
        print(_("konsil: %(host)s:%(port)s is already in use; choose another with --port.")
              % {"host": args.host, "port": args.port}, file=sys.stderr)
        return 1
    prepare(seed=not args.no_seed)
    from django.conf import settings

    supervisor = Supervisor(child_commands(args.host, args.port, worker=not args.no_worker,
                                           web_workers=args.workers or settings.KONSIL_WEB_WORKERS,
                                           threads=args.threads or settings.KONSIL_WEB_THREADS),
                            child_env(args.host, args.port))
    signal.signal(signal.SIGINT, supervisor.stop)
    signal.signal(signal.SIGTERM, supervisor.stop)
    supervisor.start()
    url = f"http://{_display_host(args.host)}:{args.port}"
    if wait_until_ready(url, supervisor):
        print(banner(url, demo_logins(), PASSWORD), flush=True)
    return supervisor.wait()


# --- konsil seed / audit ------------------------------------------------------------------------------------

def _seed():
    from konsil.demo import seed_demo

    return seed_demo()


DEMO_HISTORY = 500  # past cases over 24 months, so the analytics page has figures to show


def _seed_history() -> int:
    """`konsil seed --history 500` (idempotent: a second run adds nothing)."""
    from konsil.analytics.commands import cmd_seed_history

    return cmd_seed_history(DEMO_HISTORY)


def _print_summary(summary) -> None:
    print("\n".join(summary.report()))


def cmd_seed(args) -> int:
    from django.utils.translation import gettext as _

    history = getattr(args, "history", None)
    if not args.demo and history is None:
        print(_("konsil seed: say which data set to load (--demo, --history N)."), file=sys.stderr)
        return 2
    if args.demo:
        _print_summary(_seed())
    if history is not None:
        from konsil.analytics.commands import cmd_seed_history

        return cmd_seed_history(history)
    return 0


def cmd_audit_verify(args) -> int:
    from django.utils.translation import gettext as _

    from konsil.audit.services import verify

    result = verify(checkpoint_path=getattr(args, "checkpoints", None))
    for warning in result.warnings:
        print(_("warning: %(warning)s") % {"warning": warning}, file=sys.stderr)
    if result.ok:
        if result.checkpoints:
            print(_("audit chain OK: %(n)d events verified, %(c)d signed checkpoints matched")
                  % {"n": result.verified, "c": result.checkpoints})
        else:
            print(_("audit chain OK: %(n)d events verified") % {"n": result.verified})
        return 0
    print(_("audit chain BROKEN at event %(seq)s: %(reason)s (%(n)d verified before it)")
          % {"seq": result.broken_seq, "reason": result.reason, "n": result.verified}, file=sys.stderr)
    return 1


def cmd_audit_checkpoint(args) -> int:
    from konsil.audit import checkpoints, services

    if args.public_key:
        print(checkpoints.public_key_pem(), end="")
        return 0
    try:
        services.seal()  # chain pending events first
        mark = checkpoints.write(force=args.force)
    except checkpoints.CheckpointError as exc:
        print(f"konsil audit checkpoint: {exc}", file=sys.stderr)
        return 1
    if mark is None:
        print("audit checkpoint: the chain has not moved since the last checkpoint")
    else:
        print(f"audit checkpoint: event {mark.seq} {mark.hash} -> {checkpoints.path()}")
    return 0


def cmd_audit_protect(args) -> int:
    from django.db import connection

    from konsil.audit import dbguard

    dbguard.install(connection)
    missing = dbguard.missing(connection)
    print("audit triggers: " + ("missing " + ", ".join(missing) if missing else "in place"))
    return 1 if missing else 0


def cmd_audit_export(args) -> int:
    from konsil.audit import export
    from konsil.audit.services import emit

    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    count = 0
    try:
        for line in export.lines(args.format, export.events(args.since)):
            out.write(line + "\n")
            count += 1
    finally:
        if args.out:
            out.close()
    emit(actor="cli", action="audit.export", purpose="compliance",
         detail={"format": args.format, "since": args.since, "events": count})
    return 0


def cmd_manage(argv: Sequence[str]) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["konsil manage", *argv])
    return 0


def cmd_triage_classify(args) -> int:
    from konsil.triage import commands

    return commands.classify(sys.stdin, sys.stdout, sys.stderr)


def cmd_triage_train(args) -> int:
    from konsil.triage import commands

    commands.train(args.training, args.out, sys.stdout)
    return 0


def cmd_triage_retrain(args) -> int:
    from konsil.triage import commands, feedback

    rows = feedback.confirmed_rows()
    if not rows:
        print("konsil triage retrain: no confirmed coordinator decisions to learn from yet.", file=sys.stderr)
        return 1
    commands.retrain(rows, args.training, args.out, sys.stdout, write=not args.dry_run)
    return 0


def cmd_matching_assign(args) -> int:
    from konsil.matching import commands

    return commands.assign(args.cases, args.specialists, sys.stdout, sys.stderr)


def cmd_matching_import(args) -> int:
    from konsil.matching import commands

    return commands.import_specialists(args.file, network=args.network, fmt=args.format,
                                       out=sys.stdout, err=sys.stderr)


def cmd_matching_specialties(args) -> int:
    from konsil.matching import commands

    return commands.specialties(sys.stdout)


def cmd_records_inspect(args) -> int:
    from konsil.records import commands
    from konsil.records.errors import RecordRejected

    try:
        commands.dump(commands.inspect(args.path), sys.stdout)
    except (RecordRejected, OSError) as exc:
        reason = exc.message if isinstance(exc, RecordRejected) else exc.strerror
        print(f"konsil records inspect: {reason}", file=sys.stderr)
        return 1
    return 0


def cmd_records_deidentify(args) -> int:
    from konsil.records import commands

    if not args.source.exists():
        print(f"konsil records deidentify: {args.source} does not exist", file=sys.stderr)
        return 1
    report = commands.deidentify(args.source, args.target)
    commands.dump(report, sys.stdout)
    return 0 if report.get("written") else 1


def cmd_schedule(args) -> int:
    from konsil.core import schedule

    if args.once:
        for path in schedule.tick(state=schedule.state_file()):
            print(f"enqueued {path}")
        return 0
    schedule.loop()
    return 0


def cmd_keys_rotate(args) -> int:
    import json

    from konsil.core import keys

    if args.new:
        if os.environ.get("KONSIL_MASTER_KEYS"):
            print("konsil keys rotate --new: master keys come from KONSIL_MASTER_KEYS; add the new key there and "
                  "set KONSIL_MASTER_KEY_ID instead.", file=sys.stderr)
            return 1
        keys.new_embedded_key()
    from konsil.core.crypto import DecryptionError

    try:
        print(json.dumps(keys.rotate(), indent=2))
    except DecryptionError as exc:
        print(f"konsil keys rotate: {exc}; configure it in KONSIL_MASTER_KEYS first.", file=sys.stderr)
        return 1
    return 0


def cmd_keys_status(args) -> int:
    import json

    from konsil.core import keys

    print(json.dumps(keys.status(), indent=2))
    return 0


# --- entry point --------------------------------------------------------------------------------------------

def _positive(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 256:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 256, not {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="konsil", description="Konsil: medical second opinions.")
    parser.add_argument("--version", action="version", version=f"konsil {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="migrate, load the demo data, serve the app and run the worker")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--no-worker", action="store_true", help="do not start the background task worker and clock")
    run.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    run.add_argument("--workers", type=_positive, default=None, metavar="N",
                     help="web server processes (default KONSIL_WEB_WORKERS or 2)")
    run.add_argument("--threads", type=_positive, default=None, metavar="N",
                     help="threads per web server process (default KONSIL_WEB_THREADS or 4)")
    run.set_defaults(func=cmd_run)

    seed = sub.add_parser("seed", help="load a data set (idempotent)")
    seed.add_argument("--demo", action="store_true", help="the demo organizations, users, specialists, cases")
    from konsil.analytics.commands import add_seed_arguments

    add_seed_arguments(seed)
    seed.set_defaults(func=cmd_seed)

    audit = sub.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser("verify", help="check the keyed chain against the signed checkpoints")
    verify.add_argument("--checkpoints", type=Path, default=None,
                        help="checkpoint file to check against (default KONSIL_AUDIT_CHECKPOINTS)")
    verify.set_defaults(func=cmd_audit_verify)
    checkpoint = audit_sub.add_parser("checkpoint", help="append a signed checkpoint of the chain head")
    checkpoint.add_argument("--force", action="store_true", help="write one even when the chain has not moved")
    checkpoint.add_argument("--public-key", action="store_true", help="print the key that checks checkpoints")
    checkpoint.set_defaults(func=cmd_audit_checkpoint)
    audit_sub.add_parser("protect", help="(re)create the database triggers that refuse changes").set_defaults(
        func=cmd_audit_protect)
    export = audit_sub.add_parser("export", help="events as FHIR AuditEvent (NDJSON) or RFC 5424 syslog lines")
    export.add_argument("--format", choices=("fhir", "syslog"), required=True)
    export.add_argument("--since", type=int, default=0, metavar="SEQ", help="only events after this one")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: standard output)")
    export.set_defaults(func=cmd_audit_export)

    triage = sub.add_parser("triage", help="the triage model: classify, train, retrain")
    triage_sub = triage.add_subparsers(dest="triage_command", metavar="ACTION", required=True)
    classify = triage_sub.add_parser("classify", help="JSON Lines cases on stdin -> one JSON line per case")
    classify.set_defaults(func=cmd_triage_classify)
    for name, func, text in (("train", cmd_triage_train, "rebuild the model from the training file"),
                             ("retrain", cmd_triage_retrain, "fold confirmed decisions in; before/after metrics")):
        action = triage_sub.add_parser(name, help=text)
        action.add_argument("--training", type=Path, default=None, help="training CSV (MTSamples layout)")
        action.add_argument("--out", type=Path, default=None, help="artifact folder (default: the shipped one)")
        if name == "retrain":
            action.add_argument("--dry-run", action="store_true", help="report metrics, keep the current model")
        action.set_defaults(func=func)

    matching = sub.add_parser("matching", help="batch matching, the specialty catalog, specialist import")
    matching_sub = matching.add_subparsers(dest="matching_command", metavar="ACTION", required=True)
    assign = matching_sub.add_parser("assign", help="assign cases to specialists (JSON Lines in and out)")
    assign.add_argument("--cases", required=True, type=Path)
    assign.add_argument("--specialists", required=True, type=Path)
    assign.set_defaults(func=cmd_matching_assign)
    imp = matching_sub.add_parser("import", help="import specialists from CSV or JSON Lines (needs the database)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--network", required=True, help="slug of the provider network")
    imp.add_argument("--format", choices=("csv", "jsonl"), default=None, help="default: from the file extension")
    imp.set_defaults(func=cmd_matching_import)
    matching_sub.add_parser("specialties", help="print the specialty catalog as JSON Lines").set_defaults(
        func=cmd_matching_specialties)

    records = sub.add_parser("records", help="records tools: inspect a file, de-identify DICOM")
    records_sub = records.add_subparsers(dest="records_command", metavar="ACTION", required=True)
    inspect = records_sub.add_parser("inspect", help="print as JSON what Konsil would extract from a file")
    inspect.add_argument("path", type=Path)
    inspect.set_defaults(func=cmd_records_inspect)
    deid = records_sub.add_parser("deidentify", help="DICOM PS3.15 Basic Profile for a file or a folder tree")
    deid.add_argument("source", type=Path, metavar="IN")
    deid.add_argument("target", type=Path, metavar="OUT")
    deid.set_defaults(func=cmd_records_deidentify)

    sched = sub.add_parser("schedule", help="enqueue periodic work (reminders, clean-up); runs beside the worker")
    sched.add_argument("--once", action="store_true", help="enqueue what is due once and exit (for cron)")
    sched.set_defaults(func=cmd_schedule)

    keys = sub.add_parser("keys", help="master keys: rotate, status")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    rotate = keys_sub.add_parser("rotate", help="re-wrap every data key under the current master key")
    rotate.add_argument("--new", action="store_true", help="generate a new master key first (embedded default)")
    rotate.set_defaults(func=cmd_keys_rotate)
    keys_sub.add_parser("status", help="data keys per master key").set_defaults(func=cmd_keys_status)

    from konsil.analytics.commands import add_parser as add_analytics_parser

    add_analytics_parser(sub)
    from konsil.fhir.commands import add_parser as add_fhir_parser

    add_fhir_parser(sub)
    from konsil.records.dicom_commands import add_parser as add_dicom_parser

    add_dicom_parser(sub)
    from konsil.programs.commands import add_parser as add_programs_parser

    add_programs_parser(sub)
    from konsil.ops.commands import add_parser as add_ops_parser

    add_ops_parser(sub)
    sub.add_parser("manage", help="Django's management commands (migrate, createsuperuser, ...)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["manage"]:  # pass everything after it to Django untouched
        _setup()
        return cmd_manage(argv[1:])
    parser = build_parser()  # no models at import time: `konsil --help` parses before Django is set up
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _setup()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
