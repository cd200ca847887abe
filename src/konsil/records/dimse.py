"""DICOM networking (DIMSE): a C-STORE SCP that hospitals' PACS push studies to, answering C-ECHO, and the
Query/Retrieve SCP (C-FIND, C-GET, C-MOVE; `qr_scp`) for each network's configured nodes.

Configured from the environment (embedded defaults: AE title KONSIL, port 11112, bound to the loopback address,
any calling AE title from the loopback address). Each received instance is checked as a record is (a cut or
malformed dataset is refused with a DIMSE failure status and nothing stored), routed to its case (records
request accession number, or a Konsil reference in AccessionNumber/StudyID) and stored encrypted under the case's
study record, or held encrypted in the coordinators' inbox. Every instance is audited. `konsil run` starts it
beside the web server; `konsil dicom listen` runs it alone.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import threading
from dataclasses import dataclass, field

from django.db import close_old_connections, connection
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pydicom.uid import JPEGLossless as JPEGLosslessP14
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from konsil.audit.services import emit

from . import dicom, inbox, nodes, pushed, qr_scp
from .errors import RecordRejected
from .models import RetrieveJob

logger = logging.getLogger(__name__)

TRANSFER_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
                     ExplicitVRBigEndian, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessP14, JPEGLosslessSV1,
                     JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless, JPEG2000, RLELossless]
SUCCESS = 0x0000
CANNOT_UNDERSTAND = 0xC000  # the dataset is not sound DICOM (cut pixels, bad UIDs)
OUT_OF_RESOURCES = 0xA700  # could not be stored (storage or database failure): the sender retries
NOT_AUTHORIZED = 0x0124  # PS3.7 C.1: refused, not authorized (the caller's node may not do this)
LOOPBACK = ("127.0.0.1/32", "::1/128")


def _list(name: str, default: str = "") -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


@dataclass
class Config:
    ae_title: str = "KONSIL"
    host: str = "127.0.0.1"
    port: int = 11112
    allowed_aets: list[str] = field(default_factory=list)  # empty: any calling AE title
    allowed_networks: list[str] = field(default_factory=lambda: list(LOOPBACK))
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""  # when set, callers must present a certificate signed by it

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            ae_title=os.environ.get("KONSIL_DICOM_AE_TITLE", "KONSIL")[:16],
            host=os.environ.get("KONSIL_DICOM_HOST", "127.0.0.1"),
            port=int(os.environ.get("KONSIL_DICOM_PORT", "11112")),
            allowed_aets=_list("KONSIL_DICOM_ALLOWED_AE_TITLES"),
            allowed_networks=_list("KONSIL_DICOM_ALLOWED_ADDRESSES", ",".join(LOOPBACK)),
            tls_cert=os.environ.get("KONSIL_DICOM_TLS_CERT", ""),
            tls_key=os.environ.get("KONSIL_DICOM_TLS_KEY", ""),
            tls_ca=os.environ.get("KONSIL_DICOM_TLS_CA", ""),
        )

    def address_allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.allowed_networks
                   if ipaddress.ip_network(net, strict=False).version == ip.version)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls_cert, self.tls_key or None)
        if self.tls_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.tls_ca)
        return context


def _claimed_by_retrieve(node, ds):
    """A study Konsil asked this node to C-MOVE to it: the retrieve job's case and requester."""
    if node is None:
        return None
    job = (RetrieveJob.objects.select_related("case", "requested_by")
           .filter(node=node, study_uid=str(ds.get("StudyInstanceUID", "")), state=RetrieveJob.State.RUNNING)
           .order_by("-created_at").first())
    return (job.case, job.requested_by) if job is not None else None


def store_instance(content: bytes, *, calling_ae: str = "", address: str = "") -> int:
    """Check, route and store one received instance; the DIMSE status to answer. Never raises."""
    close_old_connections()
    try:
        ds = dicom.read(content)  # with its pixels: a cut image is refused here, nothing stored
    except RecordRejected:
        return CANNOT_UNDERSTAND
    try:
        node = nodes.node_for(calling_ae)
        if node is not None and not node.may_store:
            emit(actor=f"dicom:{node.ae_title}", action="dicom.receive", outcome="denied",
                 detail={"node": str(node.pk), "reason": "may_not_store"})
            return NOT_AUTHORIZED
        network = nodes.network_of(node)
        routed = _claimed_by_retrieve(node, ds) or inbox.route(ds, network=network)
        if routed is None:
            if network is None:  # nobody could decide on it: refused rather than held where no one sees it
                logger.warning("C-STORE from %s refused: no network for an unconfigured caller", calling_ae)
                return NOT_AUTHORIZED
            inbox.hold(content=content, ds=ds, network=network, calling_ae=calling_ae, address=address)
        else:
            case, uploader = routed
            pushed.receive(actor=uploader, case=case, content=content, source="dimse", ds=ds,
                           audit_actor="dicom")
            inbox.mark_request_received(case, ds)
    except RecordRejected as exc:
        if exc.code == "duplicate":
            return SUCCESS  # already held: stored once, and the sender may stop retrying
        return CANNOT_UNDERSTAND
    except Exception as exc:  # a storage or database failure: refused, the sender may retry later
        logger.error("C-STORE from %s failed: %s", calling_ae, type(exc).__name__)
        return OUT_OF_RESOURCES
    return SUCCESS


def _handle_store(event) -> int:
    requestor = event.assoc.requestor
    try:
        content = event.encoded_dataset(include_meta=True)
    except Exception:  # a dataset pynetdicom cannot encode back: not understood
        return CANNOT_UNDERSTAND
    return store_instance(content, calling_ae=str(requestor.ae_title).strip(), address=requestor.address)


def _handle_echo(event) -> int:
    return SUCCESS


def _handle_closed(event) -> None:
    connection.close()  # each association is its own thread: its database connection goes with it


class ListenerAE(AE):
    """Calling AE titles allowed: the configured list and every active node's; none of either: any caller."""

    def __init__(self, ae_title: str, allowed: list[str]):
        super().__init__(ae_title=ae_title)
        self._configured = list(allowed)

    @property
    def require_calling_aet(self) -> list[str]:
        return [*self._configured, *sorted(nodes.known_ae_titles())]

    @require_calling_aet.setter
    def require_calling_aet(self, ae_titles: list[str]) -> None:
        self._configured = list(ae_titles)


def make_ae(config: Config) -> AE:
    ae = ListenerAE(config.ae_title, config.allowed_aets)
    ae.require_called_aet = True
    ae.maximum_pdu_size = 0  # no limit on what the caller sends per PDU
    for context in AllStoragePresentationContexts:  # received (C-STORE), and sent back for C-GET (role selection)
        ae.add_supported_context(context.abstract_syntax, TRANSFER_SYNTAXES, scu_role=True, scp_role=True)
    ae.add_supported_context(Verification, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    for abstract in qr_scp.QR_SOP_CLASSES:
        ae.add_supported_context(abstract, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    return ae


HANDLERS = [(evt.EVT_C_STORE, _handle_store), (evt.EVT_C_ECHO, _handle_echo),
            (evt.EVT_C_FIND, qr_scp.handle_find), (evt.EVT_C_GET, qr_scp.handle_get),
            (evt.EVT_C_MOVE, qr_scp.handle_move),
            (evt.EVT_RELEASED, _handle_closed), (evt.EVT_ABORTED, _handle_closed)]


def start(config: Config | None = None, *, block: bool = False):
    """Start the listener; returns the server (non-blocking) so that it can be shut down."""
    config = config or Config.from_env()
    ae = make_ae(config)
    server = ae.start_server((config.host, config.port), block=False, ssl_context=config.ssl_context(),
                             evt_handlers=HANDLERS)

    def verify_request(request, client_address) -> bool:
        allowed = config.address_allowed(client_address[0])
        if not allowed:
            logger.warning("DICOM association from %s refused: address not allowed", client_address[0])
        return allowed

    server.verify_request = verify_request
    logger.info("DICOM listener %s on %s:%s", config.ae_title, config.host, server.server_address[1])
    if block:
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
    return server

