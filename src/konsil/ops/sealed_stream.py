"""An encrypted byte stream: a passphrase-derived key (scrypt), AES-256-GCM over 1 MiB chunks, each bound to its
position and to whether it is the last, so a reordered, altered or cut archive does not decrypt."""

from __future__ import annotations

import io
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"KONSIL-BACKUP-1\n"
CHUNK = 1024 * 1024
SCRYPT = {"n": 2**15, "r": 8, "p": 1}


class StreamError(Exception):
    """Not an archive of ours, the wrong passphrase, or an archive altered or cut short."""


def _key(passphrase: bytes, salt: bytes) -> AESGCM:
    return AESGCM(Scrypt(salt=salt, length=32, **SCRYPT).derive(passphrase))


def _aad(index: int, last: bool) -> bytes:
    return MAGIC + struct.pack(">Q?", index, last)


class SealingWriter(io.RawIOBase):
    """Write plaintext; `close()` seals the last chunk. Wraps a binary file opened for writing."""

    def __init__(self, raw, passphrase: bytes):
        super().__init__()
        self.raw, self.buffer, self.index = raw, bytearray(), 0
        salt = os.urandom(16)
        self.aead = _key(passphrase, salt)
        raw.write(MAGIC + salt)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        while len(self.buffer) > CHUNK:
            self._emit(bytes(self.buffer[:CHUNK]), last=False)
            del self.buffer[:CHUNK]
        return len(data)

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        nonce = os.urandom(12)
        sealed = self.aead.encrypt(nonce, chunk, _aad(self.index, last))
        self.raw.write(struct.pack(">I", len(sealed)) + nonce + sealed)
        self.index += 1

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self.buffer), last=True)
            self.buffer.clear()
            self.raw.flush()
        super().close()


class OpeningReader(io.RawIOBase):
    """Read the plaintext back; StreamError as soon as anything does not authenticate or the end is missing."""

    def __init__(self, raw, passphrase: bytes):
        super().__init__()
        self.raw, self.index, self.pending, self.done = raw, 0, b"", False
        head = raw.read(len(MAGIC) + 16)
        if len(head) < len(MAGIC) + 16 or not head.startswith(MAGIC):
            raise StreamError("this is not a Konsil backup archive")
        self.aead = _key(passphrase, head[len(MAGIC):])

    def readable(self) -> bool:
        return True

    def _next(self) -> None:
        size = self.raw.read(4)
        if len(size) < 4:
            raise StreamError("the archive is cut short")
        (length,) = struct.unpack(">I", size)
        if length > CHUNK + 16:
            raise StreamError("the archive is damaged")
        nonce, sealed = self.raw.read(12), self.raw.read(length)
        if len(nonce) < 12 or len(sealed) < length:
            raise StreamError("the archive is cut short")
        for last in (False, True):
            try:
                self.pending = self.aead.decrypt(nonce, sealed, _aad(self.index, last))
            except InvalidTag:
                continue
            self.index, self.done = self.index + 1, last
            return
        if self.index == 0:
            raise StreamError("wrong passphrase, or the archive was altered")
        raise StreamError("the archive was altered")

    def readinto(self, target) -> int:
        while not self.pending and not self.done:
            self._next()
        count = min(len(target), len(self.pending))
        target[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        if count == 0 and self.done and self.raw.read(1):
            raise StreamError("the archive has data after its end")
        return count
