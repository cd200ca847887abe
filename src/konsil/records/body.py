"""Request bodies sent with a Content-Length or chunked (Transfer-Encoding: chunked), read the same way for STOW-RS
and tus PATCH: Orthanc, curl and browsers' streaming uploads send chunked bodies without a length."""

from __future__ import annotations

from django.core.handlers.wsgi import LimitedStream
from django.utils.translation import gettext as _

from konsil.core.errors import DomainError


def request_body(request, limit: int) -> bytes | None:
    """The request body, whether sent with a Content-Length or chunked; None when it exceeds `limit`.

    Django reads a body by its Content-Length and sees a chunked one as empty. A server that decodes chunked
    bodies itself (gunicorn) says so with `wsgi.input_terminated`: its input is read to the end. Otherwise (the
    development server, wsgiref) the input is the raw connection and the chunks are decoded here.
    """
    meta = request.META
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked:
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise DomainError(_("The Content-Length header is not a number."), field="body") from None
        if length > limit:
            return None
        body = request.read(limit + 1)
        return None if len(body) > limit else body
    stream = meta["wsgi.input"]
    if meta.get("wsgi.input_terminated"):
        body = stream.read(limit + 1)
        return None if len(body) > limit else body
    return _dechunk(_raw(stream), limit)


class _Raw:
    """The connection under the development server's LimitedStream, which holds a chunked body at 0 bytes."""

    def __init__(self, limited):
        self.read, self.readline = limited._read, limited._readline


def _raw(stream):
    return _Raw(stream) if isinstance(stream, LimitedStream) and hasattr(stream, "_readline") else stream


def _dechunk(stream, limit: int) -> bytes | None:
    """Decode a chunked body (RFC 9112 section 7.1) from a raw stream, trailers skipped."""
    out = bytearray()
    while True:
        line = stream.readline(1024)
        if not line:
            raise DomainError(_("The chunked request body ended early."), field="body")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise DomainError(_("The chunked request body is malformed."), field="body") from None
        if size == 0:
            while stream.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailer fields
            return bytes(out)
        if len(out) + size > limit:
            return None
        chunk = stream.read(size)
        if len(chunk) != size:
            raise DomainError(_("The chunked request body ended early."), field="body")
        out += chunk
        stream.readline(1024)  # the CRLF after the chunk
