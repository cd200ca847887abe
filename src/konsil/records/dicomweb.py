"""DICOMweb (PS3.18) over a case's studies: QIDO-RS search, WADO-RS retrieve, STOW-RS store.

The base URL of a case is /dicomweb/cases/<case id>/, so a viewer such as OHIF or a PACS connects with the
case as its whole world: every call is scoped by case access (session or API token) and audited.
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from pydicom.datadict import keyword_for_tag
from rest_framework import exceptions as drf_exceptions
from rest_framework.views import APIView

from konsil.audit.services import emit
from konsil.cases.selectors import get_case
from konsil.core import streams
from konsil.core.errors import DomainError, NotFound

from . import dicom, intake, multipart, pushed, render
from .body import BodyTooLarge, body_stream, request_body  # noqa: F401 (request_body: tests)
from .errors import RecordRejected
from .models import Instance, Series, Study
from .qmatch import INSTANCE_KEYS, SERIES_KEYS, STUDY_KEYS, Matcher, pn

DICOM_JSON = "application/dicom+json"
MAX_LIMIT = 1000
QIDO_TYPES = ("application/dicom+json", "application/json")
NATIVE_SYNTAXES = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99",
                             "1.2.840.10008.1.2.2"})
# the media type of a compressed frame, by transfer syntax (PS3.18 table 8.7.3-2)
FRAME_TYPES = {"1.2.840.10008.1.2.4.50": "image/jpeg", "1.2.840.10008.1.2.4.51": "image/jpeg",
               "1.2.840.10008.1.2.4.57": "image/jpeg", "1.2.840.10008.1.2.4.70": "image/jpeg",
               "1.2.840.10008.1.2.4.80": "image/jls", "1.2.840.10008.1.2.4.81": "image/jls",
               "1.2.840.10008.1.2.4.90": "image/jp2", "1.2.840.10008.1.2.4.91": "image/jp2",
               "1.2.840.10008.1.2.5": "image/dicom-rle"}


class NotAcceptable(DomainError):
    status = 406
    code = "not_acceptable"


def _media_ranges(request) -> list[tuple[str, dict[str, str]]]:
    """The Accept header as (type, parameters), in the client's order; no header accepts anything."""
    header = request.headers.get("Accept", "").strip()
    if not header:
        return [("*/*", {})]
    out = []
    for item in header.split(","):
        pieces = [p.strip() for p in item.split(";") if p.strip()]
        if not pieces:
            continue
        params = {}
        for piece in pieces[1:]:
            name, _eq, val = piece.partition("=")
            params[name.strip().lower()] = val.strip().strip('"')
        if params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        out.append((pieces[0].lower(), params))
    return out


def _check_accept(request, offered: tuple[str, ...]) -> str:
    """The first offered media type the client accepts; 406 (not acceptable) when none."""
    for media, _params in _media_ranges(request):
        for candidate in offered:
            if media in ("*/*", candidate) or (media.endswith("/*") and candidate.startswith(media[:-1])):
                return candidate
    raise NotAcceptable(_("None of the media types this resource offers is acceptable: %(types)s.")
                        % {"types": ", ".join(offered)}, field="Accept")


def _multipart_accept(request, part_types: tuple[str, ...], syntax: str) -> str | None:
    """Negotiate multipart/related: the part type accepted (with the stored transfer syntax, or `*`), else None."""
    for media, params in _media_ranges(request):
        if media in ("*/*", "multipart/*", "multipart/related"):
            wanted = params.get("type", "").lower() or part_types[0]
            if wanted not in part_types and wanted not in ("*/*", "*"):
                continue
            asked = params.get("transfer-syntax", "")
            if asked and asked != "*" and asked != syntax:
                continue  # Konsil sends what it holds; it does not transcode
            return part_types[0] if wanted in ("*/*", "*") else wanted
    return None


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
            return _json({"error": str(exc.message), **exc.as_dict()}, status=exc.status)
        if isinstance(exc, drf_exceptions.APIException):  # not signed in, throttled, method not allowed
            response = super().handle_exception(exc)
            payload = {"error": str(exc.detail), "code": exc.get_codes() if isinstance(exc.get_codes(), str)
                       else "error"}
            out = _json(payload, status=response.status_code)
            for header in ("WWW-Authenticate", "Allow", "Retry-After"):
                if header in response:
                    out[header] = response[header]
            return out
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

QUERY_PARAMS = frozenset({"limit", "offset", "includefield", "fuzzymatching"})


def _keyword(name: str) -> str:
    """A query key as its keyword: `00100020` and `PatientID` are the same key."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        return keyword_for_tag(int(name, 16)) or name.upper()
    return name


class Query:
    """A QIDO-RS request's matching keys, checked and normalised; keys the level cannot match are reported."""

    def __init__(self, request, supported: frozenset[str]):
        self.keys: dict[str, str] = {}
        self.unsupported: list[str] = []
        self.fuzzy = request.GET.get("fuzzymatching", "").lower() == "true"
        for name, value in request.GET.items():
            if name in QUERY_PARAMS or value == "":
                continue
            key = _keyword(name)
            if key in supported:
                self.keys[key] = value
            else:
                self.unsupported.append(name)
        self.match = Matcher(self.keys).check()  # a malformed date is refused before searching

    def warning(self, host: str) -> str | None:
        notes = []
        if self.fuzzy:
            notes.append(f'299 {host}: "The fuzzymatching parameter is not supported. Only literal matching has '
                         f'been performed."')
        if self.unsupported:
            notes.append(f'299 {host}: "The following attributes are not supported for matching and were ignored: '
                         f'{", ".join(sorted(self.unsupported))}"')
        return ", ".join(notes) or None


class QidoView(DicomWebView):
    """Shared QIDO-RS: Accept checked, matching keys read, results paged, a Warning for what was not matched."""

    action = "dicomweb.qido"
    supported = STUDY_KEYS

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method == "GET":
            _check_accept(request, QIDO_TYPES)
            self.query = Query(request, self.supported)

    def answer(self, items: list) -> JsonResponse:
        response = _json(self.paged(items))
        warning = self.query.warning(self.request.get_host())
        if warning:
            response["Warning"] = warning
        self.audit(self.case, level=type(self).__name__, results=len(items))
        return response

    def study_json(self, study: Study, series: list | None = None) -> dict:
        series = list(study.series.all()) if series is None else series
        return {
            "0020000D": _attr("UI", study.study_uid),
            "00080020": _attr("DA", study.study_date.strftime("%Y%m%d") if study.study_date else None),
            "00080050": _attr("SH", study.accession_number),
            "00081030": _attr("LO", study.description),
            "00080061": _attr("CS", *filter(None, study.modalities.split(","))),
            "00100010": _attr("PN", pn(self.case.identity)),
            "00100020": _attr("LO", self.case.reference),
            "00100030": _attr("DA", self.case.identity.birth_date.strftime("%Y%m%d")),
            "00201206": _attr("IS", len(series)),
            "00201208": _attr("IS", sum(s.instance_count for s in series)),
            "00081190": _attr("UR", f"{self.base()}studies/{study.study_uid}"),
        }

    def series_json(self, s: Series) -> dict:
        study_uid = s.study.study_uid
        return {
            "0020000E": _attr("UI", s.series_uid), "00080060": _attr("CS", s.modality),
            "00200011": _attr("IS", s.number), "0008103E": _attr("LO", s.description),
            "00180015": _attr("CS", s.body_part), "00201209": _attr("IS", s.instance_count),
            "0020000D": _attr("UI", study_uid),
            "00081190": _attr("UR", f"{self.base()}studies/{study_uid}/series/{s.series_uid}"),
        }

    def instance_json(self, i: Instance) -> dict:
        study_uid, series_uid = i.series.study.study_uid, i.series.series_uid
        return {
            "00080016": _attr("UI", i.sop_class_uid), "00080018": _attr("UI", i.sop_uid),
            "00200013": _attr("IS", i.number), "00280008": _attr("IS", i.frames),
            "00280010": _attr("US", i.rows), "00280011": _attr("US", i.columns),
            "00020010": _attr("UI", i.transfer_syntax_uid),
            "0020000D": _attr("UI", study_uid), "0020000E": _attr("UI", series_uid),
            "00081190": _attr("UR", f"{self.base()}studies/{study_uid}/series/{series_uid}/instances/{i.sop_uid}"),
        }

    def matching_studies(self, study_uid=None) -> list[Study]:
        if not self.query.match.patient(self.case):
            return []
        studies = self.studies()
        if study_uid:
            studies = studies.filter(study_uid=study_uid)
        return [s for s in studies if self.query.match.study(s)]

    def matching_series(self, studies: list[Study], series_uid=None) -> list[Series]:
        qs = Series.objects.filter(study__in=studies).select_related("study").order_by(
            "study__created_at", "number", "created_at")
        if series_uid:
            qs = qs.filter(series_uid=series_uid)
        return [s for s in qs if self.query.match.series(s)]

    def matching_instances(self, series: list[Series]) -> list[Instance]:
        qs = Instance.objects.filter(series__in=series).select_related("series__study").order_by(
            "series__study__created_at", "series__number", "series__created_at", "number", "sop_uid")
        return [i for i in qs if self.query.match.instance(i)]


class QidoStudies(QidoView):
    def get(self, request, case_id):
        studies = self.matching_studies()
        return self.answer([self.study_json(s) for s in studies])


class QidoSeries(QidoView):
    """/series (all the case's), and /studies/{uid}/series."""

    supported = STUDY_KEYS | SERIES_KEYS

    def get(self, request, case_id, study_uid=None):
        if study_uid:
            self.study(study_uid)
        series = self.matching_series(self.matching_studies(study_uid))
        return self.answer([self.series_json(s) for s in series])


class QidoInstances(QidoView):
    """/instances, /studies/{uid}/instances and /studies/{uid}/series/{uid}/instances."""

    supported = STUDY_KEYS | SERIES_KEYS | INSTANCE_KEYS

    def get(self, request, case_id, study_uid=None, series_uid=None):
        if study_uid:
            self.study(study_uid)
        if series_uid and not self.series_of(study_uid, series_uid).exists():
            raise NotFound(_("Series not found."))
        series = self.matching_series(self.matching_studies(study_uid), series_uid)
        return self.answer([self.instance_json(i) for i in self.matching_instances(series)])


# --- WADO-RS ------------------------------------------------------------------------------------------------


def _multipart(parts, boundary: str, media_type: str):
    for content in parts:
        yield (f"--{boundary}\r\nContent-Type: {media_type}\r\n\r\n").encode() + content + b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def _multipart_stream(records, boundary: str, media_type: str):
    """Like _multipart, each record decrypted a segment at a time as it is sent (a study is never read whole)."""
    for record in records:
        yield f"--{boundary}\r\nContent-Type: {media_type}\r\n\r\n".encode()
        yield from streams.iter_for(record, streams.SEGMENT)
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


class WadoInstances(DicomWebView):
    """Retrieve a study, a series or an instance as multipart/related; type="application/dicom"."""

    action = "dicomweb.wado"

    def get(self, request, case_id, study_uid, series_uid=None, sop_uid=None):
        instances = list(self.instances(study_uid, series_uid, sop_uid))
        if not instances:
            raise NotFound(_("Nothing to retrieve here."))
        syntaxes = {inst.transfer_syntax_uid for inst in instances}
        syntax = syntaxes.pop() if len(syntaxes) == 1 else "*"
        if _multipart_accept(request, ("application/dicom",), syntax) is None:
            raise NotAcceptable(_('Instances are sent as multipart/related; type="application/dicom", in the '
                                  'transfer syntax they were stored in.'), field="Accept")
        for inst in instances:
            self.audit(inst)
        boundary = secrets.token_hex(16)
        response = StreamingHttpResponse(
            _multipart_stream([inst.attachment for inst in instances], boundary, "application/dicom"),
            content_type=f'multipart/related; type="application/dicom"; boundary={boundary}')
        response["Cache-Control"] = "private, no-store"
        return response


def _frames(ds, numbers: list[int]) -> list[bytes]:
    """The raw bytes of frames (1-based): native pixel data cut in frame lengths, or encapsulated fragments; from
    the stream when the pixel data is still in it (dicom.read from a stream), reading only those frames."""
    from pydicom.encaps import generate_frames, get_frame
    from pydicom.pixels.utils import get_expected_length

    count = dicom.frame_count(ds)
    if any(n < 1 or n > count for n in numbers):
        raise NotFound(_("Frame not found."))
    encapsulated = ds.file_meta.TransferSyntaxUID.is_encapsulated
    raw = dicom.deferred_pixels(ds, 0x7FE00010)
    if raw is not None:
        stream, out = ds.konsil_stream, []
        length = 0 if encapsulated else get_expected_length(ds, "bytes") // count
        for n in numbers:
            stream.seek(raw.value_tell + (0 if encapsulated else (n - 1) * length))
            out.append(get_frame(stream, n - 1, number_of_frames=count) if encapsulated else stream.read(length))
        return out
    data = ds.PixelData
    if encapsulated:
        frames = list(generate_frames(data, number_of_frames=count))
        return [frames[n - 1] for n in numbers]
    length = get_expected_length(ds, "bytes") // count
    return [data[(n - 1) * length: n * length] for n in numbers]


class WadoFrames(DicomWebView):
    """/frames/{list}: raw frames as multipart/related, octet-stream for native pixels, the compressed
    bitstream's own media type (image/jpeg, image/jp2, ...) for encapsulated ones; 406 when that cannot be met."""

    action = "dicomweb.frames"

    def get(self, request, case_id, study_uid, series_uid, sop_uid, frames):
        inst = self.instances(study_uid, series_uid, sop_uid).first()
        if inst is None or not inst.has_pixels:
            raise NotFound(_("Frame not found."))
        try:
            numbers = [int(n) for n in frames.split(",") if n.strip()]
        except ValueError:
            raise DomainError(_("Frames are numbers from 1, separated by commas."), field="frames") from None
        if not numbers:
            raise DomainError(_("Frames are numbers from 1, separated by commas."), field="frames")
        syntax = inst.transfer_syntax_uid
        native = syntax in NATIVE_SYNTAXES
        part_type = "application/octet-stream" if native else FRAME_TYPES.get(syntax, "application/octet-stream")
        offered = (part_type,) if native else (part_type, "application/octet-stream")
        chosen = _multipart_accept(request, offered, syntax if not native else "1.2.840.10008.1.2.1")
        transcoding = chosen == "application/octet-stream" and part_type != chosen and not self._any_syntax(request)
        if chosen is None or transcoding:
            raise NotAcceptable(_("The frames are held as %(type)s (transfer syntax %(syntax)s); Konsil does "
                                      "not transcode them.") % {"type": part_type, "syntax": syntax},
                                    field="Accept")
        with streams.open_for(inst.attachment) as stream:  # only the asked frames are read and decrypted
            content = _frames(dicom.read(stream), numbers)
        self.audit(inst, frames=numbers[:50])
        boundary = secrets.token_hex(16)
        ts = f"; transfer-syntax={syntax}" if not native else ""
        response = HttpResponse(b"".join(_multipart(content, boundary, f"{part_type}{ts}")),
                                content_type=f'multipart/related; type="{part_type}"; boundary={boundary}')
        response["Cache-Control"] = "private, no-store"
        return response

    @staticmethod
    def _any_syntax(request) -> bool:
        return any(params.get("transfer-syntax") == "*" for _m, params in _media_ranges(request))


class WadoBulkdata(DicomWebView):
    """A BulkDataURI: one binary element of an instance (by tag), as multipart/related octet-stream."""

    action = "dicomweb.bulkdata"

    def get(self, request, case_id, study_uid, series_uid, sop_uid, tag):
        inst = self.instances(study_uid, series_uid, sop_uid).first()
        if inst is None or not re.fullmatch(r"[0-9A-Fa-f]{8}", tag):
            raise NotFound(_("Nothing to retrieve here."))
        if _multipart_accept(request, ("application/octet-stream",), "*") is None:
            raise NotAcceptable(_('Bulk data is sent as multipart/related; type="application/octet-stream".'),
                                field="Accept")
        stream = streams.open_for(inst.attachment)  # a large element is sent from the stream, never read whole
        try:
            pieces = dicom.binary_element(dicom.read(stream), int(tag, 16))
            if pieces is None:
                raise NotFound(_("Nothing to retrieve here."))
            self.audit(inst, bulkdata=tag.upper())
        except BaseException:
            stream.close()
            raise
        boundary = secrets.token_hex(16)
        response = StreamingHttpResponse(_one_part(stream, pieces, boundary, "application/octet-stream"),
                                         content_type=f'multipart/related; type="application/octet-stream"; '
                                                      f'boundary={boundary}')
        response["Cache-Control"] = "private, no-store"
        return response


def _one_part(stream, pieces, boundary: str, media_type: str):
    """One multipart part sent as its pieces come; the stream they are read from is closed at the end."""
    with stream:
        yield f"--{boundary}\r\nContent-Type: {media_type}\r\n\r\n".encode()
        yield from pieces
        yield f"\r\n--{boundary}--\r\n".encode()


class WadoMetadata(DicomWebView):
    action = "dicomweb.metadata"

    def get(self, request, case_id, study_uid, series_uid=None, sop_uid=None):
        _check_accept(request, QIDO_TYPES)
        instances = list(self.instances(study_uid, series_uid, sop_uid))
        if not instances:
            raise NotFound(_("Nothing to retrieve here."))
        out = []
        for inst in instances:
            self.audit(inst)
            # read with its pixels, so that Pixel Data is listed (as a BulkDataURI, never inline)
            url = f"{self.base()}studies/{study_uid}/series/{inst.series.series_uid}/instances/{inst.sop_uid}"
            with streams.open_for(inst.attachment) as stream:  # the pixel data stays in the stream
                out.append(dicom.to_dicom_json(dicom.read(stream),
                                               lambda elem, url=url: f"{url}/bulkdata/{elem.tag:08X}"))
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
            with streams.open_for(inst.attachment) as stream:  # only that frame is read and decrypted
                image = render.render(dicom.read(stream), frame=int(frame) - 1, window=window, fmt=fmt)
        except RecordRejected as exc:
            return JsonResponse({"error": exc.message, "code": exc.code}, status=406)
        self.audit(inst, frame=int(frame))
        return HttpResponse(image, content_type=f"image/{fmt}")


# --- STOW-RS ------------------------------------------------------------------------------------------------


def _too_large() -> JsonResponse:
    return _json({"error": str(_("The upload is larger than the limit.")), "code": "too_large"}, status=413)


class Studies(QidoStudies):
    """GET searches the case's studies (QIDO-RS); POST stores instances (STOW-RS)."""

    @property
    def action(self) -> str:
        return "dicomweb.stow" if self.request.method == "POST" else "dicomweb.qido"

    def post(self, request, case_id, study_uid=None):
        """STOW-RS, read as a stream: each application/dicom part is stored encrypted as it arrives, then checked
        and indexed on its own; the body is never held whole (a study may be gigabytes)."""
        intake.check_can_add(request.user, self.case)
        boundary = multipart.boundary_of(request.META.get("CONTENT_TYPE", ""))
        try:
            reader = multipart.MultipartReader(body_stream(request._request, settings.KONSIL_MAX_STUDY_BYTES),
                                               boundary)
        except BodyTooLarge:
            return _too_large()
        stored, failed, error = [], [], None
        try:
            for part in reader.parts():
                if part.content_type != "application/dicom":
                    continue  # skipped unread (metadata + bulk data requests are not accepted)
                try:
                    info, record = pushed.receive_stream(actor=request.user, case=self.case, chunks=part.chunks(),
                                                         source="stow", study_uid=study_uid)
                except RecordRejected as exc:
                    failed.append((getattr(exc, "uid", None), exc))
                    continue
                stored.append((info, record))
        except DomainError as exc:  # the body broke off, is malformed or too large: what came whole is kept
            error = exc
        self.audit(self.case, stored=len(stored), failed=len(failed), **({"error": error.code} if error else {}))
        if isinstance(error, BodyTooLarge):
            return _too_large()
        if error is not None:
            raise error
        if not stored and not failed:
            raise DomainError(_("The request holds no application/dicom part."), field="body", code="no_instances")
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


class Root(DicomWebView):
    """The service root: points at the studies resource."""

    def get(self, request, case_id):
        return _json({"studies": f"{self.base()}studies"})


class NotFoundView(DicomWebView):
    """Any other path under a case's DICOMweb root: a JSON 404, never an HTML page."""

    def get(self, request, case_id, rest=""):
        raise NotFound(_("There is no DICOMweb resource at this path."))

    post = put = delete = get
