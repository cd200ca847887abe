"""`konsil analytics summary|refresh` and the `--history N` option of `konsil seed`.

Only the parser is built at import time (no Django models), so `konsil --help` stays fast."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    analytics = sub.add_parser("analytics", help="analytics: the figures as JSON, refresh the rollup")
    analytics_sub = analytics.add_subparsers(dest="analytics_command", metavar="ACTION", required=True)
    summary = analytics_sub.add_parser("summary", help="print the figures of the analytics page as JSON")
    summary.add_argument("--from", dest="start", metavar="DATE", help="first day (YYYY-MM-DD)")
    summary.add_argument("--to", dest="end", metavar="DATE", help="last day (YYYY-MM-DD)")
    summary.add_argument("--program", metavar="SLUG", help="one program (its network's figures for it)")
    summary.add_argument("--network", metavar="SLUG", help="one provider network (default: all)")
    summary.add_argument("--sponsor", metavar="SLUG", help="a sponsor's view: its cases, small cells suppressed")
    for name in ("specialty", "channel", "state"):
        summary.add_argument(f"--{name}", help=f"filter by {name}")
    summary.add_argument("--no-refresh", action="store_true", help="read the facts as they are (no refresh first)")
    summary.set_defaults(func=cmd_summary)
    refresh = analytics_sub.add_parser("refresh", help="bring the fact table up to date (the clock does it too)")
    refresh.add_argument("--full", action="store_true", help="rebuild every fact (after a time zone change)")
    refresh.set_defaults(func=cmd_refresh)


def add_seed_arguments(seed) -> None:
    seed.add_argument("--history", type=int, metavar="N", help="N past cases over the last 24 months (idempotent)")


def cmd_summary(args, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    from konsil.accounts.models import Organization
    from konsil.core.errors import DomainError

    from . import measures, rollup
    from .inputs import parse

    def fail(message) -> int:
        print(f"konsil analytics summary: {message}", file=err)
        return 2

    params = {k: v for k, v in {"from": args.start, "to": args.end, "program": args.program,
                                "specialty": args.specialty, "channel": args.channel,
                                "state": args.state}.items() if v}
    if args.sponsor:
        sponsor = Organization.objects.filter(slug=args.sponsor).first()
        if sponsor is None:
            return fail(f"no sponsor organization {args.sponsor!r}")
        scope = measures.Scope(kind="sponsor", name=sponsor.name, sponsors=(sponsor.pk,), suppress=True)
    else:
        networks = Organization.objects.filter(kind="provider_network")
        if args.network:
            networks = networks.filter(slug=args.network)
        if args.program:
            networks = networks.filter(network_programs__slug=args.program)
        networks = list(networks)
        if not networks:
            return fail("no such network" if args.network else "no provider network (or no such program)")
        scope = measures.Scope(kind="network", name=", ".join(n.name for n in networks),
                               networks=tuple(n.pk for n in networks))
    from .selectors import programs_for

    try:
        filters = parse(params, programs=programs_for(scope))
    except DomainError as exc:
        return fail("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.as_dict()["errors"].items()))
    if not args.no_refresh:
        rollup.refresh()
    json.dump(measures.summary(scope, filters), out, indent=2, ensure_ascii=False, default=str)
    out.write("\n")
    return 0


def cmd_refresh(args, out=None) -> int:
    out = out or sys.stdout
    from .rollup import refresh

    run = refresh(full=args.full)
    print(json.dumps({"cases": run.cases, "full": run.full, "seconds": round(run.seconds, 3),
                      "watermark": run.watermark.isoformat()}), file=out)
    return 0


def cmd_seed_history(n: int, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    from .history import seed_history

    try:
        created = seed_history(n)
    except ValueError as exc:
        print(f"konsil seed --history: {exc}", file=err)
        return 2
    print(f"History: {created} past cases created ({n} in all).", file=out)
    return 0
