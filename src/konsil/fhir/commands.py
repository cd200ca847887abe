"""`konsil fhir client add NAME --org SLUG --jwks FILE --scope "SCOPES"`: register a backend client.

Only the parser is built at import time (no Django models), so `konsil --help` stays fast."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    fhir = sub.add_parser("fhir", help="the FHIR API: backend clients (SMART Backend Services)")
    fhir_sub = fhir.add_subparsers(dest="fhir_command", metavar="ACTION", required=True)
    client = fhir_sub.add_parser("client", help="backend clients")
    client_sub = client.add_subparsers(dest="client_command", metavar="ACTION", required=True)
    add = client_sub.add_parser("add", help="register a client with its JWKS; prints the client_id")
    add.add_argument("name")
    add.add_argument("--org", required=True, help="slug of the client's organization")
    add.add_argument("--jwks", required=True, help="file with the client's public JSON Web Key Set")
    add.add_argument("--scope", required=True, help='SMART system scopes, e.g. "system/ServiceRequest.crs"')
    add.add_argument("--network", help="slug of the provider network that receives its referrals")
    add.add_argument("--source-base", default="", help="the sender's FHIR base URL: referral documents sent by "
                     "URL are fetched from under it")
    add.add_argument("--fetch-token-file", help="file holding the bearer token for fetching those documents")
    add.add_argument("--origin", action="append", default=[], dest="origins",
                     help="a web origin (https://app.example.org) allowed to call the APIs from a browser (CORS); "
                          "repeatable")
    add.set_defaults(func=client_add)


def client_add(args, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr  # looked up per call: tests swap the streams
    from konsil.accounts.models import Organization
    from konsil.fhir.errors import FhirError
    from konsil.fhir.services import register_client

    def fail(message: str) -> int:
        print(f"konsil fhir client add: {message}", file=err)
        return 1

    org = Organization.objects.filter(slug=args.org).first()
    if org is None:
        return fail(f"no organization {args.org!r}")
    network = None
    if args.network:
        network = Organization.objects.filter(slug=args.network, kind="provider_network").first()
        if network is None:
            return fail(f"no provider network {args.network!r}")
    try:
        with open(args.jwks, encoding="utf-8") as fh:
            jwks = json.load(fh)
    except (OSError, ValueError) as exc:
        return fail(f"cannot read the JWKS: {exc}")
    fetch_token = ""
    if getattr(args, "fetch_token_file", None):
        try:
            with open(args.fetch_token_file, encoding="utf-8") as fh:
                fetch_token = fh.read().strip()
        except OSError as exc:
            return fail(f"cannot read the fetch token: {exc}")
    try:
        client = register_client(actor="cli", name=args.name, organization=org, jwks=jwks, scopes=args.scope,
                                 network=network, origins=getattr(args, "origins", None),
                                 source_base=getattr(args, "source_base", ""), fetch_token=fetch_token)
    except FhirError as exc:
        return fail(str(exc.message))
    print(client.client_id, file=out)
    return 0
