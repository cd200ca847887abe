"""Safe expansion of zipped and mounted CD/USB exports."""

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest

from konsil.records.archive import (
    Entry,
    ExpansionStats,
    Limits,
    is_export_junk,
    is_unsafe_path,
    iter_entries,
    iter_folder,
    summarize,
)
from konsil.records.detect import detect
from konsil.records.errors import RecordRejected

DICOM = b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\x04\x001.2\x00"
PDF = b"%PDF-1.4\n%%EOF\n"
MiB = 1024 * 1024

# Offsets of fields in a central directory record and a local file header (APPNOTE 4.3.7 / 4.3.12).
CENTRAL = {"flags": (8, "<H"), "method": (10, "<H"), "compress_size": (20, "<I"), "file_size": (24, "<I"),
           "offset": (42, "<I")}
LOCAL = {"flags": (6, "<H"), "method": (8, "<H"), "compress_size": (18, "<I"), "file_size": (22, "<I")}


def make_zip(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def central_records(data: bytes) -> list[int]:
    """Positions of the central directory records, read from the end-of-central-directory record."""
    end = data.rfind(b"PK\x05\x06")
    count, _size, start = struct.unpack_from("<HII", data, end + 10)
    positions = []
    for _ in range(count):
        positions.append(start)
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, start + 28)
        start += 46 + name_len + extra_len + comment_len
    return positions


def patch_entry(data: bytes, index: int, **fields: int) -> bytes:
    """Overwrite header fields of entry `index` in the central directory and (where it has them) its local header."""
    buffer = bytearray(data)
    central = central_records(data)[index]
    local = struct.unpack_from("<I", buffer, central + 42)[0]
    for field, value in fields.items():
        offset, fmt = CENTRAL[field]
        struct.pack_into(fmt, buffer, central + offset, value)
        if field in LOCAL:
            offset, fmt = LOCAL[field]
            struct.pack_into(fmt, buffer, local + offset, value)
    return bytes(buffer)


def expand(data, limits=None, stats=None) -> list[Entry]:
    return list(iter_entries(data, limits, stats=stats))


def rejected_code(data, limits=None) -> str:
    with pytest.raises(RecordRejected) as caught:
        expand(data, limits)
    return caught.value.code


def test_yields_each_file_with_its_bytes():
    data = make_zip({"DICOM/0001/IM0001": DICOM, "report.pdf": PDF, "notes.txt": b"hello"})
    entries = expand(data)
    assert [(entry.index, entry.path, entry.data, entry.skipped_reason) for entry in entries] == [
        (0, "DICOM/0001/IM0001", DICOM, None),
        (1, "report.pdf", PDF, None),
        (2, "notes.txt", b"hello", None),
    ]


def test_accepts_a_file_object_and_stored_entries():
    data = make_zip({"a.pdf": PDF}, compression=zipfile.ZIP_STORED)
    assert [entry.data for entry in iter_entries(io.BytesIO(data))] == [PDF]


def test_bzip2_and_lzma_entries_are_read():
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        assert expand(make_zip({"a.pdf": PDF}, compression=method))[0].data == PDF


def test_cd_export_junk_is_ignored_and_counted():
    export = {
        "DICOMDIR": b"\x00" * 128 + b"DICM",
        "DICOM/ST000001/SE000001/IM000001": DICOM,
        "DICOM/ST000001/SE000001/IM000002": DICOM,
        "Viewer/viewer.exe": b"MZ" + b"\x00" * 50,
        "Viewer/dcmtk.dll": b"MZ",
        "Viewer/libjpeg.so.8.2": b"\x7fELF",
        "Viewer/setup.msi": b"x",
        "Viewer/config.ini": b"[x]",
        "Viewer/logo.bmp": b"BM",
        "Viewer/icon.ico": b"\x00",
        "Viewer/index.htm": b"<html>",
        "Viewer/app.js": b"1",
        "Viewer/style.css": b"a{}",
        "Viewer/manifest.xml": b"<x/>",
        "Viewer/run.bat": b"@echo",
        "Viewer/OsiriX.app/Contents/MacOS/OsiriX": b"\xcf\xfa\xed\xfe",
        "AUTORUN.INF": b"[autorun]",
        "README.HTML": b"<html>",
        "__MACOSX/DICOM/._IM000001": b"\x00\x05\x16\x07",
        "DICOM/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "DICOM/Thumbs.db": b"\xd0\xcf",
        "desktop.ini": b"[.ShellClassInfo]",
        "Befund.pdf": PDF,
        "photo.JPG": b"\xff\xd8\xff\xe0",
    }
    stats = ExpansionStats()
    entries = expand(make_zip(export), stats=stats)
    assert [entry.path for entry in entries] == [
        "DICOM/ST000001/SE000001/IM000001", "DICOM/ST000001/SE000001/IM000002", "Befund.pdf", "photo.JPG",
    ]
    assert stats.ignored == len(export) - 4
    assert stats.dicomdir is True
    assert stats.bytes_read == 2 * len(DICOM) + len(PDF) + 4


def test_directories_are_skipped_silently():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("DICOM/"), b"")
        archive.writestr("DICOM/IM1", DICOM)
    stats = ExpansionStats()
    assert [entry.path for entry in expand(buffer.getvalue(), stats=stats)] == ["DICOM/IM1"]
    assert stats.directories == 1 and stats.dicomdir is False


@pytest.mark.parametrize(
    "name",
    ["../evil.pdf", "records/../../etc/passwd", "/etc/passwd", "C:/Windows/evil.pdf", "c:evil.pdf",
     "..\\..\\evil.pdf", "\\\\server\\share\\evil.pdf", "records/..", "../Viewer/autorun.inf"],
)
def test_unsafe_paths_are_skipped_never_extracted(name):
    assert is_unsafe_path(name)
    entries = expand(make_zip({name: PDF, "ok.pdf": PDF}))
    assert [(entry.skipped_reason, entry.data) for entry in entries] == [("zip_unsafe_path", b""), (None, PDF)]


@pytest.mark.parametrize("name", ["a/b/c.pdf", "a..b.pdf", "...", "x/..y/z"])
def test_ordinary_paths_are_safe(name):
    assert not is_unsafe_path(name)


def test_symlink_entry_is_skipped():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("DICOM/IM1")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("DICOM/IM2", DICOM)
    entries = expand(buffer.getvalue())
    assert [(entry.path, entry.skipped_reason, entry.data) for entry in entries] == [
        ("DICOM/IM1", "zip_unsafe_path", b""), ("DICOM/IM2", None, DICOM),
    ]


def test_encrypted_entry_is_skipped():
    data = patch_entry(make_zip({"secret.pdf": PDF, "open.pdf": PDF}), 0, flags=0x1)
    assert [(entry.skipped_reason, entry.data) for entry in expand(data)] == [("zip_encrypted", b""), (None, PDF)]


def test_unknown_compression_method_is_skipped():
    data = patch_entry(make_zip({"a.pdf": PDF}), 0, method=9)  # Deflate64
    assert [entry.skipped_reason for entry in expand(data)] == ["unsupported_type"]


def test_nested_zip_is_yielded_not_expanded():
    inner = make_zip({"inner.pdf": PDF})
    entries = expand(make_zip({"inner.zip": inner}))
    assert [entry.data for entry in entries] == [inner]
    assert detect(entries[0].data) == "zip"


def test_empty_archive_yields_nothing():
    assert expand(make_zip({})) == []


def test_zip_bomb_by_declared_ratio():
    bomb = make_zip({"zeros.dcm": bytes(50 * MiB)})
    assert len(bomb) < MiB
    assert rejected_code(bomb) == "zip_bomb"


def test_bomb_is_refused_before_any_entry_is_yielded():
    entries = iter_entries(make_zip({"first.pdf": PDF, "zeros.dcm": bytes(50 * MiB)}))
    with pytest.raises(RecordRejected, match="zip_bomb"):
        next(entries)


def test_overall_ratio_counts_many_small_entries():
    files = {f"part{i}.txt": bytes(512 * 1024) for i in range(4)}  # each below the ratio floor
    assert rejected_code(make_zip(files)) == "zip_bomb"


def test_small_highly_compressible_files_are_fine():
    assert expand(make_zip({"blank.txt": bytes(100_000)}))[0].data == bytes(100_000)


def test_header_lying_about_size_is_caught_while_reading():
    honest = make_zip({"zeros.dcm": bytes(50 * MiB)})
    lying = patch_entry(honest, 0, file_size=40_000)  # declared ratio now below 1
    assert rejected_code(lying) == "zip_bomb"


def test_incompressible_entry_larger_than_declared_is_caught():
    data = os.urandom(3 * MiB)
    lying = patch_entry(make_zip({"scan.dcm": data}, zipfile.ZIP_STORED), 0, file_size=1000)
    assert rejected_code(lying) == "zip_bomb"


def test_entry_shorter_than_declared_is_corrupt():
    lying = patch_entry(make_zip({"a.txt": b"hello world"}), 0, file_size=5000)
    assert rejected_code(lying) == "zip_corrupt"


def test_declared_total_over_limit():
    data = make_zip({"a.bin": os.urandom(2000), "b.bin": os.urandom(2000)})
    assert rejected_code(data, Limits(max_total_bytes=3000)) == "zip_too_large"
    assert len(expand(data, Limits(max_total_bytes=4000))) == 2


def test_declared_entry_over_limit():
    data = make_zip({"a.bin": os.urandom(2000)})
    assert rejected_code(data, Limits(max_entry_bytes=1999)) == "zip_too_large"


def test_too_many_entries():
    data = make_zip({f"{i}.txt": b"x" for i in range(11)})
    assert rejected_code(data, Limits(max_entries=10)) == "too_many_files"


def test_overlapping_entries_are_a_bomb():
    data = make_zip({"a.txt": b"a" * 100, "b.txt": b"b" * 100})
    assert rejected_code(patch_entry(data, 1, offset=0)) == "zip_bomb"


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04 this is not really a zip",
        make_zip({"a.pdf": PDF * 100})[:-30],  # truncated: no end record
        b"",
    ],
)
def test_corrupt_archive(data):
    assert rejected_code(data) == "zip_corrupt"


def test_crc_error_is_corrupt():
    data = bytearray(make_zip({"a.txt": b"hello world"}, zipfile.ZIP_STORED))
    data[data.index(b"hello")] = ord("j")
    assert rejected_code(bytes(data)) == "zip_corrupt"


def test_rejection_detail_has_no_entry_names():
    with pytest.raises(RecordRejected) as caught:
        expand(make_zip({"Jane Roe MRI.dcm": bytes(50 * MiB)}))
    assert "Jane" not in str(caught.value)


def test_summarize_counts_outcomes():
    entries = [Entry(0, "a", b"x"), Entry(1, "b", skipped_reason="zip_unsafe_path"), Entry(2, "c", b"y")]
    assert summarize(entries) == {"accepted": 2, "zip_unsafe_path": 1}


@pytest.mark.parametrize(
    ("path", "junk"),
    [("viewer/Viewer.EXE", True), ("IMAGES/IM0001", False), ("scan.dcm", False), ("a.xml", True),
     ("photo.png", False), ("X.app/Contents/Info.plist", True), ("._IM0001", True), ("libz.so", True),
     ("letter.txt", False), ("DICOMDIR", False)],
)
def test_is_export_junk(path, junk):
    assert is_export_junk(path) is junk


# --- folders (a mounted CD or an uploaded folder) ---


def build_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_folder_yields_records_and_ignores_junk(tmp_path):
    build_tree(tmp_path, {
        "DICOMDIR": b"x",
        "DICOM/ST1/IM1": DICOM,
        "DICOM/ST1/IM2": DICOM,
        "Viewer/viewer.exe": b"MZ",
        "Viewer/Viewer.app/Contents/MacOS/bin": b"x",
        "Autorun.inf": b"x",
        "__MACOSX/DICOM/._IM1": b"x",
        ".DS_Store": b"x",
        "report.pdf": PDF,
    })
    stats = ExpansionStats()
    entries = list(iter_folder(tmp_path, stats=stats))
    assert [(entry.path, entry.data) for entry in entries] == [
        ("DICOM/ST1/IM1", DICOM), ("DICOM/ST1/IM2", DICOM), ("report.pdf", PDF),
    ]
    assert [entry.index for entry in entries] == [0, 1, 2]
    assert stats.dicomdir is True
    assert stats.ignored == 6  # DICOMDIR, .exe, Viewer.app/ and __MACOSX/ (pruned whole), Autorun.inf, .DS_Store
    assert stats.bytes_read == 2 * len(DICOM) + len(PDF)


def test_folder_does_not_follow_links_or_read_special_files(tmp_path):
    outside = tmp_path / "outside"
    build_tree(outside, {"secret.pdf": PDF})
    root = tmp_path / "cd"
    build_tree(root, {"a.pdf": PDF})
    (root / "link.pdf").symlink_to(outside / "secret.pdf")
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)
    os.mkfifo(root / "pipe")
    entries = {entry.path: entry for entry in iter_folder(root)}
    assert entries["a.pdf"].data == PDF
    for name in ("link.pdf", "linked_dir", "pipe"):
        assert entries[name].skipped_reason == "zip_unsafe_path"
        assert entries[name].data == b""
    assert "linked_dir/secret.pdf" not in entries


def test_folder_limits(tmp_path):
    build_tree(tmp_path, {f"{i}.txt": b"x" * 100 for i in range(5)})
    with pytest.raises(RecordRejected, match="too_many_files"):
        list(iter_folder(tmp_path, Limits(max_entries=4)))
    with pytest.raises(RecordRejected, match="zip_too_large"):
        list(iter_folder(tmp_path, Limits(max_total_bytes=499)))
    with pytest.raises(RecordRejected, match="zip_too_large"):
        list(iter_folder(tmp_path, Limits(max_entry_bytes=99)))
    assert len(list(iter_folder(tmp_path, Limits(max_total_bytes=500, max_entry_bytes=100)))) == 5
