"""The shared seekable base of the S3 ranged reader and the segmented reader: position arithmetic only."""

import io

import pytest

from konsil.core.streams import _SeekableView


class _Bytes(_SeekableView):
    def __init__(self, data: bytes):
        self._data, self._size, self._pos = data, len(data), 0

    def readinto(self, buffer) -> int:
        piece = self._data[self._pos : self._pos + len(buffer)]
        buffer[: len(piece)] = piece
        self._pos += len(piece)
        return len(piece)


def test_seek_from_start_current_and_end():
    view = _Bytes(b"0123456789")
    assert view.readable() and view.seekable()
    assert view.seek(3) == 3 and view.read(2) == b"34" and view.tell() == 5
    assert view.seek(-1, io.SEEK_CUR) == 4
    assert view.seek(-2, io.SEEK_END) == 8 and view.read() == b"89"


def test_seek_before_start_clamps_to_zero_and_past_end_reads_nothing():
    view = _Bytes(b"abc")
    assert view.seek(-10, io.SEEK_END) == 0
    assert view.seek(50) == 50 and view.read() == b""


def test_unknown_whence_is_refused():
    with pytest.raises(KeyError):
        _Bytes(b"abc").seek(0, 7)
