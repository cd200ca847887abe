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


def add_parser(sub) -> None:
    """`konsil dicom listen`: the C-STORE SCP alone (konsil run starts it beside the web server)."""
    dicom_cmd = sub.add_parser("dicom", help="DICOM networking: the C-STORE / C-ECHO listener")
    actions = dicom_cmd.add_subparsers(dest="dicom_command", metavar="ACTION", required=True)
    listen = actions.add_parser("listen", help="receive studies pushed by a PACS (KONSIL_DICOM_* settings)")
    listen.add_argument("--host", default="", help="address to bind (default KONSIL_DICOM_HOST or 127.0.0.1)")
    listen.add_argument("--port", type=int, default=None, help="port (default KONSIL_DICOM_PORT or 11112)")
    listen.set_defaults(func=cmd_listen)
