"""`konsil records inspect | deidentify` as plain functions (cli.py parses the arguments)."""

from __future__ import annotations

import json
from pathlib import Path

from . import archive, detect, dicom, fhir, images, pdf
from .errors import RecordRejected


def inspect(path: Path) -> dict:
    """What Konsil would extract from a file (or a CD folder), without storing anything."""
    if path.is_dir():
        return _inspect_entries(archive.iter_folder(path), kind="folder")
    data = path.read_bytes()
    kind = detect.detect(data, path.name)
    if kind == "zip":
        return _inspect_entries(archive.iter_entries(data), kind="zip")
    return {"kind": kind, "size": len(data), **_inspect_one(kind, data)}


def _inspect_one(kind: str, data: bytes) -> dict:
    if kind == "fhir":
        summary = fhir.summarize(fhir.parse(data)).to_dict()
        return {"patient": summary.get("patient"), "counts": summary.get("counts"),
                **{key: summary.get(key, []) for key in fhir.SECTIONS}}
    if kind == "dicom":
        return {"studies": dicom_tree([dicom.index(dicom.read(data))])}  # with pixels: cut images are refused
    if kind == "pdf":
        info = pdf.inspect(data)
        return {"pages": info.pages, "text_length": info.text_length}
    if kind in ("jpeg", "png"):
        width, height, fmt = images.image_info(data)
        return {"width": width, "height": height, "format": fmt}
    return {"text_length": len(detect.decode_text(data) or "")}


def _inspect_entries(entries, *, kind: str) -> dict:
    infos, others, skipped = [], [], {}
    for entry in entries:
        if entry.skipped_reason:
            skipped[entry.skipped_reason] = skipped.get(entry.skipped_reason, 0) + 1
            continue
        try:
            entry_kind = detect.detect(entry.data, "")
            if entry_kind == "dicom":
                infos.append(dicom.index(dicom.read(entry.data)))
            else:
                others.append({"kind": entry_kind, "size": len(entry.data), **_inspect_one(entry_kind, entry.data)})
        except RecordRejected as exc:
            skipped[exc.code] = skipped.get(exc.code, 0) + 1
    return {"kind": kind, "studies": dicom_tree(infos), "documents": others, "skipped": skipped}


def dicom_tree(infos) -> list[dict]:
    """Study / series tree with counts, from indexed instances."""
    studies: dict[str, dict] = {}
    for info in sorted(infos, key=dicom.sort_key):
        study = studies.setdefault(info.study_uid, {
            "study_uid": info.study_uid, "date": info.study_date.isoformat() if info.study_date else None,
            "description": info.study_description, "series": {}})
        series = study["series"].setdefault(info.series_uid, {
            "series_uid": info.series_uid, "number": info.series_number, "modality": info.modality,
            "body_part": info.body_part, "description": info.series_description, "instances": 0, "frames": 0})
        series["instances"] += 1
        series["frames"] += info.frames
    return [{**s, "series": list(s["series"].values())} for s in studies.values()]


def deidentify(src: Path, dst: Path) -> dict:
    from .deid import deidentify_path

    return deidentify_path(src, dst)


def dump(obj, stream) -> None:
    stream.write(json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n")
