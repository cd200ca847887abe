"""DICOM de-identification: DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile.

The profile is data: ``data/deid_basic_profile.csv`` holds DICOM PS3.15 2024b Table E.1-1 (Basic Profile column)
with each compound action resolved to the one Konsil applies. Beyond the table, Konsil removes every private
attribute, the whole curve (50xx) and overlay (60xx) groups, group lengths, public attributes of unknown VR, and
any person name or date the table does not list; it remaps any instance-like UID outside the DICOM root.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import hmac
import io
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID

from . import dicom
from .errors import RecordRejected

PROFILE = "DICOM PS3.15 2024b Annex E Basic Application Level Confidentiality Profile"
METHOD_TEXT = "PS3.15 E.1 Basic Application Confidentiality Profile (Konsil)"  # LO: at most 64
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
DEFAULT_DUMMY = "ANONYMOUS"
REPORT_NAME = "deid-report.json"
TABLE_FILE = "deid_basic_profile.csv"

# Modalities whose pixels often carry burned-in text (ultrasound, captures, angiography, endoscopy, photos, slides).
SUSPECT_MODALITIES = frozenset({"US", "SC", "XA", "ES", "OT", "SM", "XC", "GM", "RF"})
SECONDARY_CAPTURE_ROOT = "1.2.840.10008.5.1.4.1.1.7"
DICOM_ROOT = "1.2.840.10008."
_DEFINITION_UID_SUFFIXES = ("ClassUID", "SyntaxUID", "SchemeUID", "ResourceUID")
_NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT"})
_BINARY_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})
_TEMPORAL_VRS = frozenset({"DA", "DT", "TM"})
_DUMMY_BY_VR = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000Y", "DS": "0", "IS": "0"}
_PATIENT_NAME = Tag("PatientName")
_PATIENT_ID = Tag("PatientID")


@dataclass(frozen=True)
class ProfileRule:
    """One row of the profile table: the standard's action and the one Konsil applies."""

    tag: str
    keyword: str
    basic: str
    action: str
    note: str


def _load_rules() -> tuple[ProfileRule, ...]:
    text = resources.files("konsil.records").joinpath("data", TABLE_FILE).read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return tuple(ProfileRule(**row) for row in rows)


def _compile(rules: tuple[ProfileRule, ...]) -> tuple[dict[int, str], tuple[tuple[int, int, str], ...]]:
    """Exact tags to a dict; repeating groups ('50xx,xxxx') to (mask, value, action) patterns."""
    exact: dict[int, str] = {}
    patterns = []
    for rule in rules:
        digits = rule.tag.replace(",", "")
        if "x" in digits:
            mask = int("".join("0" if c == "x" else "F" for c in digits), 16)
            patterns.append((mask, int(digits.replace("x", "0"), 16), rule.action))
        else:
            exact[int(digits, 16)] = rule.action
    return exact, tuple(patterns)


# DICOM PS3.15 2024b Table E.1-1, Basic Profile column, as data (see data/deid_basic_profile.csv).
BASIC_PROFILE_RULES = _load_rules()
BASIC_PROFILE, _REPEATING_GROUPS = _compile(BASIC_PROFILE_RULES)


def action_for(tag: int | BaseTag) -> str | None:
    """The table's action (D, Z, X or U) for a tag; X for private attributes; None where the table is silent."""
    tag = Tag(tag)
    if tag.is_private:
        return "X"
    if tag.element == 0 and tag.group != 0x0002:
        return "X"  # group lengths go stale once attributes are removed
    if int(tag) in BASIC_PROFILE:
        return BASIC_PROFILE[int(tag)]
    for mask, value, action in _REPEATING_GROUPS:
        if int(tag) & mask == value:
            return action
    return None


def _fallback(elem: DataElement) -> str | None:
    """Konsil's stricter net for attributes the table does not list."""
    if elem.VR == "PN":
        return "X"
    if elem.VR in ("DA", "DT"):
        return "X"
    if elem.VR == "UN":
        return "X"
    if elem.VR == "UI" and not elem.keyword.endswith(_DEFINITION_UID_SUFFIXES):
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        if any(value and not str(value).startswith(DICOM_ROOT) for value in values):
            return "U"
    return None


def _action(elem: DataElement) -> str | None:
    return action_for(elem.tag) or _fallback(elem)


class UIDMap:
    """Consistent UID remapping within one scope (a case): the same original always gets the same new UID.

    New UIDs are ``2.25.<128-bit integer>`` from an HMAC-SHA256 of the original under the scope's secret, so
    re-running with the same secret is stable; without a secret a random one is drawn for this map only.
    """

    def __init__(self, secret: bytes | None = None):
        if secret is not None and not secret:
            raise ValueError("secret must not be empty")
        self._key = secret if secret is not None else secrets.token_bytes(32)
        self._issued: dict[str, str] = {}

    def map(self, original: str) -> UID:
        """The new UID for an original UID (the empty value stays empty)."""
        key = str(original).strip("\x00 ")
        if not key:
            return UID("")
        if key not in self._issued:
            digest = hmac.new(self._key, key.encode("ascii", "replace"), hashlib.sha256).digest()[:16]
            self._issued[key] = f"2.25.{int.from_bytes(digest, 'big')}"
        return UID(self._issued[key])

    __call__ = map

    def issued(self, uid: str) -> bool:
        """Whether this map produced ``uid``."""
        return str(uid) in self._issued.values()

    def __len__(self) -> int:
        return len(self._issued)


@dataclass
class DeidResult:
    """A de-identified copy and what was done to it (keywords or tags only, never values)."""

    dataset: Dataset
    removed: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    uid_changes: int = 0
    burned_in: bool = False
    burned_in_suspected: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Run:
    uid_map: UIDMap
    dummy_name: str
    patient_id: str
    removed: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    uid_changes: int = 0
    dates_removed: bool = False


def _label(elem: DataElement) -> str:
    return elem.keyword or str(elem.tag)


def _has_value(elem: DataElement) -> bool:
    return not elem.is_empty


def _dummy(elem: DataElement, run: _Run) -> Any:
    if elem.tag == _PATIENT_ID:
        return run.patient_id
    if elem.VR == "PN":
        return run.dummy_name
    if elem.VR in _NUMERIC_VRS:
        return 0
    if elem.VR in _BINARY_VRS:
        return b"\x00\x00"
    return _DUMMY_BY_VR.get(elem.VR, DEFAULT_DUMMY)


def _clean(ds: Dataset, run: _Run) -> None:
    """Apply the profile to every attribute of ``ds``, recursing into the sequences that stay."""
    for elem in list(ds):
        action = _action(elem)
        if elem.VR in _TEMPORAL_VRS and action in ("X", "Z", "D") and _has_value(elem):
            run.dates_removed = True
        if elem.VR == "SQ" and action in (None, "U"):
            for item in elem.value:
                _clean(item, run)
        elif action is not None:
            _apply(ds, elem, action, run)


def _apply(ds: Dataset, elem: DataElement, action: str, run: _Run) -> None:
    """One action on one attribute: a sequence to dummy or a UID action on a non-UID VR is removed (stricter)."""
    if action == "X" or (action == "D" and elem.VR == "SQ") or (action == "U" and elem.VR != "UI"):
        del ds[elem.tag]
        run.removed.append(_label(elem))
        if action_for(elem.tag) is None:
            run.warnings.append(f"unlisted_{elem.VR.lower()}_removed")
    elif action == "Z":
        elem.value = run.dummy_name if elem.tag == _PATIENT_NAME else elem.empty_value
        run.replaced.append(_label(elem))
    elif action == "D":
        elem.value = _dummy(elem, run)
        run.replaced.append(_label(elem))
    else:
        _remap_uids(elem, run)


def _remap_uids(elem: DataElement, run: _Run) -> None:
    values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
    mapped = [run.uid_map.map(value) if value else value for value in values]
    run.uid_changes += sum(1 for old, new in zip(values, mapped, strict=True) if str(old) != str(new))
    elem.value = mapped if elem.VM > 1 else mapped[0]


def burned_in_status(ds: Dataset) -> tuple[bool, bool]:
    """(burned_in, suspected): declared burned-in text, or a modality / capture that often carries it."""
    flag = str(ds.get("BurnedInAnnotation", "")).strip().upper()
    burned_in = flag == "YES"
    modality = str(ds.get("Modality", "")).strip().upper()
    sop_class = str(ds.get("SOPClassUID", ""))
    capture_without_flag = sop_class.startswith(SECONDARY_CAPTURE_ROOT) and not flag
    return burned_in, not burned_in and (modality in SUSPECT_MODALITIES or capture_without_flag)


def _mark(ds: Dataset, dates_removed: bool) -> None:
    """Record the de-identification in the dataset itself (PS3.15 E.1.1 and the General / SOP Common modules)."""
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE_CODE
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD_TEXT
    ds.DeidentificationMethodCodeSequence = [code]
    ds.LongitudinalTemporalInformationModified = "REMOVED" if dates_removed else "UNMODIFIED"


def deidentify(ds: Dataset, *, uid_map: UIDMap, dummy_name: str = DEFAULT_DUMMY,
               patient_pseudo_id: str | None = None) -> DeidResult:
    """A de-identified copy of ``ds`` (file meta included) under the Basic Profile; ``ds`` is left untouched."""
    if not isinstance(ds, Dataset):
        raise TypeError("deidentify expects a pydicom Dataset")
    out = copy.deepcopy(ds)
    for attribute in ("preamble", "filename"):  # a preamble can hide a TIFF header; file names hold names
        if hasattr(out, attribute):
            setattr(out, attribute, None)
    run = _Run(uid_map=uid_map, dummy_name=dummy_name, patient_id=patient_pseudo_id or dummy_name)
    burned_in, suspected = burned_in_status(out)
    _clean(out, run)
    meta = getattr(out, "file_meta", None)
    if meta is not None:
        _clean(meta, run)
        if "SOPInstanceUID" in out:
            meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    _mark(out, run.dates_removed)
    if burned_in:
        run.warnings.append("burned_in_annotation")
    if suspected:
        run.warnings.append("burned_in_suspected")
    return DeidResult(dataset=out, removed=_unique(run.removed), replaced=_unique(run.replaced),
                      uid_changes=run.uid_changes, burned_in=burned_in, burned_in_suspected=suspected,
                      warnings=_unique(run.warnings))


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def leftover_identifiers(ds: Dataset, *, dummy_name: str = DEFAULT_DUMMY, patient_pseudo_id: str | None = None,
                         uid_map: UIDMap | None = None) -> list[str]:
    """Paths of attributes that still hold identifying values under the profile (and any private attribute).

    A UID counts as remapped when ``uid_map`` issued it, or, without a map, when it has the ``2.25.`` form.
    """
    allowed = {"", dummy_name, patient_pseudo_id or dummy_name, *(_DUMMY_BY_VR.values()), DEFAULT_DUMMY}
    found = list(_leftovers(ds, "", allowed, uid_map))
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        found += _leftovers(meta, "file_meta.", allowed, uid_map)
    return found


def _leftovers(ds: Dataset, prefix: str, allowed: set[str], uid_map: UIDMap | None) -> Iterator[str]:
    for elem in ds:
        path = prefix + _label(elem)
        action = _action(elem)
        if elem.VR == "SQ" and action in (None, "U"):
            for index, item in enumerate(elem.value):
                yield from _leftovers(item, f"{path}[{index}].", allowed, uid_map)
        elif elem.tag.is_private or _still_identifying(elem, action, allowed, uid_map):
            yield path


def _still_identifying(elem: DataElement, action: str | None, allowed: set[str], uid_map: UIDMap | None) -> bool:
    """Whether an attribute's value contradicts its action: X present, Z/D not empty or dummy, U not remapped."""
    if action == "U":
        return not all(_is_remapped(value, uid_map) for value in _values(elem))
    if action == "X":
        return _has_value(elem)
    if action in ("Z", "D"):
        return _has_value(elem) and not _is_dummy(elem, allowed)
    return False


def _values(elem: DataElement) -> list[Any]:
    if not _has_value(elem):
        return []
    return list(elem.value) if isinstance(elem.value, MultiValue | list) else [elem.value]


def _is_dummy(elem: DataElement, allowed: set[str]) -> bool:
    if elem.VR in _NUMERIC_VRS:
        return all(value == 0 for value in _values(elem))
    if elem.VR in _BINARY_VRS:
        return not any(bytes(elem.value))
    return all(str(value) in allowed for value in _values(elem))


def _is_remapped(value: Any, uid_map: UIDMap | None) -> bool:
    return uid_map.issued(value) if uid_map is not None else str(value).startswith("2.25.")


# -- files and folders -------------------------------------------------------------------------------------------

def deidentify_path(src: Path, dst: Path, *, secret: bytes | None = None) -> dict[str, Any]:
    """De-identify every DICOM file under ``src`` (a file or a folder) into ``dst``; return and write the report.

    Output names hold nothing of the input: ``dst/<new study UID>/<new series UID>/<n>.dcm``. The report names
    inputs by their 1-based index in sorted path order, never by path, since folder names often hold names.
    """
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise FileNotFoundError("the source path does not exist")
    files = _input_files(src, dst)
    uid_map = UIDMap(secret)
    report: dict[str, Any] = {"profile": PROFILE, "files_in": len(files), "dicom": 0, "written": 0, "skipped": [],
                              "failed": [], "burned_in": 0, "burned_in_suspected": 0, "uid_changes": 0,
                              "leftover": []}
    series_counts: dict[tuple[str, str], int] = {}
    for index, path in enumerate(files, start=1):
        _process_file(index, path, dst, uid_map, report, series_counts)
    dst.mkdir(parents=True, exist_ok=True)
    (dst / REPORT_NAME).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _input_files(src: Path, dst: Path) -> list[Path]:
    """Regular files under ``src`` in sorted order, without following links and leaving out ``dst``."""
    if src.is_file():
        return [src]
    dst = dst.resolve()
    found = []
    for folder, _dirs, names in os.walk(src, followlinks=False):
        if Path(folder).resolve().is_relative_to(dst):
            continue
        found += [Path(folder) / name for name in names]
    return sorted(found, key=str)


def _process_file(index: int, path: Path, dst: Path, uid_map: UIDMap, report: dict[str, Any],
                  series_counts: dict[tuple[str, str], int]) -> None:
    """De-identify and write one file, recording the outcome in ``report``; never raises for a bad file."""
    try:
        ds = _read(path)
    except RecordRejected as exc:
        bucket = "failed" if exc.code in ("dicom_corrupt", "dicom_unsupported_syntax") else "skipped"
        report[bucket].append({"index": index, "reason": exc.code, "detail": exc.detail})
        return
    report["dicom"] += 1
    try:
        result = deidentify(ds, uid_map=uid_map)
        leftover = leftover_identifiers(result.dataset, uid_map=uid_map)
        if leftover:
            report["leftover"].append({"index": index, "attributes": leftover})
            raise RecordRejected("processing", "identifying attributes left after de-identification")
        buffer = io.BytesIO()  # encode first: a file that cannot be encoded leaves nothing behind
        result.dataset.save_as(buffer, enforce_file_format=True)
        target = _target(dst, result.dataset, series_counts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(buffer.getvalue())
    except RecordRejected as exc:
        report["failed"].append({"index": index, "reason": exc.code, "detail": exc.detail})
        return
    except Exception as exc:  # one unwritable file must not stop the batch
        report["failed"].append({"index": index, "reason": "processing", "detail": type(exc).__name__})
        return
    report["written"] += 1
    report["uid_changes"] += result.uid_changes
    report["burned_in"] += int(result.burned_in)
    report["burned_in_suspected"] += int(result.burned_in_suspected)


def _read(path: Path) -> Dataset:
    """Parse one input file through the intake reader; links and DICOMDIR files are skipped."""
    if path.is_symlink() or not path.is_file():
        raise RecordRejected("unsupported_type", "not a regular file")
    if path.name.upper() == "DICOMDIR":
        raise RecordRejected("unsupported_type", "DICOMDIR: its file references do not survive renaming")
    return dicom.read(path.read_bytes())


def _target(dst: Path, ds: Dataset, series_counts: dict[tuple[str, str], int]) -> Path:
    """``dst/<study>/<series>/<n>.dcm`` from the new UIDs; the first free number in the series."""
    study = str(ds.get("StudyInstanceUID", "")) or "unknown-study"
    key = (study, str(ds.get("SeriesInstanceUID", "")) or "unknown-series")
    number = series_counts.get(key, 0)
    while True:
        number += 1
        target = dst / key[0] / key[1] / f"{number}.dcm"
        if not target.exists():
            series_counts[key] = number
            return target
