"""DICOMweb (PS3.18) over a case's studies: QIDO-RS search, WADO-RS retrieve, STOW-RS store.

The base URL of a case is /dicomweb/cases/<case id>/, so a viewer such as OHIF or a PACS connects with the
case as its whole world: every call is scoped by case access (session or API token) and audited.
"""

from __future__ import annotations

import email.parser
import email.policy
import secrets

from django.conf import settings
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework.views import APIView

from konsil.audit.services import emit
from konsil.cases.selectors import get_case
from konsil.core import files
from konsil.core.errors import DomainError, NotFound

from . import dicom, intake, render
from .errors import RecordRejected
from .models import Instance, Series, Study

DICOM_JSON = "application/dicom+json"
MAX_LIMIT = 1000


def _pn(patient) -> str:
    return f"{patient.family_name}^{patient.given_name}"


def _attr(vr: str, *values) -> dict:
    values = [v for v in values if v not in (None, "")]
    if not values:
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [{"Alphabetic": v} for v in values]}
    return {"vr": vr, "Value": list(values)}


def _json(payload, status=200) -> JsonResponse:
    return JsonResponse(payload, status=status, safe=False, content_type=DICOM_JSON)


class DicomWebView(APIView):
    """Shared: the case from the URL (scoped, audited), errors as DICOM-flavoured JSON."""

    action = "dicomweb.read"
    schema = None  # DICOMweb is specified by DICOM PS3.18, not by this API's OpenAPI document

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.case = get_case(request.user, kwargs["case_id"], action=self.action)

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)  # DICOM media types are answered directly

    def handle_exception(self, exc):
        if isinstance(exc, DomainError):
            return JsonResponse({"error": str(exc.message), **exc.as_dict()}, status=exc.status)
        return super().handle_exception(exc)

    def base(self) -> str:
        return self.request.build_absolute_uri(reverse("dicomweb:root", kwargs={"case_id": self.case.pk}))

    def studies(self):
        return Study.objects.filter(case=self.case)

    def study(self, uid) -> Study:
        study = self.studies().filter(study_uid=uid).first()
        if study is None:
            raise NotFound(_("Study not found."))
        return study

    def series_of(self, study_uid, series_uid=None):
        qs = Series.objects.filter(study__case=self.case, study__study_uid=study_uid).select_related("study")
        return qs.filter(series_uid=series_uid) if series_uid else qs

    def instances(self, study_uid, series_uid=None, sop_uid=None):
        qs = Instance.objects.filter(series__study__case=self.case, series__study__study_uid=study_uid)
        if series_uid:
            qs = qs.filter(series__series_uid=series_uid)
        if sop_uid:
            qs = qs.filter(sop_uid=sop_uid)
        return qs.select_related("series__study", "attachment")

    def paged(self, items: list) -> list:
        try:
            offset = max(0, int(self.request.GET.get("offset", 0)))
            limit = min(MAX_LIMIT, max(1, int(self.request.GET.get("limit", MAX_LIMIT))))
        except ValueError:
            raise DomainError(_("limit and offset must be whole numbers."), field="limit") from None
        return items[offset: offset + limit]

    def audit(self, obj, **detail) -> None:
        emit(actor=self.request.user, action=self.action, obj=obj, patient_id=self.case.patient_id, detail=detail)


# --- QIDO-RS ------------------------------------------------------------------------------------------------


class QidoStudies(DicomWebView):
    def get(self, request, case_id):
        q = request.GET
        studies = self.studies()
        if q.get("StudyInstanceUID") or q.get("0020000D"):
            studies = studies.filter(study_uid__in=(q.get("StudyInstanceUID") or q.get("0020000D")).split(","))
        if q.get("ModalitiesInStudy") or q.get("00080061"):
            studies = studies.filter(modalities__contains=q.get("ModalitiesInStudy") or q.get("00080061"))
        items = [self.study_json(s) for s in studies.prefetch_related("series")]
        return _json(self.paged(items))

    def study_json(self, study: Study) -> dict:
        series = list(study.series.all())
        return {
            "0020000D": _attr("UI", study.study_uid),
            "00080020": _attr("DA", study.study_date.strftime("%Y%m%d") if study.study_date else None),
            "00081030": _attr("LO", study.description),
            "00080061": _attr("CS", *filter(None, study.modalities.split(","))),
            "00100010": _attr("PN", _pn(self.case.identity)),
            "00100020": _attr("LO", self.case.reference),
            "00100030": _attr("DA", self.case.identity.birth_date.strftime("%Y%m%d")),
            "00201206": _attr("IS", len(series)),
            "00201208": _attr("IS", sum(s.instance_count for s in series)),
            "00081190": _attr("UR", f"{self.base()}studies/{study.study_uid}"),
        }


class QidoSeries(DicomWebView):
    action = "dicomweb.qido"

    def get(self, request, case_id, study_uid):
        self.study(study_uid)
        series = self.series_of(study_uid)
        if request.GET.get("Modality") or request.GET.get("00080060"):
            series = series.filter(modality=request.GET.get("Modality") or request.GET.get("00080060"))
        return _json(self.paged([{
            "0020000E": _attr("UI", s.series_uid), "00080060": _attr("CS", s.modality),
            "00200011": _attr("IS", s.number), "0008103E": _attr("LO", s.description),
            "00180015": _attr("CS", s.body_part), "00201209": _attr("IS", s.instance_count),
            "0020000D": _attr("UI", study_uid),
            "00081190": _attr("UR", f"{self.base()}studies/{study_uid}/series/{s.series_uid}"),
        } for s in series]))


class QidoInstances(DicomWebView):
    action = "dicomweb.qido"

    def get(self, request, case_id, study_uid, series_uid):
        if not self.series_of(study_uid, series_uid).exists():
            raise NotFound(_("Series not found."))
        return _json(self.paged([{
            "00080016": _attr("UI", i.sop_class_uid), "00080018": _attr("UI", i.sop_uid),
            "00200013": _attr("IS", i.number), "00280008": _attr("IS", i.frames),
            "00280010": _attr("US", i.rows), "00280011": _attr("US", i.columns),
            "0020000D": _attr("UI", study_uid), "0020000E": _attr("UI", series_uid),
            "00081190": _attr("UR", f"{self.base()}studies/{study_uid}/series/{series_uid}/instances/{i.sop_uid}"),
        } for i in self.instances(study_uid, series_uid)]))


# --- WADO-RS ------------------------------------------------------------------------------------------------


def _multipart(parts, boundary: str, media_type: str):
    for content in parts:
        yield (f"--{boundary}\r\nContent-Type: {media_type}\r\n\r\n").encode() + content + b"\r\n"
    yield f"--{boundary}--\r\n".encode()


class WadoInstances(DicomWebView):
    """Retrieve a study, a series or an instance as multipart/related; type="application/dicom"."""

    action = "dicomweb.wado"

    def get(self, request, case_id, study_uid, series_uid=None, sop_uid=None):
        instances = list(self.instances(study_uid, series_uid, sop_uid))
        if not instances:
            raise NotFound(_("Nothing to retrieve here."))
        for inst in instances:
            self.audit(inst)
        boundary = secrets.token_hex(16)
        parts = (files.get_for(inst.attachment) for inst in instances)
        response = StreamingHttpResponse(
            _multipart(parts, boundary, "application/dicom"),
            content_type=f'multipart/related; type="application/dicom"; boundary={boundary}')
        response["Cache-Control"] = "private, no-store"
        return response


class WadoMetadata(DicomWebView):
    action = "dicomweb.metadata"

    def get(self, request, case_id, study_uid, series_uid=None, sop_uid=None):
        instances = list(self.instances(study_uid, series_uid, sop_uid))
        if not instances:
            raise NotFound(_("Nothing to retrieve here."))
        out = []
        for inst in instances:
            self.audit(inst)
            # read with its pixels, so that Pixel Data is listed (as a BulkDataURI, never inline)
            ds = dicom.read(files.get_for(inst.attachment))
            url = f"{self.base()}studies/{study_uid}/series/{inst.series.series_uid}/instances/{inst.sop_uid}"
            out.append(dicom.to_dicom_json(ds, lambda elem, url=url: url))
        return _json(out)


class WadoRendered(DicomWebView):
    """A rendered frame (1-based in DICOMweb) or the first frame of an instance, as PNG or JPEG."""

    action = "dicomweb.rendered"

    def get(self, request, case_id, study_uid, series_uid, sop_uid, frame=1):
        inst = self.instances(study_uid, series_uid, sop_uid).first()
        if inst is None or not 1 <= int(frame) <= inst.frames:
            raise NotFound(_("Frame not found."))
        accept = request.headers.get("Accept", "")
        fmt = "jpeg" if "image/jpeg" in accept and "image/png" not in accept else "png"
        window = None
        if request.GET.get("window"):  # PS3.18: window=center,width,function
            try:
                center, width = request.GET["window"].split(",")[:2]
                window = render.parse_window(center, width)
            except ValueError:
                raise DomainError(_("window must be centre,width with finite numbers and a width of at least 1."),
                                  field="window") from None
        try:
            image = render.render(dicom.read(files.get_for(inst.attachment)), frame=int(frame) - 1,
                                  window=window, fmt=fmt)
        except RecordRejected as exc:
            return JsonResponse({"error": exc.message, "code": exc.code}, status=406)
        self.audit(inst, frame=int(frame))
        return HttpResponse(image, content_type=f"image/{fmt}")


# --- STOW-RS ------------------------------------------------------------------------------------------------


def dicom_parts(content_type: str, body: bytes) -> list[bytes]:
    """The application/dicom parts of a multipart/related body (RFC 2387), parsed by the standard library."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        raise DomainError(_("Send DICOM instances as multipart/related; type=\"application/dicom\"."),
                          field="body")
    parts = [part.get_payload(decode=True) or b"" for part in message.iter_parts()
             if part.get_content_type() == "application/dicom"]
    if not parts:
        raise DomainError(_("The request holds no application/dicom part."), field="body", code="no_instances")
    return parts


class Studies(QidoStudies):
    """GET searches the case's studies (QIDO-RS); POST stores instances (STOW-RS)."""

    @property
    def action(self) -> str:
        return "dicomweb.stow" if self.request.method == "POST" else "dicomweb.qido"

    def post(self, request, case_id, study_uid=None):
        intake.check_can_add(request.user, self.case)
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            raise DomainError(_("The Content-Length header is not a number."), field="body") from None
        if length > settings.KONSIL_MAX_STUDY_BYTES:
            return JsonResponse({"error": str(_("The upload is larger than the limit."))}, status=413)
        parts = dicom_parts(request.META.get("CONTENT_TYPE", ""),
                            request._request.read(settings.KONSIL_MAX_STUDY_BYTES))
        stored, failed = [], []
        for content in parts:
            try:
                info = dicom.index(dicom.read(content))  # with its pixels: a cut image is refused here
                if study_uid and info.study_uid != study_uid:
                    raise RecordRejected("dicom_corrupt", "study uid differs from the URL")
                if Instance.objects.filter(series__study__case=self.case, sop_uid=info.sop_uid).exists():
                    raise RecordRejected("duplicate", "instance already indexed")
                record = intake.store_record(actor=request.user, case=self.case, content=content,
                                             filename=f"{info.sop_uid}.dcm", content_type="application/dicom")
            except (RecordRejected, DomainError) as exc:
                failed.append((ds_uid(content), exc))
                continue
            stored.append((info, record))
        self.audit(self.case, stored=len(stored), failed=len(failed))
        return _json(self.stow_response(stored, failed), status=200 if not failed else 202 if stored else 409)

    def stow_response(self, stored, failed) -> dict:
        out = {"00081190": _attr("UR", f"{self.base()}studies")}
        if stored:
            out["00081199"] = {"vr": "SQ", "Value": [{
                "00081150": _attr("UI", info.sop_class_uid), "00081155": _attr("UI", info.sop_uid),
                "00081190": _attr("UR", f"{self.base()}studies/{info.study_uid}/series/{info.series_uid}/instances/"
                                        f"{info.sop_uid}"),
            } for info, _record in stored]}
        if failed:
            out["00081198"] = {"vr": "SQ", "Value": [{
                "00081155": _attr("UI", uid), "00081197": _attr("US", 0xA900 if getattr(exc, "code", "") ==
                                                                 "duplicate" else 0xC000),
            } for uid, exc in failed]}
        return out


class StudyResource(WadoInstances):
    """GET retrieves a study (WADO-RS); POST stores instances into it (STOW-RS), refusing other studies'."""

    @property
    def action(self) -> str:
        return "dicomweb.stow" if self.request.method == "POST" else "dicomweb.wado"

    post = Studies.post
    stow_response = Studies.stow_response


def ds_uid(content: bytes) -> str | None:
    try:
        return str(dicom.read(content, pixels=False).SOPInstanceUID)
    except Exception:  # the part is not DICOM at all: no UID to report
        return None


class Root(DicomWebView):
    """The service root: points at the studies resource."""

    def get(self, request, case_id):
        return _json({"studies": f"{self.base()}studies"})
