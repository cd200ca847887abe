"""The listener's Query/Retrieve SCP: C-FIND (patient and study root, every level), C-GET and C-MOVE.

Only configured nodes that may query (`DicomNode.may_query`) are answered, and only with their own network's
imaging: the studies of that network's cases. Every answer is audited per case (who: the node's AE title);
refusals are audited as denied. Instances are read one at a time (memory does not grow with the study), sent as
stored (no transcoding), and a C-MOVE goes only to a destination node of the same network.
"""

from __future__ import annotations

import io
import logging
from collections import defaultdict

import pydicom
from django.db import close_old_connections
from pydicom.dataset import Dataset
from pynetdicom import build_context
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from konsil.audit.services import emit, emit_many
from konsil.core import files
from konsil.core.errors import DomainError

from . import nodes
from .models import DicomNode, Instance, Series, Study
from .qmatch import Matcher, pn

logger = logging.getLogger(__name__)

PATIENT_ROOT = {str(PatientRootQueryRetrieveInformationModelFind), str(PatientRootQueryRetrieveInformationModelGet),
                str(PatientRootQueryRetrieveInformationModelMove)}
QR_SOP_CLASSES = [StudyRootQueryRetrieveInformationModelFind, StudyRootQueryRetrieveInformationModelGet,
                  StudyRootQueryRetrieveInformationModelMove, PatientRootQueryRetrieveInformationModelFind,
                  PatientRootQueryRetrieveInformationModelGet, PatientRootQueryRetrieveInformationModelMove]
PENDING = 0xFF00
NOT_AUTHORIZED = 0x0124  # PS3.7 C.1: refused, not authorized
IDENTIFIER_INVALID = 0xA900  # identifier does not match SOP class
UNABLE = 0xC000  # unable to process
LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
MAX_MATCHES = 65535  # the largest sub-operation count a C-GET/C-MOVE response can carry


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _keys(identifier: Dataset) -> dict[str, str]:
    """The identifier's matching keys as text (PN as sent; multi-valued elements joined with backslashes)."""
    keys = {}
    for element in identifier:
        if element.keyword in ("QueryRetrieveLevel", "SpecificCharacterSet") or element.VR == "SQ":
            continue
        value = element.value
        if value is None or value == "":
            continue
        keys[element.keyword] = "\\".join(str(v) for v in value) if element.VM > 1 else str(value)
    return keys


def _caller(event) -> DicomNode:
    close_old_connections()
    node = nodes.node_for(str(event.assoc.requestor.ae_title).strip())
    if node is None or not node.may_query:
        emit(actor=f"dicom:{str(event.assoc.requestor.ae_title).strip()[:16]}", action="dicom.query",
             outcome="denied", detail={"reason": "not_a_querying_node"})
        raise Refused(NOT_AUTHORIZED, "not a querying node")
    return node


def _level(identifier: Dataset, sop_class: str) -> str:
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if level not in LEVELS or (level == "PATIENT" and sop_class not in PATIENT_ROOT):
        raise Refused(IDENTIFIER_INVALID, "query retrieve level")
    return level


class Search:
    """The matches of one identifier within a network, at its level, with the cases they belong to."""

    def __init__(self, network_id, identifier: Dataset, level: str):
        self.level = level
        self.match = Matcher(_keys(identifier))
        try:
            self.match.check()
        except DomainError:
            raise Refused(IDENTIFIER_INVALID, "malformed date") from None
        self.network_id = network_id

    def studies(self) -> list[Study]:
        qs = (Study.objects.filter(case__network_id=self.network_id, case__identity__isnull=False)
              .select_related("case__identity").order_by("created_at"))
        uids = self.match.uids("StudyInstanceUID")
        if uids is not None:
            qs = qs.filter(study_uid__in=uids)
        patient_ok: dict = {}
        out = []
        for study in qs:
            if study.case_id not in patient_ok:
                patient_ok[study.case_id] = self.match.patient(study.case)
            if patient_ok[study.case_id] and (self.level == "PATIENT" or self.match.study(study)):
                out.append(study)
        return out

    def series(self) -> list[Series]:
        qs = Series.objects.filter(study__in=self.studies()).select_related("study__case__identity")
        return [s for s in qs.order_by("study__created_at", "number", "created_at") if self.match.series(s)]

    def instances(self) -> list[Instance]:
        qs = (Instance.objects.filter(series__in=self.series()).select_related("series__study__case")
              .order_by("series__study__created_at", "series__number", "number", "sop_uid"))
        return [i for i in qs if self.match.instance(i)]

    def retrievable(self) -> list[Instance]:
        """What a C-GET/C-MOVE at this level sends: every instance under the matches."""
        if self.level in ("PATIENT", "STUDY"):
            qs = Instance.objects.filter(series__study__in=self.studies())
            return list(qs.select_related("series__study__case").order_by("series__number", "number", "sop_uid"))
        if self.level == "SERIES":
            qs = Instance.objects.filter(series__in=self.series())
            return list(qs.select_related("series__study__case").order_by("series__number", "number", "sop_uid"))
        return self.instances()


def _patient_attrs(case) -> dict:
    identity = case.identity
    return {"PatientName": pn(identity), "PatientID": case.reference,
            "PatientBirthDate": identity.birth_date.strftime("%Y%m%d") if identity.birth_date else ""}


def _study_attrs(study: Study) -> dict:
    series = list(study.series.all())
    return {**_patient_attrs(study.case), "StudyInstanceUID": study.study_uid,
            "StudyDate": study.study_date.strftime("%Y%m%d") if study.study_date else "",
            "AccessionNumber": study.accession_number, "StudyDescription": study.description or "",
            "ModalitiesInStudy": [m for m in study.modalities.split(",") if m],
            "NumberOfStudyRelatedSeries": len(series),
            "NumberOfStudyRelatedInstances": sum(s.instance_count for s in series)}


def _series_attrs(series: Series) -> dict:
    return {"StudyInstanceUID": series.study.study_uid, "SeriesInstanceUID": series.series_uid,
            "Modality": series.modality, "SeriesNumber": series.number if series.number is not None else "",
            "SeriesDescription": series.description or "", "BodyPartExamined": series.body_part,
            "NumberOfSeriesRelatedInstances": series.instance_count}


def _instance_attrs(inst: Instance) -> dict:
    return {"StudyInstanceUID": inst.series.study.study_uid, "SeriesInstanceUID": inst.series.series_uid,
            "SOPInstanceUID": inst.sop_uid, "SOPClassUID": inst.sop_class_uid,
            "InstanceNumber": inst.number if inst.number is not None else "", "Rows": inst.rows,
            "Columns": inst.columns, "NumberOfFrames": inst.frames}


UNIQUE = {"PATIENT": ("PatientID",), "STUDY": ("StudyInstanceUID",),
          "SERIES": ("StudyInstanceUID", "SeriesInstanceUID"),
          "IMAGE": ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")}


def _answer(identifier: Dataset, level: str, attrs: dict) -> Dataset:
    """The requested keys with our values (empty when we hold none), and the level's unique keys."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: names in any script
    ds.QueryRetrieveLevel = level
    for keyword in [e.keyword for e in identifier if e.keyword and e.VR != "SQ"] + list(UNIQUE[level]):
        if keyword in ("QueryRetrieveLevel", "SpecificCharacterSet"):
            continue
        value = attrs.get(keyword, "")
        setattr(ds, keyword, value if value is not None else "")
    return ds


def _matches(search: Search) -> list[tuple[dict, object]]:
    """(attributes, case) per match at the search's level."""
    if search.level == "PATIENT":  # a case's patient (Patient ID: the case reference) with its studies
        by_case: dict = {}
        for study in search.studies():
            by_case.setdefault(study.case_id, [study.case, 0])[1] += 1
        return [({**_patient_attrs(case), "NumberOfPatientRelatedStudies": n}, case) for case, n in by_case.values()]
    if search.level == "STUDY":
        return [(_study_attrs(s), s.case) for s in search.studies()]
    if search.level == "SERIES":
        return [(_series_attrs(s), s.study.case) for s in search.series()]
    return [(_instance_attrs(i), i.series.study.case) for i in search.instances()]


def _audit(node: DicomNode, action: str, cases, **detail) -> None:
    counts: dict = defaultdict(int)
    by_id = {}
    for case in cases:
        counts[case.pk] += 1
        by_id[case.pk] = case
    emit_many(actor=f"dicom:{node.ae_title}", events=[
        {"action": action, "object_type": "cases.case", "object_id": str(pk), "patient_id": by_id[pk].patient_id,
         "detail": {"node": str(node.pk), "count": n, **detail}} for pk, n in counts.items()])


def handle_find(event):
    """C-FIND: pending responses, one per match, then success (pynetdicom sends it when this returns)."""
    try:
        node = _caller(event)
        level = _level(event.identifier, str(event.request.AffectedSOPClassUID))
        found = _matches(Search(node.network_id, event.identifier, level))
    except Refused as exc:
        yield exc.status, None
        return
    except Exception as exc:  # the database went away: unable to process, the caller may ask again
        logger.error("C-FIND failed: %s", type(exc).__name__)
        yield UNABLE, None
        return
    _audit(node, "dicom.find", [case for _attrs, case in found], level=level)
    for attrs, _case in found:
        if event.is_cancelled:
            yield 0xFE00, None
            return
        yield PENDING, _answer(event.identifier, level, attrs)


def _read(inst: Instance) -> Dataset:
    return pydicom.dcmread(io.BytesIO(files.get_for(inst.attachment)), force=True)


def _retrieve(event, node: DicomNode, instances: list[Instance]):
    """Yield (status, dataset) per instance; a file that cannot be read is a failed sub-operation."""
    _audit(node, "dicom.retrieve", [i.series.study.case for i in instances], level="instances")
    for inst in instances:
        if event.is_cancelled:
            yield 0xFE00, None
            return
        try:
            yield PENDING, _read(Instance.objects.select_related("attachment").get(pk=inst.pk))
        except Exception as exc:
            logger.error("C-GET/C-MOVE could not read an instance: %s", type(exc).__name__)
            yield 0xA702, None  # out of resources: unable to perform this sub-operation


def _instances_for(event) -> tuple[DicomNode, list[Instance]]:
    node = _caller(event)
    level = _level(event.identifier, str(event.request.AffectedSOPClassUID))
    instances = Search(node.network_id, event.identifier, level).retrievable()
    if len(instances) > MAX_MATCHES:
        raise Refused(0xA701, "too many matches")
    return node, instances


def handle_get(event):
    """C-GET: the number of sub-operations, then each instance over the caller's own association."""
    try:
        node, instances = _instances_for(event)
    except Refused as exc:
        yield exc.status, None
        return
    yield len(instances)
    yield from _retrieve(event, node, instances)


def handle_move(event):
    """C-MOVE: the destination (a node of the caller's network with an address), the count, each instance."""
    try:
        node, instances = _instances_for(event)
        destination = DicomNode.objects.filter(
            ae_title=str(event.move_destination).strip(), network_id=node.network_id, active=True,
            port__isnull=False).exclude(host="").first()
    except Refused as exc:
        yield exc.status, None
        return
    if destination is None:
        emit(actor=f"dicom:{node.ae_title}", action="dicom.retrieve", outcome="denied",
             detail={"node": str(node.pk), "reason": "unknown_destination"})
        yield None, None  # pynetdicom answers 0xA801: move destination unknown
        return
    contexts = sorted({(i.sop_class_uid, i.transfer_syntax_uid or "1.2.840.10008.1.2.1") for i in instances})
    yield destination.host, destination.port, {"contexts": [build_context(sop, [ts]) for sop, ts in contexts[:128]]}
    yield len(instances)
    yield from _retrieve(event, node, instances)
