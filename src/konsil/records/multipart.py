"""A multipart/related body (RFC 2387, RFC 2046 section 5.1) read as a stream: one part at a time, each part's
content handed on in pieces as it arrives, so memory is bounded by a piece and the headers, not by the body.

Used by STOW-RS, where a study of a thousand instances arrives in one request.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator

from django.utils.translation import gettext as _

from konsil.core.errors import DomainError

PIECE = 256 * 1024
MAX_HEADERS = 16 * 1024
MAX_BOUNDARY = 200  # RFC 2046 says 70; Orthanc sends 73


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart/related Content-Type; DomainError when it is not one."""
    message = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(f"Content-Type: {content_type}\r\n\r\n")
    boundary = message.get_param("boundary") if message.get_content_maintype() == "multipart" else None
    if not boundary or len(boundary) > MAX_BOUNDARY:
        raise DomainError(_("Send DICOM instances as multipart/related; type=\"application/dicom\"."), field="body")
    return str(boundary)


class Part:
    """One part: its headers and its content, which must be read (or skipped) before the next part."""

    def __init__(self, headers, reader: MultipartReader):
        self.headers, self._reader = headers, reader

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type() if self.headers.get("Content-Type") else "text/plain"

    def chunks(self) -> Iterator[bytes]:
        return self._reader._content()


class MultipartReader:
    """Parts of a multipart body read from `stream` (anything with read(n))."""

    def __init__(self, stream, boundary: str, piece: int = PIECE):
        self._stream, self._piece = stream, piece
        self._delimiter = b"\r\n--" + boundary.encode("latin-1")
        self._buffer = bytearray(b"\r\n")  # the first delimiter may start the body
        self._eof = False
        self._in_part = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._stream.read(self._piece)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def _ended_early(self):
        return DomainError(_("The multipart request body ended early."), field="body")

    def parts(self) -> Iterator[Part]:
        """Each part in turn; a part left unread is skipped. Ends at the closing delimiter."""
        self._skip_to_delimiter()  # the preamble
        while True:
            while len(self._buffer) < 2:
                if not self._fill():
                    raise self._ended_early()
            if self._buffer[:2] == b"--":
                return  # the close delimiter; the epilogue is ignored
            headers = self._headers()
            self._in_part = True
            yield Part(headers, self)
            if self._in_part:
                for _piece in self._content():
                    pass

    def _skip_to_delimiter(self) -> None:
        while True:
            at = self._buffer.find(self._delimiter)
            if at >= 0:
                del self._buffer[: at + len(self._delimiter)]
                return
            keep = len(self._delimiter) - 1
            if len(self._buffer) > keep:
                del self._buffer[: len(self._buffer) - keep]
            if not self._fill():
                raise DomainError(_("The request holds no part of a multipart body."), field="body")

    def _headers(self):
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buffer) > MAX_HEADERS:
                raise DomainError(_("A part's headers are too long."), field="body")
            if not self._fill():
                raise self._ended_early()
        block = bytes(self._buffer[:end + 4])
        del self._buffer[:end + 4]
        line_end = block.find(b"\r\n")  # the rest of the delimiter line (transport padding) is ignored
        return email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(block[line_end + 2:])

    def _content(self) -> Iterator[bytes]:
        keep = len(self._delimiter) - 1
        while True:
            at = self._buffer.find(self._delimiter)
            if at >= 0:
                piece = bytes(self._buffer[:at])
                del self._buffer[: at + len(self._delimiter)]
                self._in_part = False
                if piece:
                    yield piece
                return
            if len(self._buffer) > keep + self._piece // 2:
                piece = bytes(self._buffer[: len(self._buffer) - keep])
                del self._buffer[: len(self._buffer) - keep]
                yield piece
            if not self._fill():
                raise self._ended_early()
