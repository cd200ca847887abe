"""Resumable uploads over the tus protocol 1.0.0 (core, creation, termination), for browsers and API clients.

Hand-written because the protocol is small and the maintained Django servers for it store chunks in the clear;
here every chunk is encrypted before it touches storage (see intake.append_chunk).
"""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from konsil.cases.selectors import get_case
from konsil.core.errors import DomainError, NotFound, ValidationFailed

from . import intake
from .body import request_body
from .models import Upload, UploadStatus

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination"


def _headers(response, **extra):
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    for key, value in extra.items():
        response[key.replace("_", "-")] = str(value)
    return response


def _error(exc: DomainError) -> Response:
    status = 413 if exc.code == "too_large" else exc.status
    return _headers(Response({"error": str(exc.message), **exc.as_dict()}, status=status))


def parse_metadata(header: str) -> dict[str, str]:
    """`Upload-Metadata: key base64value,key2 base64value2` as a dict (values decoded as UTF-8)."""
    out = {}
    for pair in filter(None, (p.strip() for p in (header or "").split(","))):
        key, _sep, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise ValidationFailed(_("The upload metadata is not valid."), field="metadata") from None
    return out


def _int_header(request, name: str, field: str) -> int:
    try:
        value = int(request.headers.get(name, ""))
    except ValueError:
        raise ValidationFailed(_("The %(header)s header is missing or not a number.") % {"header": name},
                               field=field) from None
    if value < 0:
        raise ValidationFailed(_("The %(header)s header is missing or not a number.") % {"header": name},
                               field=field)
    return value


def _content_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _is_chunk(request) -> bool:
    """tus chunks are application/offset+octet-stream; a bodiless PATCH may come without a type."""
    media_type = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    return media_type == OffsetOctetStreamParser.media_type or (
        not media_type and not chunked and not _content_length(request))


def _read_chunk(request) -> bytes:
    """The chunk from the raw stream (not `request.body`, which stops at DATA_UPLOAD_MAX_MEMORY_SIZE), sent with
    a Content-Length or chunked; at most twice the advertised chunk size is held."""
    chunk = request_body(request._request, settings.KONSIL_UPLOAD_CHUNK_BYTES * 2)
    if chunk is None:
        raise ValidationFailed(_("The chunk is too large."), field="file", code="too_large")
    return chunk


class OffsetOctetStreamParser(BaseParser):
    media_type = "application/offset+octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream else b""


class TusView(APIView):
    """Refuses clients that speak another version of the protocol (412, with the versions spoken here)."""

    def dispatch(self, request, *args, **kwargs):
        version = request.headers.get("Tus-Resumable")
        if request.method != "OPTIONS" and version and version != TUS_VERSION:
            return _headers(HttpResponse(status=412), Tus_Version=TUS_VERSION)
        return super().dispatch(request, *args, **kwargs)


class UploadCreateView(TusView):
    """POST creates an upload for a case (`Upload-Length`, `Upload-Metadata`: filename, batch, relativepath)."""

    @extend_schema(exclude=True)
    def options(self, request, *args, **kwargs):
        return _headers(Response(status=204), Tus_Version=TUS_VERSION, Tus_Extension=EXTENSIONS,
                        Tus_Max_Size=settings.KONSIL_MAX_STUDY_BYTES)

    @extend_schema(summary="Open a resumable upload (tus creation)", request=None, responses={
        201: OpenApiResponse(description="Created; Location is the upload's URL"),
        400: OpenApiResponse(description="Invalid length or metadata (JSON)"),
        409: OpenApiResponse(description="Case closed"),
        413: OpenApiResponse(description="Larger than KONSIL_MAX_STUDY_BYTES")})
    def post(self, request, pk):
        try:
            case = get_case(request.user, pk, action="upload.create_page", audit=False)
            meta = parse_metadata(request.headers.get("Upload-Metadata", ""))
            upload = intake.create_upload(
                actor=request.user, case=case, length=_int_header(request, "Upload-Length", "length"),
                filename=meta.get("filename", ""), relative_path=meta.get("relativepath", ""),
                batch=meta.get("batch") or None)
        except DomainError as exc:
            return _error(exc)
        location = request.build_absolute_uri(reverse("api:records-upload", kwargs={"upload_id": upload.pk}))
        return _headers(Response(status=201), Location=location, Upload_Offset=0)


class UploadView(TusView):
    """HEAD tells the offset to resume from, PATCH appends a chunk, DELETE cancels."""

    parser_classes = [OffsetOctetStreamParser]

    def _upload(self, request, upload_id) -> Upload:
        upload = Upload.objects.select_related("case").filter(pk=upload_id, created_by=request.user).first()
        if upload is None or upload.status == UploadStatus.CANCELLED:
            raise NotFound(_("Upload not found."))
        return upload

    @extend_schema(summary="The offset to resume from (tus)", request=None,
                   responses={200: OpenApiResponse(description="Upload-Offset header")})
    def head(self, request, upload_id):
        try:
            upload = self._upload(request, upload_id)
        except DomainError as exc:
            return _headers(Response(status=exc.status))
        return _headers(Response(status=200), Upload_Offset=upload.offset, Upload_Length=upload.length)

    @extend_schema(summary="Append a chunk (tus)", request={"application/offset+octet-stream": bytes}, responses={
        204: OpenApiResponse(description="Stored; Upload-Offset is the new offset"),
        409: OpenApiResponse(description="Offset mismatch, duplicate file or finished upload (JSON)"),
        415: OpenApiResponse(description="Wrong content type")})
    def patch(self, request, upload_id):
        if not _is_chunk(request):
            return _headers(Response({"error": _("Send the chunk as application/offset+octet-stream."),
                                      "code": "unsupported_media_type"}, status=415))
        try:
            upload = self._upload(request, upload_id)
            offset = _int_header(request, "Upload-Offset", "offset")
            chunk = _read_chunk(request)
            upload = intake.append_chunk(actor=request.user, upload=upload, offset=offset, chunk=chunk)
        except DomainError as exc:
            return _error(exc)
        extra = {"Konsil_Record": str(upload.attachment_id)} if upload.attachment_id else {}
        return _headers(Response(status=204), Upload_Offset=upload.offset, **extra)

    @extend_schema(summary="Cancel an upload (tus termination)", request=None,
                   responses={204: OpenApiResponse(description="Cancelled; received chunks deleted")})
    def delete(self, request, upload_id):
        try:
            upload = self._upload(request, upload_id)
        except DomainError as exc:
            return _error(exc)
        if upload.status == UploadStatus.RECEIVING:
            intake.cancel_upload(actor=request.user, upload=upload)
        return _headers(Response(status=204))
