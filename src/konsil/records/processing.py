"""Background processing of a stored record: its kind decided by content, what it holds read out and indexed.

One bad file never blocks the others: each record ends `ready` or `failed` with a reason code, and a failure
removes everything that record had produced (entries, derivatives, index rows), so nothing is half-stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
from pathlib import PurePosixPath

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from konsil.audit.services import emit
from konsil.cases.models import Attachment
from konsil.core import crypto, files, streams

from . import archive, detect, dicom, fhir, identity_check, images, pdf, render
from .errors import RecordRejected
from .intake import store_record
from .models import Derivative, Instance, Series, Study

logger = logging.getLogger(__name__)
P = Attachment.Processing
TEXT_KINDS = frozenset({"pdf", "fhir", "text"})
CD_TEXT_JUNK = ("README", "LICENSE", "LICENCE", "AUTORUN", "COPYING", "VERSION")


def process(attachment_id) -> Attachment | None:
    """Process one queued record (idempotent: a record already ready or failed is left alone)."""
    attachment = Attachment.objects.select_related("case").filter(
        pk=attachment_id, status__in=[P.QUEUED, P.PROCESSING]).first()
    if attachment is None:
        return None
    if attachment.status == P.PROCESSING:  # a worker stopped half-way: start again from nothing
        undo(attachment)
    Attachment.objects.filter(pk=attachment.pk).update(status=P.PROCESSING, updated_at=timezone.now())
    touched: set = set()
    try:
        with streams.open_for(attachment) as stream:
            kind, data = _content(attachment, stream)  # a zip or a large DICOM file stays a stream
            kind = kind or detect.detect(data, attachment.filename)
            detail = HANDLERS[kind](attachment, data, touched)
            for series_id in touched:
                refresh_thumbnail(series_id)
            other_person = identity_check.examine(attachment, kind, data, detail)  # a flag, never the name read
    except RecordRejected as exc:
        return _fail(attachment, exc.code, exc.detail)
    except (files.IntegrityError, crypto.DecryptionError):
        return _fail(attachment, "integrity", "stored object failed to decrypt or verify")
    except Exception as exc:  # a bug or an unforeseen file: the record fails, the worker goes on
        _log_failure("record %s failed in processing", attachment.pk, exc)
        return _fail(attachment, "processing", type(exc).__name__)
    ready = _ready(attachment, kind, detail)
    if other_person:
        identity_check.alert(ready)
    return ready


def _content(attachment, stream) -> tuple[str, object]:
    """(kind when known, the record's bytes or the stream itself): a zip archive stays a stream (memory bounded
    by one entry, not the file), and so does a DICOM file over KONSIL_RECORD_IN_MEMORY_BYTES (its pixel data is
    read frame by frame); other records are read whole and checked against their SHA-256."""
    head = stream.read(dicom.PREAMBLE_LENGTH + len(dicom.MAGIC))
    stream.seek(0)
    if head[:len(detect.ZIP_MAGICS[0])] in detect.ZIP_MAGICS:
        return "zip", stream
    if head[dicom.PREAMBLE_LENGTH:] == dicom.MAGIC and attachment.size > settings.KONSIL_RECORD_IN_MEMORY_BYTES:
        return "dicom", stream
    data = stream.read()
    if streams.is_segmented(attachment) and hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise files.IntegrityError("stored object failed its integrity check")
    return "", data


def _log_failure(message: str, object_id, exc: BaseException) -> None:
    """Log an unexpected failure with its type and stack, never its message: parsers quote file content (PHI)."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    logger.error(message + " (%s)\n%s", object_id, type(exc).__name__, stack)


def _ready(attachment: Attachment, kind: str, detail: dict) -> Attachment:
    attachment.kind, attachment.status, attachment.error_code, attachment.detail = kind, P.READY, "", detail
    attachment.save(update_fields=["kind", "status", "error_code", "detail", "updated_at"])
    emit(actor="records", action="record.process", obj=attachment, patient_id=attachment.case.patient_id,
         detail={"kind": kind, "outcome": "ready", **{k: v for k, v in detail.items() if isinstance(v, int)}})
    if kind in TEXT_KINDS or detail.get("documents"):
        from konsil.triage.tasks import enqueue_reconsideration

        enqueue_reconsideration(attachment.case_id)
    return attachment


def _fail(attachment: Attachment, code: str, technical: str = "") -> Attachment:
    undo(attachment)
    attachment.status, attachment.error_code = P.FAILED, code
    attachment.save(update_fields=["status", "error_code", "updated_at"])
    logger.info("record %s rejected: %s %s", attachment.pk, code, technical)
    emit(actor="records", action="record.process", obj=attachment, patient_id=attachment.case.patient_id,
         outcome="failed", detail={"reason": code})
    return attachment


def undo(attachment: Attachment) -> None:
    """Remove what processing produced for `attachment`: entries, derivatives, index rows and their objects."""
    owned = [attachment, *attachment.entries.all()]
    names = [a.storage_name for a in owned[1:]]
    names += list(Derivative.objects.filter(attachment__in=owned).values_list("storage_name", flat=True))
    series_ids = set(Instance.objects.filter(attachment__in=owned).values_list("series_id", flat=True))
    with transaction.atomic():
        Derivative.objects.filter(attachment__in=owned).delete()
        Instance.objects.filter(attachment__in=owned).delete()
        attachment.entries.all().delete()
        kept = [series.pk for series in _recount(series_ids)]
    for name in names:
        files.delete(name)
    for series_id in Series.objects.filter(pk__in=kept, thumbnail__isnull=True).values_list("pk", flat=True):
        try:  # the series lost its picture with the undone images: draw it from the images left
            refresh_thumbnail(series_id)
        except Exception as exc:  # a missing thumbnail must not stop the undo
            _log_failure("series %s: thumbnail not refreshed", series_id, exc)


def _recount(series_ids) -> list[Series]:
    """Update the counts of these series; drop emptied series and studies. Returns the series kept."""
    kept = []
    counted = Series.objects.filter(pk__in=series_ids).select_related("study").annotate(
        counted_images=Count("instances"), counted_frames=Sum("instances__frames"))  # by the database, rows unread
    for series in counted:
        if not series.counted_images:
            study = series.study
            series.delete()
            if not study.series.exists():
                study.delete()
            continue
        series.instance_count, series.frame_count = series.counted_images, series.counted_frames or 0
        series.save(update_fields=["instance_count", "frame_count", "updated_at"])
        kept.append(series)
    return kept


def derive(attachment: Attachment, kind: str, content: bytes, index: int = 0) -> Derivative:
    """Store something read out of a record, encrypted like the record itself (replacing an earlier one)."""
    old = Derivative.objects.filter(attachment=attachment, kind=kind, index=index).first()
    derivative = Derivative(attachment=attachment, kind=kind, index=index)
    stored = files.put_for(derivative, content)
    try:
        with transaction.atomic():
            if old is not None:
                old.delete()
            derivative.save()
    except BaseException:
        files.delete(stored.name)
        raise
    if old is not None:
        files.delete(old.storage_name)
    return derivative


# --- one handler per kind ---------------------------------------------------------------------------------------


def _pdf(attachment, data, touched) -> dict:
    info = pdf.inspect(data)
    if info.text.strip():
        derive(attachment, Derivative.Kind.TEXT, info.text.encode())
    for page, png in enumerate(pdf.page_thumbnails(data)):
        derive(attachment, Derivative.Kind.THUMBNAIL, png, index=page)
    return {"pages": info.pages, "text_length": info.text_length}


def _image(attachment, data, touched) -> dict:
    width, height, fmt = images.image_info(data)
    derive(attachment, Derivative.Kind.THUMBNAIL, images.image_thumbnail(data))
    return {"width": width, "height": height}


def _text(attachment, data, touched) -> dict:
    text = detect.decode_text(data)
    if text is None:
        raise RecordRejected("text_encoding")
    if _meant_as_json(attachment.filename, text):
        fhir.parse(data)  # broken JSON fails with its reason; valid JSON that is no FHIR resource too
    derive(attachment, Derivative.Kind.TEXT, text.encode())
    return {"text_length": len(text)}


def _meant_as_json(filename: str, text: str) -> bool:
    """A .json file, or text shaped like a JSON object, that detection could not read as FHIR."""
    stripped = text.strip()
    return (filename or "").lower().endswith(".json") or (stripped.startswith("{") and stripped.endswith("}"))


def _fhir(attachment, data, touched) -> dict:
    summary = fhir.summarize(fhir.parse(data))
    derive(attachment, Derivative.Kind.SUMMARY, json.dumps(summary.to_dict()).encode())
    text = summary.as_text()
    if text.strip():
        derive(attachment, Derivative.Kind.TEXT, text.encode())
    detail = {k: v for k, v in summary.counts.items() if isinstance(v, int)}
    return {**detail, "other_resources": sum(summary.ignored.values()),
            "unreadable_resources": sum(summary.unreadable.values())}


def _dicom(attachment, data, touched) -> dict:
    ds = dicom.read(data)
    info = dicom.index(ds)
    if Instance.objects.filter(series__study__case=attachment.case, sop_uid=info.sop_uid).exists():
        raise RecordRejected("duplicate", "instance already indexed")
    series = Series.objects.get(pk=index_instance(attachment, info).series_id)
    if series.thumbnail_id is None or _power_of_two(series.instance_count):
        touched.add(series.pk)  # a folder upload arrives file by file: re-draw the middle image now and then
    return {"images": 1, "frames": info.frames, "series": 1, "studies": 1}


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class IndexBatch:
    """Many instances of one archive: studies, series and known SOP UIDs looked up once; counts set at the end."""

    def __init__(self, case, *, preload: bool = True):
        self.case = case
        self.known_sops = set(Instance.objects.filter(series__study__case=case).values_list(
            "sop_uid", flat=True)) if preload else set()
        self.studies: dict[str, Study] = {}
        self.series: dict[tuple[str, str], Series] = {}

    def study(self, info) -> Study:
        if info.study_uid not in self.studies:
            self.studies[info.study_uid], _ = Study.objects.get_or_create(
                case=self.case, study_uid=info.study_uid,
                defaults={"study_date": info.study_date, "description": info.study_description or "",
                          "accession_number": getattr(info, "accession_number", "")})
        return self.studies[info.study_uid]

    def series_for(self, info) -> Series:
        key = (info.study_uid, info.series_uid)
        if key not in self.series:
            self.series[key], _ = Series.objects.get_or_create(
                study=self.study(info), series_uid=info.series_uid,
                defaults={"number": _int32(info.series_number), "modality": (info.modality or "")[:16],
                          "body_part": (info.body_part or "")[:64], "description": info.series_description or ""})
        return self.series[key]

    def finish(self) -> None:
        """Instance and frame counts per series, modalities per study."""
        _recount([s.pk for s in self.series.values()])
        for study in self.studies.values():
            modalities = sorted(set(Series.objects.filter(study=study).exclude(modality="")
                                    .values_list("modality", flat=True)))
            Study.objects.filter(pk=study.pk).update(modalities=",".join(modalities)[:64])


def _int32(value: int | None) -> int | None:
    """A series or instance number the database column holds (a 32-bit integer), else none."""
    return value if value is not None and -2**31 <= value < 2**31 else None


def index_instance(attachment: Attachment, info, batch: IndexBatch | None = None) -> Instance:
    """Put one DICOM instance into the case's study / series / instance index."""
    own = batch is None
    batch = batch or IndexBatch(attachment.case, preload=False)
    with transaction.atomic():
        series = batch.series_for(info)
        instance = Instance.objects.create(
            series=series, attachment=attachment, sop_uid=info.sop_uid, sop_class_uid=(info.sop_class_uid or "")[:64],
            number=_int32(info.instance_number), position=info.position, frames=info.frames, rows=info.rows or 0,
            columns=info.columns or 0, transfer_syntax_uid=(info.transfer_syntax_uid or "")[:64],
            has_pixels=info.has_pixels, burned_in_annotation=info.burned_in_annotation)
        batch.known_sops.add(info.sop_uid)
        if own:
            batch.finish()
    return instance


def refresh_thumbnail(series_id) -> None:
    """The series thumbnail: its middle image."""
    series = Series.objects.filter(pk=series_id).first()
    instances = list(series.instances.select_related("attachment").filter(has_pixels=True)) if series else []
    if not instances:
        return
    middle = instances[len(instances) // 2]
    try:
        with streams.open_for(middle.attachment) as stream:  # only the middle frame is read
            png = render.thumbnail(dicom.read(stream))
    except RecordRejected:
        return  # pixels this install cannot decode: the series is listed without a picture
    previous = series.thumbnail
    thumbnail = derive(middle.attachment, Derivative.Kind.THUMBNAIL, png)
    Series.objects.filter(pk=series_id).update(thumbnail=thumbnail)
    if previous is not None and previous.attachment_id != middle.attachment_id:
        previous.delete()  # drawn from an image that is no longer the middle one
        files.delete(previous.storage_name)


def _zip(attachment, data, touched) -> dict:
    limits = archive.Limits(max_total_bytes=settings.KONSIL_MAX_STUDY_BYTES, max_ratio=settings.KONSIL_ZIP_MAX_RATIO)
    counts = {"images": 0, "documents": 0, "ignored": 0, "duplicates": 0, "failed": 0, "skipped": 0}
    reasons: dict[str, int] = {}
    stats = archive.ExpansionStats()
    batch = IndexBatch(attachment.case)
    try:
        for entry in archive.iter_entries(data, limits, stats=stats):
            if entry.skipped_reason:
                counts["skipped"] += 1
                reasons[entry.skipped_reason] = reasons.get(entry.skipped_reason, 0) + 1
                continue
            outcome = _entry(attachment, entry, touched, batch)
            counts[outcome] = counts.get(outcome, 0) + 1
    finally:
        batch.finish()
    counts["ignored"] += stats.ignored
    if not counts["images"] and not counts["documents"]:
        raise RecordRejected("zip_empty")
    series = Series.objects.filter(pk__in=touched)
    return {**counts, "series": series.count(), "studies": series.values("study").distinct().count(),
            "reasons": reasons}


def _entry(parent: Attachment, entry, touched, batch: IndexBatch) -> str:
    """One file inside an archive: stored as an entry of the archive and processed like a record of its own."""
    try:
        kind = detect.detect(entry.data, "")
    except RecordRejected:
        return "ignored"
    if kind == "zip":
        return "ignored"  # archives inside archives are not opened
    if kind == "text" and PurePosixPath(entry.path).name.upper().startswith(CD_TEXT_JUNK):
        return "ignored"  # a disc's README or licence, not a record
    if kind == "dicom":
        try:
            ds = dicom.read(entry.data)
            info = dicom.index(ds)
        except RecordRejected:
            return "failed"
        if info.sop_uid in batch.known_sops:
            return "duplicates"
        child = store_record(actor=parent.uploaded_by, case=parent.case, content=entry.data, filename=entry.path,
                             parent=parent, kind="dicom", status=P.READY, content_type="application/dicom")
        try:
            touched.add(index_instance(child, info, batch).series_id)
        except Exception as exc:  # a duplicate that raced in, or values the index cannot hold: this entry only
            undo(child)
            child.delete()
            files.delete(child.storage_name)
            if isinstance(exc, IntegrityError):
                return "duplicates"
            _log_failure("archive entry of %s could not be indexed", parent.pk, exc)
            return "failed"
        return "images"
    child = store_record(actor=parent.uploaded_by, case=parent.case, content=entry.data, filename=entry.path,
                         parent=parent, kind=kind, status=P.PROCESSING, content_type=detect.MIME.get(kind, ""))
    try:
        detail = HANDLERS[kind](child, entry.data, touched)
    except Exception as exc:  # one bad entry fails alone; the rest of the archive goes on
        if not isinstance(exc, RecordRejected):
            _log_failure("archive entry %s failed in processing", child.pk, exc)
        _fail(child, exc.code if isinstance(exc, RecordRejected) else "processing")
        return "failed"
    child.status, child.detail = P.READY, detail
    child.save(update_fields=["status", "detail", "updated_at"])
    return "documents"


HANDLERS = {"pdf": _pdf, "jpeg": _image, "png": _image, "text": _text, "fhir": _fhir, "dicom": _dicom, "zip": _zip}
