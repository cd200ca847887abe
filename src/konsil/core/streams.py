"""Encrypted objects written and read as streams: memory bounded by one segment, not the file.

A large record (a finished resumable upload) is stored as fixed-size AES-256-GCM segments under its own data key
(the STREAM construction: each segment's nonce is random, its associated data binds the record id, the segment's
index and whether it is the last, so reordering, cutting or splicing fails to decrypt). The object name carries
the format (`segmented/…`, random like every name); core.files.get_for reads both this and the one-blob format. Reads
through `open_for` are seekable, so zipfile and pydicom read a study archive without loading it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import struct
from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.files import File
from django.core.files.storage import storages

from . import crypto, files

PREFIX = "segmented/"
MAGIC = b"KSG1"
SEGMENT = 1024 * 1024  # plaintext bytes per segment
NONCE, TAG = 12, 16
HEADER = len(MAGIC) + 4


S3_PART = 8 * 1024 * 1024  # bytes per multipart part (S3's minimum is 5 MiB)
S3_PARTS_IN_MEMORY = 2  # parts read ahead of the network: memory is bounded by a few parts, not the file


def is_segmented(obj) -> bool:
    return str(obj.storage_name or "").startswith(PREFIX)


def _storage():
    return storages["default"]


def _is_s3(storage) -> bool:
    return hasattr(storage, "bucket") and hasattr(storage, "get_object_parameters")


def _s3_put(storage, name: str, stream) -> str:
    """Send `stream` (not seekable, produced as it is read) to S3 as a multipart upload, a few parts in memory at a
    time; s3transfer aborts the multipart upload when the source or the network fails. Returns the object's name."""
    from boto3.s3.transfer import TransferConfig
    from storages.utils import clean_name, safe_join

    name = clean_name(name)
    config = TransferConfig(multipart_threshold=S3_PART, multipart_chunksize=S3_PART, max_concurrency=2)
    config.max_in_memory_upload_chunks = S3_PARTS_IN_MEMORY  # s3transfer's knob; boto3's constructor lacks it
    extra = {**storage.get_object_parameters(name), "ContentType": "application/octet-stream"}
    storage.bucket.Object(safe_join(storage.location, name)).upload_fileobj(stream, ExtraArgs=extra, Config=config)
    return name


def save_stored(name: str, stream) -> str:
    """Store already-encrypted bytes read from `stream` under `name` (backups being restored): on S3 as a bounded
    multipart upload. Returns the stored name."""
    storage = _storage()
    if not _is_s3(storage):
        return storage.save(name, File(stream, name=name))
    return _s3_put(storage, name, io.BufferedReader(_Forward(stream), SEGMENT))


class _Forward(io.RawIOBase):
    """Read-only and not seekable, whatever the source claims (a tar member read from a stream cannot say)."""

    def __init__(self, source):
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _SeekableView(io.RawIOBase):
    """Read-only and seekable over `_size` bytes; a subclass sets `_size` and `_pos` and reads at `_pos`."""

    _size = _pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos


class _RangedObject(_SeekableView):
    """A seekable view of an S3 object read by byte ranges (django-storages' S3File would download it whole)."""

    def __init__(self, handle):
        self._handle, self._obj = handle, handle.obj
        self._size, self._pos = self._obj.content_length, 0

    def readinto(self, buffer) -> int:
        if self._pos >= self._size or not len(buffer):
            return 0
        end = min(self._size, self._pos + len(buffer)) - 1
        data = self._obj.get(Range=f"bytes={self._pos}-{end}")["Body"].read()
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._handle.close()  # never read through: nothing was downloaded
        super().close()


def open_stored(name: str):
    """The stored (encrypted) object, seekable, without reading it whole from S3."""
    handle = _storage().open(name, "rb")
    if getattr(handle, "obj", None) is None:
        return handle
    return io.BufferedReader(_RangedObject(handle), SEGMENT + NONCE + TAG)  # one range request per segment


def _aad(owner: bytes, index: int, final: bool) -> bytes:
    return owner + struct.pack(">QB", index, 1 if final else 0)


class _Sealer(io.RawIOBase):
    """A read-only stream of the encrypted object, produced as the storage backend reads it."""

    def __init__(self, chunks: Iterable[bytes], aead: AESGCM, owner: bytes):
        self._chunks, self._aead, self._owner = iter(chunks), aead, owner
        self._pending, self._out, self._index = bytearray(), bytearray(MAGIC + struct.pack(">I", SEGMENT)), 0
        self._done = False
        self.size, self.sha256 = 0, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def _segment(self, plain: bytes, final: bool) -> None:
        nonce = os.urandom(NONCE)
        self._out += nonce + self._aead.encrypt(nonce, plain, _aad(self._owner, self._index, final))
        self._index += 1

    def _fill(self, want: int) -> None:
        while len(self._out) < want and not self._done:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._segment(bytes(self._pending), True)  # the last segment (maybe empty) says so
                self._pending.clear()
                self._done = True
                break
            self.size += len(chunk)
            self.sha256.update(chunk)
            self._pending += chunk
            while len(self._pending) > SEGMENT:  # keep one segment back: only the very last one is final
                self._segment(bytes(self._pending[:SEGMENT]), False)
                del self._pending[:SEGMENT]

    def readinto(self, buffer) -> int:
        self._fill(len(buffer))
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        del self._out[:n]
        return n


def write_for(obj, chunks: Iterable[bytes]) -> files.StoredObject:
    """Encrypt and store the plaintext `chunks` for `obj` (its primary key set), one segment in memory at a time.

    Sets the object's storage fields like core.files.put_for. The caller removes the object if it then fails.
    """
    data_key = AESGCM.generate_key(bit_length=256)
    wrapped, key_id = crypto.wrap_key(data_key)
    sealer = _Sealer(chunks, AESGCM(data_key), str(obj.pk).encode())
    token = secrets.token_hex(16)
    wanted = f"{PREFIX}{token[:2]}/{token}"
    try:
        storage = _storage()
        if _is_s3(storage):
            name = _s3_put(storage, wanted, io.BufferedReader(sealer, SEGMENT))
        else:
            name = storage.save(wanted, File(io.BufferedReader(sealer, SEGMENT)))
    except BaseException:  # a source chunk failed mid-way: the partial object goes too
        with contextlib.suppress(Exception):
            _storage().delete(wanted)
        raise
    stored = files.StoredObject(name=name, size=sealer.size, sha256=sealer.sha256.hexdigest(), wrapped_key=wrapped,
                                key_id=key_id)
    obj.storage_name, obj.wrapped_key, obj.key_id = stored.name, stored.wrapped_key, stored.key_id
    obj.size, obj.sha256 = stored.size, stored.sha256
    return stored


class SegmentedReader(_SeekableView):
    """Seekable plaintext view of a segmented object; each segment is authenticated as it is read."""

    def __init__(self, raw, aead: AESGCM, owner: bytes, size: int):
        self._raw, self._aead, self._owner, self._size = raw, aead, owner, size
        if raw.read(HEADER)[: len(MAGIC)] != MAGIC:
            raise crypto.DecryptionError("not a segmented object")
        self._segments = max(1, -(-size // SEGMENT))  # the last may be full; an empty record has one, empty
        self._pos, self._cache = 0, (-1, b"")

    def _load(self, index: int) -> bytes:
        if self._cache[0] == index:
            return self._cache[1]
        self._raw.seek(HEADER + index * (NONCE + SEGMENT + TAG))
        blob = self._raw.read(NONCE + SEGMENT + TAG)
        final = index == self._segments - 1
        try:
            plain = self._aead.decrypt(blob[:NONCE], blob[NONCE:], _aad(self._owner, index, final))
        except Exception:
            raise crypto.DecryptionError("segment failed to authenticate") from None
        self._cache = (index, plain)
        return plain

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        index, offset = divmod(self._pos, SEGMENT)
        plain = self._load(index)[offset: offset + len(buffer)]
        buffer[: len(plain)] = plain
        self._pos += len(plain)
        return len(plain)

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_for(obj) -> io.BufferedReader:
    """A seekable, decrypting reader of a record's plaintext (both formats). The caller audits."""
    if not is_segmented(obj):
        return io.BufferedReader(io.BytesIO(files.get_for(obj)))
    aead = AESGCM(crypto.unwrap_key(bytes(obj.wrapped_key), obj.key_id))
    reader = SegmentedReader(open_stored(obj.storage_name), aead, str(obj.pk).encode(), obj.size)
    return io.BufferedReader(reader, SEGMENT)


def read_segmented(obj) -> bytes:
    """The whole plaintext of a segmented object, checked against its SHA-256 (core.files.get_for calls this)."""
    with open_for(obj) as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != obj.sha256:
        raise files.IntegrityError("stored object failed its integrity check")
    return data


def iter_for(obj, size: int = SEGMENT):
    """The plaintext in pieces (a download that streams), each segment authenticated as it comes."""
    with open_for(obj) as fh:
        while piece := fh.read(size):
            yield piece
