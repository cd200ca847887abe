"""Request bodies sent with a Content-Length or chunked (Transfer-Encoding: chunked), read the same way for STOW-RS
and tus PATCH: Orthanc, curl and browsers' streaming uploads send chunked bodies without a length.

`body_stream` reads a body as a stream (STOW-RS: memory bounded by what the caller holds, not the body);
`request_body` reads a small body whole (a tus chunk).
"""

from __future__ import annotations

from django.core.handlers.wsgi import LimitedStream
from django.utils.translation import gettext as _

from konsil.core.errors import DomainError


class BodyTooLarge(DomainError):
    status = 413
    code = "too_large"


def body_stream(request, limit: int):
    """A reader of the request body (`read(n)`), whether sent with a Content-Length or chunked; it raises
    BodyTooLarge once more than `limit` bytes have come, and DomainError when a chunked body is malformed.

    Django reads a body by its Content-Length and sees a chunked one as empty. A server that decodes chunked
    bodies itself (gunicorn) says so with `wsgi.input_terminated`: its input is read to the end. Otherwise (the
    development server, wsgiref) the input is the raw connection and the chunks are decoded here.
    """
    meta = request.META
    if "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise DomainError(_("The Content-Length header is not a number."), field="body") from None
        if length > limit:
            raise BodyTooLarge(_("The upload is larger than the limit."), field="body")
        return _Counted(request, limit)
    stream = meta["wsgi.input"]
    if meta.get("wsgi.input_terminated"):
        return _Counted(stream, limit)
    return _Counted(_Dechunked(_raw(stream)), limit)


def request_body(request, limit: int) -> bytes | None:
    """The whole request body, whether sent with a Content-Length or chunked; None when it exceeds `limit`."""
    try:
        return body_stream(request, limit).read()
    except BodyTooLarge:
        return None


class _Counted:
    """A reader that refuses to go past `limit` bytes."""

    def __init__(self, stream, limit: int):
        self._stream, self._limit, self.count = stream, limit, 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            out = bytearray()
            while piece := self.read(1024 * 1024):
                out += piece
            return bytes(out)
        if self.count >= self._limit:  # all that is allowed has come: one byte more is too much
            if size and self._stream.read(1):
                raise BodyTooLarge(_("The upload is larger than the limit."), field="body")
            return b""
        data = self._stream.read(min(size, self._limit - self.count))
        self.count += len(data)
        return data


class _Raw:
    """The connection under the development server's LimitedStream, which holds a chunked body at 0 bytes."""

    def __init__(self, limited):
        self.read, self.readline = limited._read, limited._readline


def _raw(stream):
    return _Raw(stream) if isinstance(stream, LimitedStream) and hasattr(stream, "_readline") else stream


class _Dechunked:
    """Decode a chunked body (RFC 9112 section 7.1) from a raw stream as it is read, trailers skipped."""

    def __init__(self, stream):
        self._stream, self._left, self._done = stream, 0, False

    def _next_chunk(self) -> None:
        line = self._stream.readline(1024)
        if not line:
            raise DomainError(_("The chunked request body ended early."), field="body")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise DomainError(_("The chunked request body is malformed."), field="body") from None
        if size < 0:
            raise DomainError(_("The chunked request body is malformed."), field="body")
        if size == 0:
            while self._stream.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailer fields
            self._done = True
        self._left = size

    def read(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size and not self._done:
            if not self._left:
                self._next_chunk()
                continue
            piece = self._stream.read(min(self._left, size - len(out)))
            if not piece:
                raise DomainError(_("The chunked request body ended early."), field="body")
            out += piece
            self._left -= len(piece)
            if not self._left:
                self._stream.readline(1024)  # the CRLF after the chunk
        return bytes(out)
