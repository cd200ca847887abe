"""JPEG/PNG photos: size, format, upright thumbnails, damage and decompression bombs."""

import io

import pytest
from PIL import ExifTags, Image, ImageFile

from konsil.records.errors import RecordRejected
from konsil.records.images import image_info, image_thumbnail


def photo(size=(400, 200), fmt="JPEG", mode="RGB", orientation=None, color=(200, 30, 30)) -> bytes:
    image = Image.new(mode, size, color if mode != "L" else 128)
    if mode == "RGB":
        image.paste((10, 10, 200), (0, 0, size[0] // 4, size[1]))  # a blue band on the left edge
    out = io.BytesIO()
    options = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        exif[ExifTags.Base.Make] = "PhoneCam"
        options["exif"] = exif
    image.save(out, format=fmt, **options)
    return out.getvalue()


def rejected_code(function, *args) -> str:
    with pytest.raises(RecordRejected) as caught:
        function(*args)
    return caught.value.code


def test_info_of_jpeg_and_png():
    assert image_info(photo()) == (400, 200, "JPEG")
    assert image_info(photo((30, 60), fmt="PNG", mode="RGBA", color=(0, 0, 0, 0))) == (30, 60, "PNG")


def test_info_applies_exif_rotation():
    assert image_info(photo(orientation=6)) == (200, 400, "JPEG")
    assert image_info(photo(orientation=3)) == (400, 200, "JPEG")


def test_thumbnail_is_png_within_size():
    thumbnail = Image.open(io.BytesIO(image_thumbnail(photo((1600, 800)), size=100)))
    assert thumbnail.format == "PNG"
    assert thumbnail.size == (100, 50)


def test_thumbnail_is_upright_and_drops_metadata():
    thumbnail = Image.open(io.BytesIO(image_thumbnail(photo((400, 200), orientation=6))))
    assert thumbnail.size == (100, 200)
    red, green, blue = thumbnail.convert("RGB").getpixel((50, 5))
    assert blue > red  # the blue left band is at the top after a 90° clockwise rotation
    assert not thumbnail.getexif()
    assert "exif" not in thumbnail.info


@pytest.mark.parametrize(
    ("fmt", "mode", "color"),
    [("PNG", "RGBA", (0, 0, 0, 0)), ("PNG", "L", 128), ("JPEG", "CMYK", (0, 0, 0, 0)), ("PNG", "P", 3)],
)
def test_thumbnail_handles_modes(fmt, mode, color):
    image = Image.new(mode, (50, 40), color)
    out = io.BytesIO()
    image.save(out, format=fmt)
    thumbnail = Image.open(io.BytesIO(image_thumbnail(out.getvalue(), size=25)))
    assert thumbnail.size == (25, 20)


def test_small_photo_is_not_enlarged():
    assert Image.open(io.BytesIO(image_thumbnail(photo((40, 30))))).size == (40, 30)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0" + b"\x00" * 40,  # JPEG magic then nothing
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # PNG magic then nothing
        b"not an image",
        b"",
        b"GIF89a" + b"\x00" * 40,
    ],
)
def test_damaged_photo_is_rejected(data):
    assert rejected_code(image_info, data) == "image_corrupt"
    assert rejected_code(image_thumbnail, data) == "image_corrupt"


def test_png_with_broken_chunk_crc():
    data = bytearray(photo(fmt="PNG"))
    data[data.index(b"IDAT") + 10] ^= 0xFF
    assert rejected_code(image_info, bytes(data)) == "image_corrupt"


@pytest.mark.parametrize("load_truncated", [False, True])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_photo_thumbnail(monkeypatch, fmt, load_truncated):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", load_truncated)  # weasyprint sets it on import
    data = noisy_photo(fmt)
    assert rejected_code(image_thumbnail, data[: len(data) // 2]) == "image_corrupt"
    assert rejected_code(image_thumbnail, data[:-40]) == "image_corrupt"
    assert Image.open(io.BytesIO(image_thumbnail(data))).size == (200, 150)


def noisy_photo(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(out, format=fmt)
    return out.getvalue()


def test_gif_is_not_accepted():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    assert rejected_code(image_info, out.getvalue()) == "image_corrupt"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_limit_is_respected(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    warning_zone = photo((12, 12), fmt="PNG")  # 144 px: Pillow itself only warns
    error_zone = photo((20, 20), fmt="PNG")  # 400 px: Pillow raises
    for data in (warning_zone, error_zone):
        assert rejected_code(image_info, data) == "image_corrupt"
        assert rejected_code(image_thumbnail, data) == "image_corrupt"
    assert image_info(photo((10, 10), fmt="PNG")) == (10, 10, "PNG")
