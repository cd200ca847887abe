"""Konsil as a query/retrieve client: a coordinator finds a study on one of their network's source PACS and pulls
it into a case, over DIMSE (C-FIND, then C-GET, or C-MOVE to Konsil's own listener) or DICOMweb (QIDO-RS, then
WADO-RS). The pull runs as a background task with its progress on a RetrieveJob; each instance is stored as it
arrives (one at a time in memory), into the case's study record, audited like any received instance.
"""

from __future__ import annotations

import io
import logging
import threading
from datetime import timedelta
from urllib.parse import urlencode

import requests
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pynetdicom import AE, StoragePresentationContexts, build_role, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed

from . import nodes, pushed
from .errors import RecordRejected
from .intake import ATTACHABLE
from .models import DicomNode, RetrieveJob

logger = logging.getLogger(__name__)

FIND_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "StudyDate", "AccessionNumber", "ModalitiesInStudy")
RETURN_KEYS = ("StudyInstanceUID", "StudyDate", "AccessionNumber", "StudyDescription", "ModalitiesInStudy",
               "PatientName", "PatientID", "PatientBirthDate", "NumberOfStudyRelatedInstances")
MAX_RESULTS = 200
TIMEOUT = 30
STALE = timedelta(hours=1)  # a pull that has not moved for this long (its worker died) no longer blocks a new one


class PacsUnavailable(DomainError):
    status = 502
    code = "pacs_unavailable"


class PacsRefused(PacsUnavailable):
    code = "pacs_refused"


def source_for(actor, node_id) -> DicomNode:
    try:
        node = nodes.sources_for(actor).filter(pk=node_id).first()
    except (ValueError, TypeError, ValidationError):  # a malformed id
        node = None
    if node is None:
        raise PermissionDenied(_("Choose a PACS of your network."))
    return node


def _clean_keys(keys: dict) -> dict[str, str]:
    out = {}
    for key in FIND_KEYS:
        value = str((keys or {}).get(key, "") or "").strip()
        if len(value) > 64 or any(ord(c) < 32 for c in value):
            raise ValidationFailed(_("This search value is too long or not valid."), field=key)
        if value:
            out[key] = value
    if not out:
        raise ValidationFailed(_("Give at least one search field (name, patient ID, birth date, date, accession)."),
                               field="PatientName")
    return out


def _ae() -> AE:
    ae = AE(ae_title=_our_title())
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    return ae


def _our_title() -> str:
    from .dimse import Config

    return Config.from_env().ae_title


def _study_dict(ds) -> dict:
    out = {}
    for key in RETURN_KEYS:
        value = ds.get(key, "")
        out[key] = "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value or "")
    return out


def _find_dimse(node: DicomNode, keys: dict[str, str]) -> list[dict]:
    ae = _ae()
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    for key in RETURN_KEYS:
        setattr(query, key, keys.get(key, ""))
    assoc = ae.associate(node.host, node.port, ae_title=node.ae_title)
    if not assoc.is_established:
        raise PacsUnavailable(_("The PACS did not accept the connection."))
    found = []
    try:
        for status, identifier in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
            if status is None:
                raise PacsUnavailable(_("The PACS did not answer in time."))
            if status.Status in (0xFF00, 0xFF01) and identifier is not None and len(found) < MAX_RESULTS:
                found.append(_study_dict(identifier))
            elif status.Status not in (0x0000, 0xFF00, 0xFF01):
                raise PacsUnavailable(_("The PACS refused the search (status 0x%(s)04X).") % {"s": status.Status})
    finally:
        assoc.release()
    return found


def _web_client(node: DicomNode):
    from dicomweb_client.api import DICOMwebClient

    return DICOMwebClient(url=node.dicomweb_url.rstrip("/"))


def _find_dicomweb(node: DicomNode, keys: dict[str, str]) -> list[dict]:
    """QIDO-RS with the wildcards left as typed: some servers (Orthanc 1.10) do not decode %2A in a query."""
    query = urlencode([*keys.items(), *(("includefield", k) for k in RETURN_KEYS), ("limit", MAX_RESULTS)],
                      safe="*?^,")
    try:
        answer = requests.get(f"{node.dicomweb_url.rstrip('/')}/studies?{query}", timeout=TIMEOUT,
                              headers={"Accept": "application/dicom+json"})
        answer.raise_for_status()
        results = answer.json() if answer.content else []
    except (requests.RequestException, ValueError) as exc:
        logger.warning("QIDO-RS search failed: %s", type(exc).__name__)
        raise PacsUnavailable(_("The PACS did not answer the search.")) from None
    return [_study_dict(Dataset.from_json(item)) for item in results[:MAX_RESULTS] if isinstance(item, dict)]


def find(*, actor, node_id, keys: dict) -> list[dict]:
    """Studies on a source PACS matching `keys` (at study level). Audited (node and count; no search values)."""
    node = source_for(actor, node_id)
    clean = _clean_keys(keys)
    try:
        found = _find_dicomweb(node, clean) if node.retrieve == DicomNode.Retrieve.DICOMWEB else \
            _find_dimse(node, clean)
    except PacsUnavailable:
        emit(actor=actor, action="dicom.pacs.find", obj=node, outcome="error", detail={"keys": sorted(clean)})
        raise
    emit(actor=actor, action="dicom.pacs.find", obj=node, detail={"keys": sorted(clean), "results": len(found)})
    return found


def start(*, actor, case, node_id, study_uid: str) -> RetrieveJob:
    """Queue the pull of `study_uid` from a source PACS into `case` (its coordinators only)."""
    node = source_for(actor, node_id)
    if rel.COORDINATOR not in rel.relations(actor, case):
        raise PermissionDenied(_("Only the case's coordinators retrieve imaging into it."))
    if case.network_id != node.network_id:
        raise PermissionDenied(_("Choose a PACS of your network."))
    if case.status not in ATTACHABLE:
        raise Conflict(_("This case is closed to new documents."))
    study_uid = str(study_uid or "").strip()
    if not study_uid or len(study_uid) > 64 or not all(c.isdigit() or c == "." for c in study_uid):
        raise ValidationFailed(_("This is not a study instance UID."), field="study_uid")
    with transaction.atomic():
        if RetrieveJob.objects.filter(case=case, study_uid=study_uid, updated_at__gte=timezone.now() - STALE,
                                      state__in=[RetrieveJob.State.QUEUED, RetrieveJob.State.RUNNING]).exists():
            raise Conflict(_("This study is already being retrieved."), code="retrieve_running")
        job = RetrieveJob.objects.create(case=case, node=node, study_uid=study_uid, method=node.retrieve,
                                         requested_by=actor)
        emit(actor=actor, action="dicom.pacs.retrieve", obj=job, patient_id=case.patient_id, role=rel.COORDINATOR,
             detail={"node": str(node.pk), "method": job.method})
        from .tasks import retrieve_study

        transaction.on_commit(lambda: retrieve_study.enqueue(str(job.pk)))
    return job


def jobs_for(actor, case):
    if rel.COORDINATOR not in rel.relations(actor, case):
        raise PermissionDenied(_("Only the case's coordinators retrieve imaging into it."))
    return list(RetrieveJob.objects.filter(case=case).select_related("node"))


# --- the pull, in the task worker ------------------------------------------------------------------------------


class _Progress:
    def __init__(self, job: RetrieveJob):
        self.job = job

    def store(self, content: bytes) -> bool:
        """One received instance into the case; a duplicate counts as done."""
        try:
            pushed.receive(actor=self.job.requested_by, case=self.job.case, content=content, source="retrieve",
                           audit_actor=self.job.requested_by)
            ok = True
        except RecordRejected as exc:
            ok = exc.code == "duplicate"
        except Exception as exc:
            logger.error("retrieved instance not stored: %s", type(exc).__name__)
            ok = False
        self._count("completed" if ok else "failed")
        return ok

    def failed(self) -> None:
        self._count("failed")

    def _count(self, field: str) -> None:
        setattr(self.job, field, getattr(self.job, field) + 1)
        RetrieveJob.objects.filter(pk=self.job.pk).update(**{field: getattr(self.job, field)},
                                                          updated_at=timezone.now())  # alive: not stale


def _study_query(study_uid: str) -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    return query


def _get(job: RetrieveJob, progress: _Progress) -> None:
    def on_store(event):  # in the association's thread: the only writer while the C-GET runs
        try:
            content = event.encoded_dataset(include_meta=True)
        except Exception:  # a dataset that cannot be encoded back: refused, counted as failed
            progress.failed()
            return 0xC000
        try:
            return 0x0000 if progress.store(content) else 0xA700
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()  # the association's thread ends with the retrieve: so does its connection

    ae = _ae()
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    roles = []
    for context in StoragePresentationContexts[:127]:  # 128 contexts at most, one is the C-GET's
        ae.add_requested_context(context.abstract_syntax)
        roles.append(build_role(context.abstract_syntax, scp_role=True))
    assoc = ae.associate(job.node.host, job.node.port, ae_title=job.node.ae_title, ext_neg=roles,
                         evt_handlers=[(evt.EVT_C_STORE, on_store)])
    _follow(job, assoc, lambda: assoc.send_c_get(_study_query(job.study_uid),
                                                 StudyRootQueryRetrieveInformationModelGet))


def _move(job: RetrieveJob) -> None:
    ae = _ae()
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = ae.associate(job.node.host, job.node.port, ae_title=job.node.ae_title)
    # the PACS sends the study to Konsil's listener, which files it under this job's case (its counts: the PACS's)
    final = _follow(job, assoc, lambda: assoc.send_c_move(_study_query(job.study_uid), _our_title(),
                                                          StudyRootQueryRetrieveInformationModelMove))
    RetrieveJob.objects.filter(pk=job.pk).update(completed=final[1], failed=final[2])


def _follow(job: RetrieveJob, assoc, send) -> tuple[int, int, int]:
    """Run a C-GET/C-MOVE to its end; (total, completed, failed) as the PACS counted them. Written once, after."""
    if not assoc.is_established:
        raise PacsUnavailable(_("The PACS did not accept the connection."))
    counts = (0, 0, 0)
    try:
        for status, _identifier in send():
            if status is None or "Status" not in status:
                raise PacsUnavailable(_("The PACS did not answer in time."))
            numbers = [int(status.get(k, 0) or 0) for k in ("NumberOfRemainingSuboperations",
                                                            "NumberOfCompletedSuboperations",
                                                            "NumberOfFailedSuboperations")]
            if any(numbers):
                counts = (sum(numbers), numbers[1], numbers[2])
            if status.Status not in (0x0000, 0xFF00, 0xFF01, 0xB000):
                raise PacsRefused(_("The PACS refused the retrieve (status 0x%(s)04X).") % {"s": status.Status})
    finally:
        assoc.release()
    RetrieveJob.objects.filter(pk=job.pk).update(total=counts[0])
    return counts


def _dicomweb(job: RetrieveJob, progress: _Progress) -> None:
    """WADO-RS: the study's instances one multipart part at a time (dicomweb-client streams the response)."""
    client = _web_client(job.node)
    try:
        instances = client.search_for_instances(study_instance_uid=job.study_uid)
        RetrieveJob.objects.filter(pk=job.pk).update(total=len(instances))
        for ds in client.iter_study(job.study_uid):
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            progress.store(buffer.getvalue())
    except DomainError:
        raise
    except Exception as exc:
        logger.warning("WADO-RS retrieve failed: %s", type(exc).__name__)
        raise PacsUnavailable(_("The PACS did not send the study.")) from None


def run(job_id) -> RetrieveJob:
    """Pull one queued study (idempotent: a finished job is left alone; instances already held are skipped)."""
    job = RetrieveJob.objects.select_related("node", "case", "requested_by").get(pk=job_id)
    if job.state in (RetrieveJob.State.DONE, RetrieveJob.State.FAILED):
        return job
    RetrieveJob.objects.filter(pk=job.pk).update(state=RetrieveJob.State.RUNNING, updated_at=timezone.now())
    job.state = RetrieveJob.State.RUNNING
    progress = _Progress(job)
    error = ""
    try:
        if job.method == DicomNode.Retrieve.GET:
            _get(job, progress)
        elif job.method == DicomNode.Retrieve.MOVE:
            _move(job)
        else:
            _dicomweb(job, progress)
    except PacsUnavailable as exc:
        error = exc.code
    job.refresh_from_db()
    stored = job.completed
    if not error and stored == 0:
        error = "nothing_retrieved"
    job.state = RetrieveJob.State.FAILED if error else RetrieveJob.State.DONE
    job.error, job.finished_at = error, timezone.now()
    job.total = max(job.total, job.completed + job.failed)
    job.save(update_fields=["state", "error", "finished_at", "total", "updated_at"])
    emit(actor=job.requested_by, action="dicom.pacs.retrieved", obj=job, patient_id=job.case.patient_id,
         outcome="error" if error else "success",
         detail={"completed": job.completed, "failed": job.failed, "error": error})
    return job
