"""The backup archive's encryption: round trip, wrong passphrase, altered, cut, extended."""

from __future__ import annotations

import io
import os

import pytest

from konsil.ops import sealed_stream
from konsil.ops.sealed_stream import OpeningReader, SealingWriter, StreamError


def seal(data: bytes, passphrase=b"correct horse") -> bytes:
    raw = io.BytesIO()
    with SealingWriter(raw, passphrase) as writer:
        writer.write(data)
    return raw.getvalue()


def opened(blob: bytes, passphrase=b"correct horse") -> bytes:
    return io.BufferedReader(OpeningReader(io.BytesIO(blob), passphrase)).read()


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(sealed_stream, "CHUNK", 1000)
    monkeypatch.setattr(sealed_stream, "SCRYPT", {"n": 2**10, "r": 8, "p": 1})


def test_round_trip_over_many_chunks_and_nothing_in_clear():
    data = os.urandom(3500) + b"Ana Garcia MRN 12345" * 10
    blob = seal(data)
    assert opened(blob) == data
    assert b"Ana Garcia" not in blob


def test_empty_stream_round_trips():
    assert opened(seal(b"")) == b""


def test_wrong_passphrase_is_refused():
    with pytest.raises(StreamError, match="wrong passphrase"):
        opened(seal(b"x" * 10), b"another one")


def test_altered_byte_is_refused():
    blob = bytearray(seal(os.urandom(2500)))
    blob[len(blob) // 2] ^= 1
    with pytest.raises(StreamError):
        opened(bytes(blob))


def test_cut_archive_is_refused_even_at_a_chunk_boundary():
    blob = seal(os.urandom(2500))
    first_chunk_end = len(sealed_stream.MAGIC) + 16 + 4 + 12 + 1000 + 16
    for cut in (first_chunk_end, len(blob) - 5):
        with pytest.raises(StreamError, match="cut short|altered"):
            opened(blob[:cut])


def test_data_after_the_end_is_refused():
    with pytest.raises(StreamError, match="after its end"):
        opened(seal(b"abc") + b"more")


def test_not_an_archive():
    with pytest.raises(StreamError, match="not a Konsil backup"):
        opened(b"PK\x03\x04 a zip file")
