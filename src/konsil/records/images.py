"""JPEG/PNG photos of records: size, format and an upright PNG thumbnail (Pillow)."""

from __future__ import annotations

import io
import struct

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from konsil.records.errors import RecordRejected

FORMATS = ("JPEG", "PNG")
ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
# What a damaged photo makes Pillow raise (UnidentifiedImageError is an OSError; PNG chunks raise SyntaxError).
IMAGE_ERRORS = (
    Image.DecompressionBombError, OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, KeyError,
    ZeroDivisionError, struct.error,
)
PNG_MODES = frozenset({"RGB", "RGBA", "L", "LA"})


def image_info(data: bytes) -> tuple[int, int, str]:
    """(width, height, format) as the photo is displayed, i.e. after its EXIF orientation."""
    with _open_verified(data) as image:
        width, height = image.size
        try:
            orientation = image.getexif().get(ExifTags.Base.Orientation)
        except IMAGE_ERRORS:
            orientation = None
        if orientation in ROTATED_ORIENTATIONS:
            width, height = height, width
        return width, height, image.format


def image_thumbnail(data: bytes, size: int = 200) -> bytes:
    """An upright PNG thumbnail (longest side at most `size`), without the photo's metadata."""
    source = _WatchedBytes(data)
    with _open_verified(data, source) as image:
        try:
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
            image.load()
            if source.read_past_end:
                raise RecordRejected("image_corrupt", "truncated")
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((size, size))
            if upright.mode not in PNG_MODES:
                upright = upright.convert("RGBA" if _has_alpha(upright) else "RGB")
            out = io.BytesIO()
            upright.save(out, format="PNG")
        except IMAGE_ERRORS as exc:
            raise RecordRejected("image_corrupt", type(exc).__name__) from exc
        return out.getvalue()


class _WatchedBytes(io.BytesIO):
    """Notes when a decoder asks for bytes past the end: the file is truncated.

    Pillow's own check is switched off process-wide by ImageFile.LOAD_TRUNCATED_IMAGES, which weasyprint sets
    on import; Konsil must refuse a truncated photo whatever else is loaded.
    """

    read_past_end = False

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if not chunk and size != 0:
            self.read_past_end = True
        return chunk


def _open_verified(data: bytes, stream: io.BytesIO | None = None) -> Image.Image:
    """Open a JPEG or PNG after Image.verify() and the decompression-bomb limit (Image.MAX_IMAGE_PIXELS)."""
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            _check_pixels(probe.size)
            probe.verify()
        return Image.open(stream or io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError as exc:
        raise RecordRejected("image_corrupt", "not a JPEG or PNG") from exc
    except IMAGE_ERRORS as exc:
        raise RecordRejected("image_corrupt", type(exc).__name__) from exc


def _check_pixels(size: tuple[int, int]) -> None:
    """Pillow only warns between MAX_IMAGE_PIXELS and twice that; Konsil refuses."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and size[0] * size[1] > limit:
        raise RecordRejected("image_corrupt", "more pixels than the decompression-bomb limit")


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.getbands() or "transparency" in image.info
