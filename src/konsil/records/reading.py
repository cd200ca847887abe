"""Pages and JSON the browser reads: a case's records and their state, the imaging index, frames, thumbnails.

Every view takes its object through a scoped selector and writes an audit event; frames are rendered on the
server (see docs/architecture.md: the viewer shows server-rendered frames, so any transfer syntax pydicom
decodes works on any laptop or phone without WebGL or a client-side codec).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import cachetools
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from konsil.audit.services import emit
from konsil.cases.models import Attachment
from konsil.cases.selectors import get_case
from konsil.core import files, streams
from konsil.core.errors import NotFound
from konsil.core.templatetags.konsil_ui import moment
from konsil.core.zones import display_zone

from . import dicom, render, selectors
from .errors import REASONS, RecordRejected
from .models import Derivative

PRESET_LABELS = {
    "ct_soft_tissue": _("CT soft tissue"),
    "ct_lung": _("CT lung"),
    "ct_bone": _("CT bone"),
    "ct_brain": _("CT brain"),
}
NO_STORE = "private, no-store"
FRAME_CACHE = "private, max-age=600"


def _case(request, pk, action):
    try:
        return get_case(request.user, pk, action=action)
    except NotFound:
        raise Http404 from None


def describe(record: Attachment) -> str:
    """A short line on what Konsil read out of a record (counts only)."""
    d = record.detail or {}
    if d.get("images"):
        text = ngettext("%(n)d image", "%(n)d images", d["images"]) % {"n": d["images"]}
        if d.get("series"):
            text += " · " + ngettext("%(n)d series", "%(n)d series", d["series"]) % {"n": d["series"]}
        parts = [text]
    elif d.get("pages"):
        parts = [ngettext("%(n)d page", "%(n)d pages", d["pages"]) % {"n": d["pages"]}]
    elif record.kind == "fhir":
        parts = [_("%(c)d conditions, %(m)d medications, %(o)d results") % {
            "c": d.get("conditions", 0), "m": d.get("medications", 0), "o": d.get("observations", 0)}]
    else:
        parts = []
    if d.get("documents"):
        parts.append(ngettext("%(n)d document", "%(n)d documents", d["documents"]) % {"n": d["documents"]})
    skipped = d.get("failed", 0) + d.get("skipped", 0)
    if skipped:
        parts.append(ngettext("%(n)d file could not be read", "%(n)d files could not be read", skipped)
                     % {"n": skipped})
    if d.get("ignored"):
        parts.append(ngettext("%(n)d viewer or system file ignored", "%(n)d viewer or system files ignored",
                              d["ignored"]) % {"n": d["ignored"]})
    if d.get("duplicates"):
        parts.append(ngettext("%(n)d duplicate skipped", "%(n)d duplicates skipped", d["duplicates"])
                     % {"n": d["duplicates"]})
    return " · ".join(parts)


def record_json(case, record: Attachment, thumbs: dict, when) -> dict:
    """One record as the upload widget lists it; `when` writes a moment as the page does (konsil_ui's `moment`)."""
    return {
        "id": str(record.pk), "name": record.filename, "kind": record.kind or None, "status": record.status,
        "status_label": str(Attachment.Processing(record.status).label),
        "error": str(REASONS.get(record.error_code, "")) if record.status == Attachment.Processing.FAILED else "",
        "size": record.size, "size_label": filesizeformat(record.size), "detail": describe(record),
        "download_url": reverse("cases:attachment", kwargs={"pk": case.pk, "att": record.pk}),
        "thumbnail_url": reverse("records:derivative", kwargs={"pk": thumbs[record.pk]}) if record.pk in thumbs
        else None,
        "created_at": record.created_at.isoformat(), "created_label": when(record.created_at),
    }


FOLDER_MIN_FILES = 5


def split_folder_uploads(records) -> tuple[list, dict]:
    """DICOM files sent as one folder (a CD or USB stick) are listed as one line per upload batch."""
    by_batch: dict = {}
    for record in records:
        if record.batch and record.kind in ("dicom", ""):
            by_batch.setdefault(record.batch, []).append(record)
    folders = {b: group for b, group in by_batch.items() if len(group) >= FOLDER_MIN_FILES}
    grouped = {r.pk for group in folders.values() for r in group}
    return [r for r in records if r.pk not in grouped], folders


@dataclass(frozen=True)
class FolderRow:
    """A folder upload as one line of a page's records list (no download: its files are its images)."""

    filename: str
    status: str
    size: int
    created_at: object
    pk: None = None
    description: str = ""
    error_message: str = ""

    def get_status_display(self) -> str:
        return str(Attachment.Processing(self.status).label)


def folder_status(group: list) -> str:
    """The worst state of a folder's files: queued or processing while any is, else ready."""
    pending = {r.status for r in group} & {Attachment.Processing.QUEUED, Attachment.Processing.PROCESSING}
    return next(iter(sorted(pending))) if pending else Attachment.Processing.READY


def folder_name(group: list) -> str:
    return ngettext("Folder of %(n)d file", "Folder of %(n)d files", len(group)) % {"n": len(group)}


def record_rows(records) -> list:
    """A page's records list: records one per line, each folder upload as one FolderRow, oldest first."""
    singles, folders = split_folder_uploads(list(records))
    rows = singles + [FolderRow(folder_name(g), folder_status(g), sum(r.size for r in g),
                                min(r.created_at for r in g)) for g in folders.values()]
    return sorted(rows, key=lambda row: row.created_at)


def folder_json(batch, group: list, when) -> dict:
    """One line for a folder of DICOM files: its worst state and its counts."""
    status = folder_status(group)
    first = min(r.created_at for r in group)
    failed = sum(r.status == Attachment.Processing.FAILED for r in group)
    ready = sum(r.status == Attachment.Processing.READY for r in group)
    detail = ngettext("%(n)d image", "%(n)d images", ready) % {"n": ready}
    if failed:
        detail += " · " + ngettext("%(n)d file could not be read", "%(n)d files could not be read", failed) % {
            "n": failed}
    size = sum(r.size for r in group)
    return {
        "id": f"batch-{batch}", "name": folder_name(group), "kind": "dicom", "status": status,
        "status_label": str(Attachment.Processing(status).label), "error": "", "size": size,
        "size_label": filesizeformat(size), "detail": detail, "download_url": None, "thumbnail_url": None,
        "created_at": first.isoformat(), "created_label": when(first),
    }


@login_required
@require_GET
def files_json(request, pk):
    """The case's records with their processing state (the upload widget polls this)."""
    case = _case(request, pk, "records.list")
    records = selectors.records_for(request.user, case)
    thumbs = selectors.first_thumbnails(case)
    singles, folders = split_folder_uploads(records)
    with timezone.override(display_zone(request)):  # dates as the page around the list writes them
        rows = [record_json(case, r, thumbs, moment) for r in singles] + [
            folder_json(b, group, moment) for b, group in folders.items()]
    response = JsonResponse({"files": sorted(rows, key=lambda row: row["created_at"])})
    response["Cache-Control"] = NO_STORE
    return response


def upload_context(case) -> dict:
    """What the upload widget template needs."""
    return {
        "upload_endpoint": reverse("api:records-uploads", kwargs={"pk": case.pk}),
        "files_url": reverse("records:files", kwargs={"pk": case.pk}),
        "fallback_action": reverse("cases:upload", kwargs={"pk": case.pk}),
        "limits": {"max_study_bytes": settings.KONSIL_MAX_STUDY_BYTES,
                   "max_batch_files": settings.KONSIL_MAX_BATCH_FILES,
                   "chunk_bytes": settings.KONSIL_UPLOAD_CHUNK_BYTES},
    }


def viewer_context(case) -> dict:
    return {"imaging_url": reverse("records:imaging", kwargs={"pk": case.pk})}


@login_required
@require_GET
def imaging_json(request, pk):
    """The case's studies and series with frame URLs, and the on-screen header, for the viewer."""
    case = _case(request, pk, "imaging.index")
    studies = []
    for study in selectors.studies_for(request.user, case):
        series_list = []
        for series in study.series.all():
            frames = [reverse("records:frame", kwargs={"instance_id": inst.pk, "frame": f})
                      for inst in series.instances.all() if inst.has_pixels for f in range(inst.frames)]
            series_list.append({
                "id": str(series.pk), "uid": series.series_uid, "number": series.number,
                "modality": series.modality, "description": series.description, "body_part": series.body_part,
                "instance_count": series.instance_count, "frame_count": len(frames),
                "thumbnail_url": reverse("records:series-thumbnail", kwargs={"pk": series.pk})
                if series.thumbnail_id else None,
                "frames": frames,
            })
        studies.append({"id": str(study.pk), "uid": study.study_uid, "description": study.description,
                        "date": study.study_date.isoformat() if study.study_date else "",
                        "modality": study.modalities, "series": series_list})
    patient = case.identity  # the identity version the case was submitted with (cases.identity)
    response = JsonResponse({
        "header": {"patient": patient.full_name, "birth_date": patient.birth_date.isoformat(),
                   "sex": patient.get_sex_display()},
        "presets": [{"id": key, "label": str(label)} for key, label in PRESET_LABELS.items()],
        "studies": studies,
    })
    response["Cache-Control"] = NO_STORE
    return response


def _render_frame(attachment, **how) -> bytes:
    """A frame as PNG: from the kept parsed instance, or, for a DICOM file over KONSIL_RECORD_IN_MEMORY_BYTES, from
    its encrypted stream, reading only that frame (never kept: 48 of them would not fit in memory)."""
    if attachment.size > settings.KONSIL_RECORD_IN_MEMORY_BYTES:
        with streams.open_for(attachment) as stream:
            return render.render(dicom.read(stream), **how)
    return render.render(_dataset(attachment), **how)


_PARSED_LOCK = threading.Lock()
_PARSED: cachetools.LRUCache | None = None


def _kept() -> cachetools.LRUCache:
    """Parsed instances by (attachment, digest), least recently used first out, within KONSIL_RECORD_CACHE_BYTES
    of their file sizes per process: scrolling asks for the same few instances again and again."""
    global _PARSED
    if _PARSED is None or _PARSED.maxsize != settings.KONSIL_RECORD_CACHE_BYTES:
        _PARSED = cachetools.LRUCache(maxsize=settings.KONSIL_RECORD_CACHE_BYTES, getsizeof=lambda kept: kept[1])
    return _PARSED


def _dataset(attachment):
    key = (attachment.pk, attachment.sha256)
    with _PARSED_LOCK:
        kept = _kept().get(key)
    if kept is None:
        kept = (dicom.read(files.get_for(attachment)), max(1, attachment.size))
        with _PARSED_LOCK, contextlib.suppress(ValueError):  # larger than the whole budget: not kept
            _kept()[key] = kept
    return kept[0]


def _window(request):
    preset, wc, ww = request.GET.get("preset"), request.GET.get("wc"), request.GET.get("ww")
    if preset:
        if preset not in render.PRESETS:
            raise ValueError("preset")
        return preset
    if wc is not None or ww is not None:
        return render.parse_window(wc or "", ww or "")  # finite, width at least 1 (what render accepts)
    return None


def _size(request):
    raw = request.GET.get("size")
    if raw is None:
        return None
    size = int(raw)
    if not 16 <= size <= 4096:
        raise ValueError("size")
    return size


@login_required
@require_GET
def frame(request, instance_id, frame):
    """One frame rendered to PNG with the requested window (preset, or wc/ww), audited."""
    instance = selectors.visible_instances(request.user).filter(pk=instance_id).first()
    if instance is None:
        emit(actor=request.user, action="imaging.frame", object_type="records.instance",
             object_id=str(instance_id), outcome="denied")
        raise Http404
    try:
        window, size = _window(request), _size(request)
    except ValueError:
        return HttpResponseBadRequest(_("Give a known preset, or a window centre and a width of at least 1, and a "
                                        "size between 16 and 4096."))
    if frame >= instance.frames:
        emit(actor=request.user, action="imaging.frame", obj=instance,
             patient_id=instance.series.study.case.patient_id, outcome="denied", detail={"frame": frame})
        raise Http404
    try:
        png = _render_frame(instance.attachment, frame=frame, window=window, size=size)
    except RecordRejected as exc:
        return HttpResponse(exc.message, status=422, content_type="text/plain; charset=utf-8")
    emit(actor=request.user, action="imaging.frame", obj=instance,
         patient_id=instance.series.study.case.patient_id, detail={"frame": frame})
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = FRAME_CACHE
    return response


@login_required
@require_GET
def series_thumbnail(request, pk):
    series = selectors.visible_series(request.user).filter(pk=pk, thumbnail__isnull=False).first()
    if series is None:
        raise Http404
    emit(actor=request.user, action="imaging.thumbnail", obj=series, patient_id=series.study.case.patient_id)
    response = HttpResponse(files.get_for(series.thumbnail), content_type="image/png")
    response["Cache-Control"] = FRAME_CACHE
    return response


@login_required
@require_GET
def derivative(request, pk):
    """A page or photo thumbnail of a record."""
    item = selectors.visible_derivatives(request.user).filter(pk=pk, kind=Derivative.Kind.THUMBNAIL).first()
    if item is None:
        raise Http404
    emit(actor=request.user, action="record.preview", obj=item.attachment, patient_id=item.attachment.case.patient_id,
         detail={"page": item.index})
    response = HttpResponse(files.get_for(item), content_type="image/png")
    response["Cache-Control"] = FRAME_CACHE
    return response


TIMELINE_LIMIT = 60
RESULTS_LIMIT = 25


def latest_results(observations: list[dict], limit: int = RESULTS_LIMIT) -> list[dict]:
    """The newest value of each test (observations come newest first); earlier values are on the timeline."""
    seen, out = set(), []
    for item in observations:
        key = item.get("code") or item.get("display")
        if key in seen:
            continue
        seen.add(key)
        out.append(item)
    return out[:limit]


def clinical_context(case) -> list[dict]:
    """The FHIR clinical summaries of a case, shaped for the reviewer: problems, medications, results, timeline.

    Items carry `record_url`, the download of the record they came from, and their FHIR resource reference.
    """
    from .fhir import ClinicalSummary

    out = []
    for data in selectors.clinical_summaries(case):
        summary = ClinicalSummary.from_dict(data)
        record_url = reverse("cases:attachment", kwargs={"pk": case.pk, "att": data["attachment_id"]})
        out.append({
            "record_url": record_url, "patient": summary.patient or {},
            "active_conditions": summary.active_conditions, "medications": summary.current_medications,
            "allergies": summary.allergies, "observations": latest_results(summary.observations),
            "procedures": summary.procedures[:20], "imaging_studies": summary.imaging_studies[:10],
            "timeline": summary.timeline()[:TIMELINE_LIMIT], "counts": summary.counts,
        })
    return out
