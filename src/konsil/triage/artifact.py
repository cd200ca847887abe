"""The triage artifact on disk: model.npz (arrays only, no pickled objects) and model.json (metadata, version)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rounded(value):
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def _block_meta(blocks) -> list[dict]:
    return [{"analyzer": b["analyzer"], "ngram_range": b["ngram_range"], "features": len(b["vocabulary"]),
             "lowercase": True, "token_pattern": r"(?u)\b\w\w+\b", "sublinear_tf": True, "norm": "l2"}
            for b in blocks]


def write_artifact(fitted, out_dir: str | Path) -> dict:
    """`fitted` (train.Fitted) as model.npz (arrays, fixed zip timestamps: same input, same bytes) and model.json
    (metadata + version)."""
    arrays = {}
    for prefix, part in (("", fitted), ("lay_", fitted.lay)):
        if part is None:
            continue
        arrays.update({f"{prefix}coef_q": part.coef_q, f"{prefix}coef_scale": part.coef_scale,
                       f"{prefix}intercept": part.intercept})
        for n, block in enumerate(part.blocks):
            arrays[f"{prefix}vocab{n}"] = np.frombuffer("\n".join(block["vocabulary"]).encode("utf-8"),
                                                        dtype=np.uint8)
            arrays[f"{prefix}idf{n}"] = np.asarray(block["idf"], dtype=np.float32)
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(arrays):
            data = io.BytesIO()
            np.lib.format.write_array(data, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data.getvalue())
            digest.update(name.encode() + data.getvalue())
    meta = {
        "classes": fitted.classes, "temperature": fitted.temperature,
        "top_calibration": list(fitted.top_calibration), "threshold": fitted.threshold,
        "blocks": _block_meta(fitted.blocks),
        **fitted.meta,
    }
    if fitted.lay is not None:
        meta["lay_blocks"] = _block_meta(fitted.lay.blocks)
    hashed = ("classes", "temperature", "top_calibration", "threshold", "blocks", "config", "registers", "lay_blocks")
    digest.update(json.dumps({k: meta[k] for k in hashed if k in meta}, sort_keys=True).encode())
    meta = {"version": digest.hexdigest()[:12], **meta}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.npz").write_bytes(buffer.getvalue())
    (out / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return meta
