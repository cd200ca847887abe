"""Instances pushed one by one (STOW-RS, DICOM C-STORE) grouped as one record per study.

A study that arrives instance by instance is one record of the case (a "study" attachment, holding a small
encrypted manifest) with each instance stored encrypted as its entry and indexed under the case's study, series
and instance rows, like the files of a CD. Nothing here decides access: callers check it first.
"""

from __future__ import annotations

import contextlib
import json
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum

from konsil.audit.services import emit
from konsil.cases.models import Attachment, Case
from konsil.core import files, streams

from . import dicom
from .errors import RecordRejected
from .intake import store_record
from .models import Instance, Series
from .processing import IndexBatch, _recount, index_instance, refresh_thumbnail

P = Attachment.Processing
STUDY_KIND = "study"


def study_record(*, actor, case: Case, info, source: str) -> Attachment:
    """The case's record for the pushed study `info.study_uid`: found, or made (one per study and case)."""
    found = (Instance.objects.filter(series__study__case=case, series__study__study_uid=info.study_uid,
                                     attachment__parent__kind=STUDY_KIND)
             .select_related("attachment__parent").first())
    if found is not None:
        return found.attachment.parent
    label = " ".join(filter(None, ["DICOM", info.modality, info.study_description,
                                   info.study_date.isoformat() if info.study_date else ""]))
    manifest = json.dumps({"study": info.study_uid, "source": source, "nonce": secrets.token_hex(8)}).encode()
    return store_record(actor=actor, case=case, content=manifest, filename=label or "DICOM study",
                        content_type="application/json", process=False, status=P.READY, kind=STUDY_KIND,
                        description=source)


def receive(*, actor, case: Case, content: bytes, source: str, ds=None, audit_actor=None) -> tuple:
    """Store one instance of a pushed study into `case`, under the study's record. Returns (info, entry).

    Refuses (RecordRejected) what is not sound DICOM, and an instance the case already holds ("duplicate").
    """
    ds = ds if ds is not None else dicom.read(content)
    info = dicom.index(ds)
    _refuse_known(case, info)
    parent = study_record(actor=actor, case=case, info=info, source=source)
    entry = store_record(actor=actor, case=case, content=content, filename=f"{info.sop_uid}.dcm", parent=parent,
                         kind="dicom", status=P.READY, content_type="application/dicom", process=False)
    return info, _file(actor=actor, case=case, entry=entry, info=info, source=source, audit_actor=audit_actor)


def receive_stream(*, actor, case: Case, chunks, source: str, study_uid: str | None = None) -> tuple:
    """Like `receive` for an instance that arrives in pieces (a STOW-RS part): encrypted as it arrives (one
    segment in memory), then read back once to check and index it; the study is never held in memory.

    `study_uid`: the study the instance must belong to (a STOW-RS request to a study's URL). Nothing is kept
    when the instance is refused or storing fails.
    """
    entry = Attachment(case=case, uploaded_by=actor, kind="dicom", status=P.READY,
                       content_type="application/dicom")
    stored = streams.write_for(entry, chunks)
    content = b""
    try:
        if not stored.size:
            raise RecordRejected("empty", "zero-byte part")
        if stored.size > settings.KONSIL_MAX_STUDY_BYTES:
            raise RecordRejected("too_large", "part larger than the limit")
        content = files.get_for(entry)
        info = dicom.index(dicom.read(content))  # one instance, with its pixels: a cut one is refused
        if study_uid and info.study_uid != study_uid:
            raise RecordRejected("dicom_corrupt", "study uid differs from the URL")
        _refuse_known(case, info)
        entry.parent = study_record(actor=actor, case=case, info=info, source=source)
        entry.filename = f"{info.sop_uid}.dcm"
        entry.save()
    except BaseException as exc:
        files.delete(stored.name)
        if isinstance(exc, RecordRejected):
            exc.uid = sop_uid_of(content)  # for the STOW-RS failure list
        raise
    return info, _file(actor=actor, case=case, entry=entry, info=info, source=source)


def sop_uid_of(content: bytes) -> str | None:
    """The SOP Instance UID of what may be a DICOM instance, read from its header; None when there is none."""
    try:
        return str(dicom.read(content, pixels=False).SOPInstanceUID) if content else None
    except Exception:  # the part is not DICOM at all: no UID to report
        return None


def _refuse_known(case: Case, info) -> None:
    if Instance.objects.filter(series__study__case=case, sop_uid=info.sop_uid).exists():
        raise RecordRejected("duplicate", "instance already indexed")


def _file(*, actor, case: Case, entry: Attachment, info, source: str, audit_actor=None) -> Attachment:
    """Index a stored instance under its study record, recount, audit and refresh the series picture."""
    parent = entry.parent
    try:
        instance = index_instance(entry, info, IndexBatch(case, preload=False))
    except IntegrityError:  # the same instance raced in
        entry.delete()
        files.delete(entry.storage_name)
        raise RecordRejected("duplicate", "instance already indexed") from None
    series = _count(parent, instance.series_id)
    emit(actor=audit_actor or actor, action="dicom.receive", obj=entry, patient_id=case.patient_id,
         detail={"source": source, "study_record": str(parent.pk)})
    if series is not None and (series.thumbnail_id is None or _power_of_two(series.instance_count)):
        with contextlib.suppress(Exception):  # a picture must never refuse an instance
            refresh_thumbnail(series.pk)
    return entry


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _count(parent: Attachment, series_id) -> Series | None:
    """After one instance was filed: its series' counts, its study's modalities (when the series brings a new
    one) and the study record's totals, each counted by the database (a 500-image push read every instance's
    row back for each instance). Returns the series."""
    with transaction.atomic():
        series = next(iter(_recount([series_id])), None)
        if series is not None and series.modality and series.modality not in series.study.modalities.split(","):
            study = series.study
            modalities = sorted(set(Series.objects.filter(study=study).exclude(modality="")
                                    .values_list("modality", flat=True)))
            type(study).objects.filter(pk=study.pk).update(modalities=",".join(modalities)[:64])
        totals = Instance.objects.filter(attachment__parent=parent).aggregate(
            images=Count("id"), series=Count("series", distinct=True), frames=Sum("frames"))
        Attachment.objects.filter(pk=parent.pk).update(detail={
            "images": totals["images"], "series": totals["series"], "studies": 1, "frames": totals["frames"] or 0})
    return series
