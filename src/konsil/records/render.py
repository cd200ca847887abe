"""Server-side rendering of DICOM frames to 8-bit PNG or JPEG for the viewer and thumbnails.

Grayscale: modality LUT (rescale), then a window (explicit > preset > the dataset's own > the frame's
min/max), MONOCHROME1 inverted. Colour (RGB, YBR_FULL, YBR_FULL_422, PALETTE COLOR) is shown as RGB,
without windowing.
"""

from __future__ import annotations

import io
import math
from typing import Literal

import numpy as np
from PIL import Image
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi,
    apply_windowing,
    convert_color_space,
    get_decoder,
)
from pydicom.pixels.utils import as_pixel_options

from .dicom import PIXEL_TAGS, can_decode, deferred_pixels, frame_count, transfer_syntax
from .errors import RecordRejected

PRESETS: dict[str, tuple[float, float]] = {  # (center, width) in HU
    "ct_soft_tissue": (40, 400),
    "ct_lung": (-600, 1500),
    "ct_bone": (300, 1500),
    "ct_brain": (40, 80),
}
PNG_COMPRESS_LEVEL = 1
JPEG_QUALITY = 90
MIN_WINDOW_WIDTH = 1
_YBR = ("YBR_FULL", "YBR_FULL_422")
Window = tuple[float, float] | str | None


def render(ds: Dataset, *, frame: int = 0, window: Window = None, size: int | None = None,
           fmt: Literal["png", "jpeg"] = "png") -> bytes:
    """One frame (0-based) as PNG or JPEG bytes; `size` is the longest edge in pixels (aspect kept, never enlarged)."""
    if fmt not in ("png", "jpeg"):
        raise ValueError(f"unknown image format {fmt!r}")
    if size is not None and size < 1:
        raise ValueError("size must be a positive number of pixels")
    requested = _requested_window(window)  # before decoding: a bad preset is the caller's error
    pixels, photometric = decode_frame(ds, frame)
    try:
        if pixels.ndim == 3 or photometric == "PALETTE COLOR":
            image = _to_rgb8(ds, pixels, photometric)
        else:
            image = _to_gray8(ds, pixels, requested)
            if photometric == "MONOCHROME1":
                image = 255 - image
        return _encode(image, size=size, fmt=fmt)
    except Exception as exc:  # a malformed LUT, colour or geometry element: the file's fault, not the caller's
        raise RecordRejected("dicom_corrupt", f"frame could not be rendered: {type(exc).__name__}") from exc


def thumbnail(ds: Dataset, size: int = 128) -> bytes:
    """PNG of the middle frame, at most `size` pixels on its longest edge."""
    return render(ds, frame=frame_count(ds) // 2, size=size, fmt="png")


def decode_frame(ds: Dataset, frame: int = 0) -> tuple[np.ndarray, str]:
    """The stored values of one frame and their photometric interpretation (colour still as stored)."""
    if not any(tag in ds for tag in PIXEL_TAGS):
        raise RecordRejected("dicom_no_pixels", "no pixel data element")
    if not can_decode(ds):
        raise RecordRejected("dicom_unsupported_syntax", f"no pixel decoder for {transfer_syntax(ds)}")
    frames = frame_count(ds)
    if not 0 <= frame < frames:
        raise ValueError(f"frame {frame} out of range: the instance has {frames} frame(s)")
    try:
        source, options = _source(ds)
        pixels, meta = get_decoder(transfer_syntax(ds)).as_array(*source, index=frame, raw=True, **options)
    except Exception as exc:  # decoders raise many types on damaged data
        raise RecordRejected("dicom_corrupt", f"pixel data could not be decoded: {type(exc).__name__}") from exc
    return pixels, str(meta.get("photometric_interpretation") or ds.get("PhotometricInterpretation", ""))


def _source(ds: Dataset) -> tuple[tuple, dict]:
    """What the decoder reads: the dataset, or, when its pixel data is still in the stream it was read from
    (dicom.read from a stream), that stream at the pixel data's value, so only the asked frame is read."""
    tag = next(t for t in PIXEL_TAGS if t in ds)
    raw = deferred_pixels(ds, tag)
    if raw is None:
        return (ds,), {}
    options = as_pixel_options(ds)
    options.update(transfer_syntax_uid=transfer_syntax(ds), pixel_keyword=keyword_for_tag(tag))
    if raw.VR:
        options["pixel_vr"] = raw.VR
    ds.konsil_stream.seek(raw.value_tell)
    return (ds.konsil_stream,), options


def _requested_window(window: Window) -> tuple[float, float] | None:
    if window is None:
        return None
    if isinstance(window, str):
        if window not in PRESETS:
            raise ValueError(f"unknown window preset {window!r}; known: {', '.join(PRESETS)}")
        return PRESETS[window]
    center, width = (float(value) for value in window)
    if not (math.isfinite(center) and math.isfinite(width)) or width < MIN_WINDOW_WIDTH:
        raise ValueError("window centre and width must be finite, the width at least 1")
    return center, width


def parse_window(center, width) -> tuple[float, float]:
    """A window from request parameters: finite numbers, width at least 1; ValueError otherwise."""
    return _requested_window((float(center), float(width)))


def _to_gray8(ds: Dataset, pixels: np.ndarray, requested: tuple[float, float] | None) -> np.ndarray:
    values = apply_modality_lut(pixels, ds)
    if requested is not None:
        return _window(values, *requested)
    own = _dataset_window(ds)
    if own is not None:
        return _window(values, *own)
    if "VOILUTSequence" in ds:
        return _voi_lut(values, ds)
    return _stretch(values)


def _dataset_window(ds: Dataset) -> tuple[float, float, str] | None:
    """The dataset's first WindowCenter/WindowWidth and its VOI LUT function, when usable."""
    try:
        center, width = (_first(ds["WindowCenter"].value), _first(ds["WindowWidth"].value))
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    function = str(ds.get("VOILUTFunction") or "LINEAR").upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        function = "LINEAR"
    if width < (1 if function == "LINEAR" else np.finfo(float).tiny):
        return None
    return center, width, function


def _first(value: object) -> float:
    """The first of a multi-valued DS (apply_voi_lut's default view), as float."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0]
    return float(value)


def _window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """PS3.3 C.11.2.1.2 windowing onto 0..255, through pydicom's apply_windowing."""
    voi = Dataset()
    voi.PhotometricInterpretation = "MONOCHROME2"
    voi.BitsStored, voi.PixelRepresentation = 8, 0  # output range 0..255
    voi.WindowCenter, voi.WindowWidth = f"{center:.6g}", f"{width:.6g}"
    voi.VOILUTFunction = function
    return np.rint(apply_windowing(values, voi)).astype(np.uint8)


def _voi_lut(values: np.ndarray, ds: Dataset) -> np.ndarray:
    """A VOI LUT Sequence table, scaled from its output bit depth to 8 bits."""
    try:
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        mapped = apply_voi(values.astype(np.int64) if values.dtype.kind == "f" else values, ds)
    except Exception:  # a malformed LUT: show the data rather than fail
        return _stretch(values)
    return np.clip(np.rint(mapped * (255 / (2 ** bits - 1))), 0, 255).astype(np.uint8)


def _stretch(values: np.ndarray) -> np.ndarray:
    """Map the frame's own min..max onto 0..255."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = (values.astype(np.float32) - low) * (255 / (high - low))
    return np.rint(scaled).astype(np.uint8)


def _to_rgb8(ds: Dataset, pixels: np.ndarray, photometric: str) -> np.ndarray:
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(pixels, ds)
        return rgb if rgb.dtype == np.uint8 else _scale_to_uint8(rgb, 16)  # palette tables hold 8 or 16 bits
    rgb = pixels if pixels.dtype == np.uint8 else _scale_to_uint8(pixels, int(ds.get("BitsStored") or 16))
    return convert_color_space(rgb, photometric, "RGB") if photometric in _YBR else rgb


def _scale_to_uint8(pixels: np.ndarray, bits: int) -> np.ndarray:
    return np.clip(np.rint(pixels.astype(np.float32) * (255 / (2 ** bits - 1))), 0, 255).astype(np.uint8)


def _encode(image: np.ndarray, *, size: int | None, fmt: str) -> bytes:
    picture = Image.fromarray(np.ascontiguousarray(image))
    if size is not None:
        picture.thumbnail((size, size))
    buffer = io.BytesIO()
    if fmt == "png":
        picture.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    else:
        picture.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
