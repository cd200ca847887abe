"""Downloads that stream: a record's plaintext in decrypted pieces (one segment in memory, not the file), and a
pushed study (a STOW-RS / C-STORE / retrieved "study" record) as a zip of its instances, written as it is sent.

Callers got the record through a scoped selector; opening a download audits it.
"""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from konsil.audit.services import emit
from konsil.cases.models import Attachment
from konsil.core import streams

from .models import Instance
from .pushed import STUDY_KIND


@dataclass
class Download:
    pieces: Iterator[bytes]
    filename: str
    content_type: str
    size: int | None  # None when not known before sending (a study's zip)


def open_download(*, actor, attachment: Attachment, action: str = "attachment.download") -> Download:
    """The record's content as a stream. Raises what reading the first piece raises (a missing or tampered
    object) before anything is sent, so the caller can still answer with a message."""
    if attachment.kind == STUDY_KIND:
        entries = [i.attachment for i in Instance.objects.filter(attachment__parent=attachment)
                   .select_related("attachment").order_by("series__number", "series__created_at", "number",
                                                          "sop_uid")]
        pieces = _study_zip(entries)
        name, content_type, size = f"{attachment.filename}.zip", "application/zip", None
        detail = {"instances": len(entries)}
    else:
        pieces = streams.iter_for(attachment, streams.SEGMENT)
        name, content_type, size = attachment.filename, attachment.content_type, attachment.size
        detail = {}
    first = next(pieces, b"")
    emit(actor=actor, action=action, obj=attachment, patient_id=attachment.case.patient_id, detail=detail)
    return Download(itertools.chain([first], pieces), name, content_type, size)


class _Sink:
    """A write-only, unseekable file for zipfile: what is written is handed on, then dropped."""

    def __init__(self):
        self._pending: list[bytes] = []
        self._position = 0

    def write(self, data) -> int:
        self._pending.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def drain(self) -> Iterator[bytes]:
        pending, self._pending = self._pending, []
        yield from pending


def _study_zip(entries: list[Attachment]) -> Iterator[bytes]:
    """A stored (uncompressed: pixels hardly compress) zip of the instances, DICOM/<SOP UID>.dcm, each decrypted
    piece by piece as it is written; the zip's first bytes are ready before any instance is read."""
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True)
    yield b""  # opening the download touches nothing yet; instances are checked as they are read
    with archive:
        for entry in entries:
            info = zipfile.ZipInfo(f"DICOM/{entry.filename}", date_time=(1980, 1, 1, 0, 0, 0))
            info.file_size = entry.size
            with archive.open(info, "w", force_zip64=entry.size >= zipfile.ZIP64_LIMIT) as out:
                for piece in streams.iter_for(entry, streams.SEGMENT):
                    out.write(piece)
                    yield from sink.drain()
            yield from sink.drain()
    yield from sink.drain()
