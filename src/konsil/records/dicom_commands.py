"""`konsil dicom ...`: the parser is built before Django is set up, so nothing here imports models at import time."""

from __future__ import annotations

import contextlib
import logging
import threading


def cmd_listen(args) -> int:
    from .dimse import Config, start

    config = Config.from_env()
    if args.port is not None:
        config.port = args.port
    if args.host:
        config.host = args.host
    logging.basicConfig(level=logging.INFO, format="%(asctime)s dicom %(levelname)s %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    print(f"DICOM listener: AE title {config.ae_title}, {config.host}:{config.port}"
          f"{' (TLS)' if config.tls_cert else ''}", flush=True)
    try:
        start(config, block=True)
    except OSError as exc:  # the port is taken: say so, and stay up so that `konsil run` keeps the web server
        print(f"DICOM listener not started: {config.host}:{config.port}: {exc.strerror}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


def cmd_nodes(args) -> int:
    """List, add or remove a network's DICOM nodes (the AE titles it sends, queries and retrieves with)."""
    from django.db import IntegrityError

    from konsil.accounts.models import Organization
    from konsil.audit.services import emit

    from .models import DicomNode

    if args.nodes_command == "list":
        for node in DicomNode.objects.select_related("network").order_by("network__slug", "ae_title"):
            roles = ",".join(r for r, on in (("store", node.may_store), ("query", node.may_query),
                                              ("source", node.is_source)) if on)
            print(f"{node.network.slug}\t{node.ae_title}\t{node.host or '-'}:{node.port or '-'}\t{roles}\t"
                  f"{node.retrieve}\t{'active' if node.active else 'inactive'}\t{node.name}")
        return 0
    if args.nodes_command == "remove":
        removed = DicomNode.objects.filter(ae_title=args.ae_title).update(active=False)
        emit(actor="cli", action="dicom.node.deactivate", object_type="records.dicomnode", object_id=args.ae_title)
        print(f"{removed} node(s) deactivated")
        return 0 if removed else 1
    network = Organization.objects.filter(slug=args.network).first()
    if network is None:
        print(f"no network with slug {args.network!r}")
        return 2
    title = args.ae_title.strip()
    if not title or len(title) > 16 or any(c == "\\" or ord(c) < 32 for c in title):
        print("an AE title is 1 to 16 characters, no backslash or control characters")
        return 2
    if args.retrieve == "dicomweb" and not args.dicomweb_url:
        print("--dicomweb-url is needed to retrieve with DICOMweb")
        return 2
    try:
        node = DicomNode.objects.create(
            network=network, name=args.name or title, ae_title=title, host=args.host, port=args.port,
            may_store=not args.no_store, may_query=args.query, is_source=args.source, retrieve=args.retrieve,
            dicomweb_url=args.dicomweb_url)
    except IntegrityError:
        print(f"AE title {title} is already configured")
        return 2
    emit(actor="cli", action="dicom.node.add", obj=node, detail={"network": str(network.pk)})
    print(f"added {title} to {network.slug}")
    return 0


def add_parser(sub) -> None:
    """`konsil dicom listen`: the C-STORE SCP alone (konsil run starts it beside the web server)."""
    dicom_cmd = sub.add_parser("dicom", help="DICOM networking: the listener and each network's nodes")
    actions = dicom_cmd.add_subparsers(dest="dicom_command", metavar="ACTION", required=True)
    listen = actions.add_parser("listen", help="receive studies pushed by a PACS (KONSIL_DICOM_* settings)")
    listen.add_argument("--host", default="", help="address to bind (default KONSIL_DICOM_HOST or 127.0.0.1)")
    listen.add_argument("--port", type=int, default=None, help="port (default KONSIL_DICOM_PORT or 11112)")
    listen.set_defaults(func=cmd_listen)
    nodes = actions.add_parser("nodes", help="a network's DICOM nodes: PACS and workstations by AE title")
    node_actions = nodes.add_subparsers(dest="nodes_command", metavar="ACTION", required=True)
    node_actions.add_parser("list", help="every configured node").set_defaults(func=cmd_nodes)
    add = node_actions.add_parser("add", help="configure a node of a network")
    add.add_argument("network", help="the network's slug")
    add.add_argument("ae_title", help="the node's AE title (it calls Konsil with it)")
    add.add_argument("--name", default="")
    add.add_argument("--host", default="", help="its address (needed to query it or move studies to it)")
    add.add_argument("--port", type=int, default=None)
    add.add_argument("--no-store", action="store_true", help="it may not send studies to Konsil")
    add.add_argument("--query", action="store_true", help="it may query and retrieve from Konsil")
    add.add_argument("--source", action="store_true", help="coordinators may query and retrieve from it")
    add.add_argument("--retrieve", choices=["get", "move", "dicomweb"], default="get")
    add.add_argument("--dicomweb-url", default="")
    add.set_defaults(func=cmd_nodes)
    remove = node_actions.add_parser("remove", help="deactivate a node (it is refused from then on)")
    remove.add_argument("ae_title")
    remove.set_defaults(func=cmd_nodes)
