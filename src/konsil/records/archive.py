"""Safe expansion of zipped (or mounted) CD/USB exports, entry by entry, with zip-bomb and path defenses.

Nothing is ever written to disk: entries come back as bytes. Unsafe or encrypted entries are yielded as
skipped (with a reason code) so the caller can tell the patient; viewer programs and other export junk are
ignored silently and only counted in `ExpansionStats`.
"""

from __future__ import annotations

import copy
import io
import lzma
import os
import re
import stat
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from konsil.records.errors import RecordRejected

GiB = 1024**3
MiB = 1024**2
CHUNK_BYTES = 1 * MiB
FLAG_ENCRYPTED = 0x1
UNBOUNDED = 2**62  # the size ceiling handed to zipfile: we count the real bytes ourselves

JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", "autorun.inf", "icon\r"})
JUNK_DIRS = frozenset({"__macosx", ".spotlight-v100", ".trashes", ".fseventsd", "system volume information",
                       "$recycle.bin"})
JUNK_SUFFIXES = frozenset({
    # viewer programs and their runtime
    ".exe", ".dll", ".msi", ".msp", ".bat", ".cmd", ".com", ".jar", ".class", ".dylib", ".so", ".sys", ".ocx",
    ".cab", ".sh", ".ps1", ".vbs", ".lnk", ".url", ".pdb", ".manifest", ".config", ".plist", ".pak",
    # viewer configuration, help and web pages
    ".ini", ".inf", ".htm", ".html", ".js", ".css", ".xml", ".xsl", ".xsd", ".chm", ".hlp",
    # viewer artwork and fonts (photos as .jpg/.png are kept)
    ".ico", ".cur", ".bmp", ".gif", ".svg", ".ttf", ".otf", ".woff", ".woff2",
})
_VERSIONED_SO = re.compile(r"\.so(\.\d+)+$")
READABLE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError, struct.error)


@dataclass(frozen=True)
class Limits:
    """Ceilings for one archive or folder; sizes are decompressed bytes."""

    max_total_bytes: int = 2 * GiB
    max_ratio: float = 100
    max_entries: int = 10_000
    max_entry_bytes: int = 2 * GiB
    ratio_floor_bytes: int = 1 * MiB  # ratios are judged only above this size: tiny files compress wildly


@dataclass
class Entry:
    """One file from an archive or folder; `path` is for internal use only (it may hold PHI)."""

    index: int
    path: str
    data: bytes = b""
    skipped_reason: str | None = None


@dataclass
class ExpansionStats:
    """What was passed over silently while expanding."""

    ignored: int = 0  # export junk: viewer programs, OS metadata, DICOMDIR
    directories: int = 0
    dicomdir: bool = False  # the export carried a DICOMDIR index
    bytes_read: int = 0


def iter_entries(
    source: bytes | bytearray | memoryview | BinaryIO, limits: Limits | None = None, *,
    stats: ExpansionStats | None = None,
) -> Iterator[Entry]:
    """Yield the files of a zip archive one by one; raise RecordRejected for a corrupt archive or a zip bomb.

    Nested zips are yielded as ordinary entries (not expanded). `index` is the entry's position in the archive.
    """
    limits = limits or Limits()
    stats = stats if stats is not None else ExpansionStats()
    fileobj = io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else source
    try:
        with zipfile.ZipFile(fileobj) as archive:
            yield from _expand(archive, limits, stats)
    except _ZIP_ERRORS as exc:  # zipfile's messages name entries (PHI): keep only the type, drop the chain
        raise RecordRejected("zip_corrupt", type(exc).__name__) from None


def _expand(archive: zipfile.ZipFile, limits: Limits, stats: ExpansionStats) -> Iterator[Entry]:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise RecordRejected("too_many_files", f"{len(infos)} entries")
    _check_overlaps(infos)
    plan = [(index, info, _triage(info, stats)) for index, info in enumerate(infos)]
    wanted = [info for _, info, verdict in plan if verdict == "read"]
    _check_declared(wanted, limits)
    budget = limits.max_total_bytes
    for index, info, verdict in plan:
        if verdict == "read":
            data = _read_entry(archive, info, limits, budget)
            budget -= len(data)
            stats.bytes_read += len(data)
            yield Entry(index, info.filename, data)
        elif verdict != "ignore":
            yield Entry(index, info.filename, skipped_reason=verdict)


def _triage(info: zipfile.ZipInfo, stats: ExpansionStats) -> str:
    """What to do with an entry: "read", "ignore", or the reason code it is skipped with."""
    if is_unsafe_path(info.filename) or stat.S_ISLNK(info.external_attr >> 16):
        return "zip_unsafe_path"
    if info.is_dir() or info.filename.endswith("\\"):
        stats.directories += 1
        return "ignore"
    if _ignore_as_junk(info.filename, stats):
        return "ignore"
    if info.flag_bits & FLAG_ENCRYPTED:
        return "zip_encrypted"
    if info.compress_type not in READABLE_METHODS:  # e.g. Deflate64 from Windows' own zip tool
        return "unsupported_type"
    return "read"


def _ignore_as_junk(path: str, stats: ExpansionStats) -> bool:
    if PurePosixPath(path.replace("\\", "/")).name.lower() == "dicomdir":
        stats.dicomdir = True
        stats.ignored += 1
        return True
    if is_export_junk(path):
        stats.ignored += 1
        return True
    return False


def is_unsafe_path(path: str) -> bool:
    """True for absolute paths, drive letters, ".." components or NUL bytes (either slash counts)."""
    normalized = path.replace("\\", "/")
    return (
        "\x00" in normalized
        or normalized.startswith("/")
        or bool(_DRIVE_LETTER.match(normalized))
        or ".." in normalized.split("/")
    )


def is_export_junk(path: str) -> bool:
    """True for what a CD/USB export carries besides records: viewers, runtimes, OS metadata."""
    parts = [part.lower() for part in path.replace("\\", "/").split("/") if part]
    if not parts:
        return False
    *folders, name = parts
    if any(is_junk_folder(folder) for folder in folders):
        return True
    if name in JUNK_NAMES or name.startswith("._"):
        return True
    return PurePosixPath(name).suffix in JUNK_SUFFIXES or bool(_VERSIONED_SO.search(name))


def is_junk_folder(name: str) -> bool:
    """True for a folder whose whole content is junk: macOS metadata, app bundles, recycle bins."""
    name = name.lower()
    return name in JUNK_DIRS or name.endswith(".app")


def _check_overlaps(infos: list[zipfile.ZipInfo]) -> None:
    """Entries that share compressed bytes are the "overlapping" zip bomb (Fifield 2019)."""
    files = sorted((info for info in infos if not info.is_dir()), key=lambda info: info.header_offset)
    for before, after in zip(files, files[1:], strict=False):
        if after.header_offset < before.header_offset + before.compress_size:
            raise RecordRejected("zip_bomb", "overlapping entries")


def _check_declared(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse from the central directory alone, before anything is decompressed."""
    for info in infos:
        if info.file_size > limits.max_entry_bytes:
            raise RecordRejected("zip_too_large", "declared entry size over the limit")
        if _ratio_exceeded(info.file_size, info.compress_size, limits):
            raise RecordRejected("zip_bomb", "declared compression ratio over the limit")
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise RecordRejected("zip_too_large", "declared total size over the limit")
    if _ratio_exceeded(total, sum(info.compress_size for info in infos), limits):
        raise RecordRejected("zip_bomb", "declared overall compression ratio over the limit")


def _ratio_exceeded(expanded: int, compressed: int, limits: Limits) -> bool:
    return expanded > limits.ratio_floor_bytes and expanded > limits.max_ratio * max(compressed, 1)


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, budget: int) -> bytes:
    """Decompress one entry in chunks, trusting none of its header: abort as soon as a limit is passed."""
    unbounded = copy.copy(info)
    unbounded.file_size = UNBOUNDED  # zipfile would silently stop at the declared size; we want to see more
    chunks: list[bytes] = []
    produced = 0
    with archive.open(unbounded) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            produced += len(chunk)
            _check_growth(produced, info, limits, budget)
            chunks.append(chunk)
    if produced != info.file_size:
        raise RecordRejected("zip_corrupt", "entry shorter than its declared size")
    return b"".join(chunks)  # zipfile has checked the CRC on reaching the end of the stream


def _check_growth(produced: int, info: zipfile.ZipInfo, limits: Limits, budget: int) -> None:
    if produced > info.file_size:
        raise RecordRejected("zip_bomb", "entry expands beyond its declared size")
    if _ratio_exceeded(produced, info.compress_size, limits):
        raise RecordRejected("zip_bomb", "compression ratio over the limit")
    if produced > limits.max_entry_bytes or produced > budget:
        raise RecordRejected("zip_too_large", "expanded size over the limit")


def iter_folder(root: Path, limits: Limits | None = None, *, stats: ExpansionStats | None = None) -> Iterator[Entry]:
    """Yield the files under `root` (a mounted CD or an uploaded folder) like `iter_entries` does for a zip.

    Symbolic links and special files are never followed or read; they are yielded as skipped
    ("zip_unsafe_path"). `index` is the position in path order; `path` is relative, with "/".
    """
    limits = limits or Limits()
    stats = stats if stats is not None else ExpansionStats()
    found = sorted(_walk(Path(root), stats), key=lambda item: item[0])
    if len(found) > limits.max_entries:
        raise RecordRejected("too_many_files", f"{len(found)} files")
    if sum(size for _, _, size, reason in found if reason is None) > limits.max_total_bytes:
        raise RecordRejected("zip_too_large", "total size over the limit")
    budget = limits.max_total_bytes
    for index, (relative, path, _size, reason) in enumerate(found):
        if reason is not None:
            yield Entry(index, relative, skipped_reason=reason)
            continue
        data = _read_file(path, min(limits.max_entry_bytes, budget))
        budget -= len(data)
        stats.bytes_read += len(data)
        yield Entry(index, relative, data)


def _walk(root: Path, stats: ExpansionStats) -> Iterator[tuple[str, Path, int, str | None]]:
    """(relative path, path, size, skip reason) for every file worth a look, in a stable order."""
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in sorted(dirnames):
            relative = (here / name).relative_to(root).as_posix()
            if (here / name).is_symlink():
                dirnames.remove(name)
                yield relative, here / name, 0, "zip_unsafe_path"
            elif is_junk_folder(name):
                dirnames.remove(name)
                stats.ignored += 1
            else:
                stats.directories += 1
        dirnames.sort()
        for name in sorted(filenames):
            path = here / name
            relative = path.relative_to(root).as_posix()
            status = path.lstat()
            if not stat.S_ISREG(status.st_mode):
                yield relative, path, 0, "zip_unsafe_path"
            elif not _ignore_as_junk(relative, stats):
                yield relative, path, status.st_size, None


def _read_file(path: Path, ceiling: int) -> bytes:
    """Read a regular file without following a link swapped in since the walk; refuse past `ceiling` bytes."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise RecordRejected("zip_unsafe_path", "file could not be opened safely") from exc
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise RecordRejected("zip_unsafe_path", "not a regular file")
        data = handle.read(ceiling + 1)
    if len(data) > ceiling:
        raise RecordRejected("zip_too_large", "file size over the limit")
    return data


def summarize(entries: Iterable[Entry]) -> dict[str, int]:
    """Count entries by outcome: "accepted" plus one key per skip reason."""
    return dict(Counter(entry.skipped_reason or "accepted" for entry in entries))
