"""The coordinators' DICOM inbox: studies pushed by a PACS that no case claimed, held encrypted until a
coordinator attaches one to a case (one click, among suggested cases) or rejects it.

Routing first: a study goes straight to the case whose records request issued its accession number, or whose
Konsil reference (K-XXXXXXXX) the sender put in AccessionNumber or StudyID.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.models import Case, PatientIdentity
from konsil.cases.selectors import cases_for
from konsil.core import crypto, files
from konsil.core.errors import Conflict, NotFound, PermissionDenied

from . import dicom, nodes, pushed
from .errors import RecordRejected
from .intake import ATTACHABLE
from .models import InboundStudy, RecordsRequest, RequestStatus

REFERENCE = re.compile(r"K-[0-9A-F]{8}")
OPEN = (InboundStudy.State.RECEIVING, InboundStudy.State.PENDING)


def route(ds, network=None) -> tuple[Case, object] | None:
    """The case a received instance belongs to, and who stands as its uploader; None when no case claims it.

    With `network` (the caller's), only that network's cases can claim it: a PACS never writes into another's.
    """
    accession = str(ds.get("AccessionNumber", "") or "").strip().upper()
    requests = RecordsRequest.objects.select_related("case", "requested_by")
    cases = Case.objects.select_related("requester")
    if network is not None:
        requests, cases = requests.filter(case__network=network), cases.filter(network=network)
    if accession:
        request = requests.filter(accession_number=accession).order_by("-created_at").first()
        if request is not None and request.case.status in ATTACHABLE:
            return request.case, request.requested_by
    for keyword in ("AccessionNumber", "StudyID"):
        match = REFERENCE.search(str(ds.get(keyword, "") or "").upper())
        if match:
            case = cases.filter(reference=match.group(0)).first()
            if case is not None and case.status in ATTACHABLE:
                return case, case.requester
    return None


def mark_request_received(case: Case, ds) -> None:
    """The records request whose accession number came back is received."""
    accession = str(ds.get("AccessionNumber", "") or "").strip().upper()
    if accession:
        RecordsRequest.objects.filter(case=case, accession_number=accession, status=RequestStatus.REQUESTED).update(
            status=RequestStatus.RECEIVED, received_at=timezone.now())


# --- holding what nobody claimed --------------------------------------------------------------------------------


def _aead(item: InboundStudy) -> AESGCM:
    return AESGCM(crypto.unwrap_key(bytes(item.wrapped_key), item.key_id))


def hold(*, content: bytes, ds, network, calling_ae: str = "", address: str | None = None) -> InboundStudy:
    """Keep one instance of an unclaimed study, encrypted, in `network`'s inbox entry of its study (made on first)."""
    info = dicom.index(ds)
    with transaction.atomic():
        item = (InboundStudy.objects.select_for_update()
                .filter(study_uid=info.study_uid, state__in=OPEN, network=network).first())
        if item is None:
            wrapped, key_id = crypto.wrap_key(AESGCM.generate_key(bit_length=256))
            name = str(ds.get("PatientName", "") or "")  # Family^Given, as sent
            birth = dicom._date(ds, "PatientBirthDate")  # noqa: SLF001 -- the module's lenient date reader
            item = InboundStudy.objects.create(
                study_uid=info.study_uid, calling_ae=(calling_ae or "")[:16], address=address or None,
                accession_number=info.accession_number, patient_name=name[:200],
                patient_id=str(ds.get("PatientID", "") or "")[:64], birth_date=birth, study_date=info.study_date,
                description=info.study_description or "", wrapped_key=wrapped, key_id=key_id,
                state=InboundStudy.State.PENDING, network=network)
            emit(actor="dicom", action="dicom.inbox.hold", obj=item,
                 detail={"calling_ae": item.calling_ae, "address": address or ""})
        if any(part.get("sop") == info.sop_uid for part in item.parts):
            raise RecordRejected("duplicate", "instance already held")
        aad = f"{item.pk}:{len(item.parts)}".encode()
        name = files.save_raw(crypto.seal(_aead(item), content, aad))
        try:
            modalities = sorted({*filter(None, item.modalities.split(",")), info.modality} - {""})
            item.parts = [*item.parts, {"name": name, "size": len(content), "sop": info.sop_uid}]
            item.instance_count, item.size = len(item.parts), item.size + len(content)
            item.modalities = ",".join(modalities)[:64]
            item.save(update_fields=["parts", "instance_count", "size", "modalities", "updated_at"])
        except BaseException:
            files.delete(name)
            raise
    return item


def _instances(item: InboundStudy):
    aead = _aead(item)
    for index, part in enumerate(item.parts):
        yield crypto.unseal(aead, files.raw(part["name"]), f"{item.pk}:{index}".encode())


def _drop(item: InboundStudy) -> None:
    for part in item.parts:
        files.delete(part["name"])


# --- what coordinators see and do -------------------------------------------------------------------------------


def is_coordinator(user) -> bool:
    return bool(nodes.coordinator_networks(user))


def _scoped(user):
    """The inbox entries of the networks `user` coordinates (entries from before networks: the default one's)."""
    networks = nodes.coordinator_networks(user)
    if not networks:
        raise PermissionDenied(_("Only coordinators see the imaging inbox."))
    scope = Q(network_id__in=networks)
    default = nodes.default_network()
    if default is not None and default.pk in networks:
        scope |= Q(network__isnull=True)
    return InboundStudy.objects.filter(scope)


def inbox_for(user):
    """The studies waiting for a decision in the user's networks; coordinators only. Reading it is audited."""
    items = list(_scoped(user).filter(state=InboundStudy.State.PENDING))
    emit(actor=user, action="dicom.inbox.list", detail={"count": len(items)})
    return items


def get_item(user, item_id) -> InboundStudy:
    try:
        item = _scoped(user).filter(pk=item_id).first()
    except (ValueError, ValidationError):
        item = None
    if item is None:
        raise NotFound(_("This study is not in the inbox."))
    return item


def suggestions(user, item: InboundStudy, limit: int = 5) -> list[tuple[Case, list[str]]]:
    """Open cases this coordinator handles that may be the study's, with the reasons: name, birth date, dates."""
    family = (item.patient_name or "").split("^")[0].strip()
    query = Q()
    if item.birth_date:
        query |= PatientIdentity.matching_birth_date(item.birth_date, through="identity__")
    candidates = cases_for(user).select_related("identity").exclude(status__in=["closed", "cancelled", "withdrawn"])
    if item.network_id is not None:
        candidates = candidates.filter(network_id=item.network_id)
    scored = []
    for case in candidates.filter(query)[:200] if query else candidates[:200]:
        reasons = []
        identity = case.identity
        if family and identity is not None and identity.family_name.strip().lower() == family.lower():
            reasons.append(str(_("same family name")))
        if item.birth_date and identity is not None and identity.birth_date == item.birth_date:
            reasons.append(str(_("same birth date")))
        if item.study_date and case.created_at.date() >= item.study_date:
            reasons.append(str(_("study before the case was opened")))
        if len(reasons) >= 2 or (reasons and reasons[0] != str(_("study before the case was opened"))):
            scored.append((len(reasons), case, reasons))
    scored.sort(key=lambda row: -row[0])
    return [(case, reasons) for _score, case, reasons in scored[:limit]]


def attach(*, actor, item: InboundStudy, case: Case) -> int:
    """Put a held study into `case` (as one study record) and empty the inbox entry. Returns instances stored."""
    if rel.COORDINATOR not in rel.relations(actor, case):
        raise PermissionDenied(_("Only the case's coordinators attach imaging to it."))
    if item.network_id is not None and item.network_id != case.network_id:
        raise PermissionDenied(_("This study came from another network's hospital; it cannot join this case."))
    with transaction.atomic():
        locked = InboundStudy.objects.select_for_update().get(pk=item.pk)
        if locked.state != InboundStudy.State.PENDING:
            raise Conflict(_("This study was already attached or rejected."), code="inbox_decided")
        locked.state = InboundStudy.State.RECEIVING  # claimed: a second click finds it taken
        locked.save(update_fields=["state", "updated_at"])
    stored = 0
    try:
        for content in _instances(locked):
            try:
                pushed.receive(actor=actor, case=case, content=content, source="dimse")
                stored += 1
            except RecordRejected as exc:
                if exc.code != "duplicate":
                    raise
    except BaseException:
        InboundStudy.objects.filter(pk=item.pk).update(state=InboundStudy.State.PENDING)
        raise
    _drop(locked)
    InboundStudy.objects.filter(pk=item.pk).update(
        state=InboundStudy.State.ATTACHED, case=case, parts=[], decided_by=actor, decided_at=timezone.now())
    emit(actor=actor, action="dicom.inbox.attach", obj=locked, patient_id=case.patient_id, role=rel.COORDINATOR,
         detail={"case": str(case.pk), "instances": stored})
    return stored


def reject(*, actor, item: InboundStudy) -> None:
    """Refuse a held study: its instances are deleted at once."""
    item = get_item(actor, item.pk)  # in one of the actor's networks, or not found
    with transaction.atomic():
        locked = InboundStudy.objects.select_for_update().get(pk=item.pk)
        if locked.state != InboundStudy.State.PENDING:
            raise Conflict(_("This study was already attached or rejected."), code="inbox_decided")
        _drop(locked)
        locked.state, locked.parts, locked.decided_by, locked.decided_at = (
            InboundStudy.State.REJECTED, [], actor, timezone.now())
        locked.save(update_fields=["state", "parts", "decided_by", "decided_at", "updated_at"])
        emit(actor=actor, action="dicom.inbox.reject", obj=locked, detail={"instances": locked.instance_count})
