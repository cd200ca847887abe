"""Server-side rendering of DICOM frames: windows, presets, photometric interpretations, frames, size, formats."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.pixels import set_pixel_data

from konsil.records import dicom, render, synthetic
from konsil.records.errors import RecordRejected


@pytest.fixture(scope="module")
def ct():
    return dicom.read(synthetic.ct_series(3, size=128)[1])


@pytest.fixture(scope="module")
def ct_hu(ct):
    return ct.pixel_array.astype(np.float64) + float(ct.RescaleIntercept)


@pytest.fixture(scope="module")
def mr():
    return dicom.read(synthetic.mr_multiframe(frames=10, size=32))


@pytest.fixture(scope="module")
def cr():
    return dicom.read(synthetic.monochrome1_cr(size=32))


def _pixels(image: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image)))


def _linear(hu: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 onto 0..255: the reference the renderer must match."""
    scaled = ((hu - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.clip(scaled, 0, 255)


def _changed(ds: pydicom.Dataset, change) -> pydicom.Dataset:
    copy = pydicom.dcmread(io.BytesIO(_bytes(ds)))
    change(copy)
    return copy


def _bytes(ds: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


# --- CT: presets and windows -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", sorted(render.PRESETS))
def test_presets_follow_the_dicom_linear_window(ct, ct_hu, preset):
    center, width = render.PRESETS[preset]
    image = _pixels(render.render(ct, window=preset))
    assert image.dtype == np.uint8 and image.shape == (128, 128)
    assert np.abs(image.astype(float) - _linear(ct_hu, center, width)).max() <= 1


def test_soft_tissue_shows_air_black_and_bone_white(ct, ct_hu):
    image = _pixels(render.render(ct, window="ct_soft_tissue"))
    air, bone, tissue = ct_hu < -900, ct_hu > 700, np.abs(ct_hu - 40) <= 6
    assert air.sum() > 1000 and bone.sum() > 50 and tissue.sum() > 1000
    assert (image[air] == 0).all()
    assert (image[bone] == 255).all()
    assert 110 < image[tissue].mean() < 145
    assert image[0, 0] == 0  # the corner is air


def test_bone_window_separates_what_soft_tissue_saturates(ct, ct_hu):
    soft = _pixels(render.render(ct, window="ct_soft_tissue"))
    bone = _pixels(render.render(ct, window="ct_bone"))
    dense = ct_hu > 250
    assert (soft[dense] == 255).all()
    assert len(np.unique(bone[dense])) > 1


def test_explicit_window_wins_over_preset_and_dataset(ct, ct_hu):
    image = _pixels(render.render(ct, window=(0, 2)))
    assert (image[ct_hu > 1] == 255).all()
    assert (image[ct_hu < -1] == 0).all()


def test_dataset_window_is_the_default(ct):
    assert render.render(ct) == render.render(ct, window="ct_soft_tissue")  # the series carries 40/400


def test_first_of_several_dataset_windows_is_used(ct):
    def two_windows(ds):
        ds.WindowCenter, ds.WindowWidth = [300, 40], [1500, 400]
    assert render.render(_changed(ct, two_windows)) == render.render(ct, window="ct_bone")


def test_without_a_window_the_frame_is_stretched_min_to_max(ct, ct_hu):
    def no_window(ds):
        del ds.WindowCenter, ds.WindowWidth
    image = _pixels(render.render(_changed(ct, no_window)))
    assert (image.min(), image.max()) == (0, 255)
    expected = (ct_hu - ct_hu.min()) / (ct_hu.max() - ct_hu.min()) * 255
    assert np.abs(image - expected).max() <= 1


def test_unusable_dataset_window_falls_back_to_min_max(ct):
    def zero_width(ds):
        ds.WindowWidth = 0
    image = _pixels(render.render(_changed(ct, zero_width)))
    assert (image.min(), image.max()) == (0, 255)


def test_sigmoid_voi_function_is_honoured(ct, ct_hu):
    def sigmoid(ds):
        ds.VOILUTFunction = "SIGMOID"
    image = _pixels(render.render(_changed(ct, sigmoid))).astype(float)
    expected = 255 / (1 + np.exp(-4 * (ct_hu - 40) / 400))
    assert np.abs(image - expected).max() <= 1


@pytest.mark.parametrize("window", ["ct_liver", "", "CT_BONE"])
def test_unknown_preset_is_a_value_error(ct, window):
    with pytest.raises(ValueError, match="preset"):
        render.render(ct, window=window)


def test_window_width_below_one_is_a_value_error(ct):
    with pytest.raises(ValueError):
        render.render(ct, window=(40, 0))


# --- photometric interpretations -------------------------------------------------------------------------------------

def test_monochrome1_is_inverted(cr):
    image = _pixels(render.render(cr))
    assert image[5, 0] == 255  # stored 0 is white in MONOCHROME1
    assert image[5, -1] == 0
    assert (np.diff(image[5].astype(int)) <= 0).all()
    as_monochrome2 = _changed(cr, lambda ds: setattr(ds, "PhotometricInterpretation", "MONOCHROME2"))
    assert (_pixels(render.render(as_monochrome2)) == 255 - image).all()


@pytest.mark.parametrize("photometric", ["RGB", "YBR_FULL", "YBR_FULL_422"])
def test_colour_is_rendered_as_rgb(photometric):
    ds = dicom.read(synthetic.color_us(photometric=photometric, size=48))
    image = _pixels(render.render(ds))
    assert image.shape == (48, 48, 3)
    for column, colour in ((5, (255, 0, 0)), (24, (0, 255, 0)), (42, (0, 0, 255))):
        assert np.abs(image[10, column].astype(int) - colour).max() <= 3, (column, image[10, column])


def test_colour_ignores_windows():
    ds = dicom.read(synthetic.color_us(size=24))
    assert render.render(ds, window="ct_bone") == render.render(ds) == render.render(ds, window=(0, 10))


def test_palette_colour_goes_through_its_lookup_table():
    ds = dicom.read(synthetic.monochrome1_cr(size=8))
    set_pixel_data(ds, np.tile(np.array([0, 1, 2, 3], dtype=np.uint8), (4, 1)), "PALETTE COLOR", 8,
                   generate_instance_uid=False)
    table = {"Red": [0, 255, 0, 0], "Green": [0, 0, 255, 0], "Blue": [0, 0, 0, 255]}
    for colour, values in table.items():
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [4, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", np.array(values, "<u2").__mul__(257).tobytes())
    image = _pixels(render.render(ds))
    assert image[0].tolist() == [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]


# --- frames, size, formats -------------------------------------------------------------------------------------------

def test_multiframe_renders_the_requested_frame(mr):
    centre = [_pixels(render.render(mr, frame=k, window=(500, 1000)))[16, 16] for k in range(10)]
    expected = _linear(np.array([100.0 * (k + 1) for k in range(10)]), 500, 1000)
    assert np.abs(np.array(centre) - expected).max() <= 1
    assert centre == sorted(centre) and centre[0] < centre[-1]


@pytest.mark.parametrize("frame", [10, -1, 99])
def test_frame_out_of_range_is_a_value_error(mr, frame):
    with pytest.raises(ValueError, match="frame"):
        render.render(mr, frame=frame)


def test_single_frame_has_only_frame_zero(ct):
    with pytest.raises(ValueError):
        render.render(ct, frame=1)


def test_size_is_the_longest_edge_and_keeps_aspect():
    ds = dicom.read(synthetic.monochrome1_cr(size=8))
    set_pixel_data(ds, np.arange(40 * 80, dtype=np.uint16).reshape(40, 80) % 4096, "MONOCHROME2", 12,
                   generate_instance_uid=False)
    assert Image.open(io.BytesIO(render.render(ds, size=20))).size == (20, 10)
    assert Image.open(io.BytesIO(render.render(ds, size=500))).size == (80, 40)  # never enlarged
    with pytest.raises(ValueError):
        render.render(ds, size=0)


def test_png_is_8_bit(ct):
    picture = Image.open(io.BytesIO(render.render(ct)))
    assert (picture.format, picture.mode) == ("PNG", "L")


def test_jpeg_output(ct):
    data = render.render(ct, fmt="jpeg", size=64)
    assert data[:2] == b"\xff\xd8"
    picture = Image.open(io.BytesIO(data))
    assert (picture.format, picture.mode, picture.size) == ("JPEG", "L", (64, 64))
    colour = Image.open(io.BytesIO(render.render(dicom.read(synthetic.color_us(size=24)), fmt="jpeg")))
    assert colour.mode == "RGB"


def test_unknown_format_is_a_value_error(ct):
    with pytest.raises(ValueError):
        render.render(ct, fmt="gif")


def test_thumbnail_is_a_small_png_of_the_middle_frame(mr, ct):
    assert render.thumbnail(mr, size=16) == render.render(mr, frame=5, size=16)
    picture = Image.open(io.BytesIO(render.thumbnail(ct)))
    assert picture.format == "PNG" and max(picture.size) == 128
    assert max(Image.open(io.BytesIO(render.thumbnail(ct, size=40))).size) == 40


def test_raw_dump_renders_like_the_part10_file(ct):
    ds = _changed(ct, lambda ds: None)
    del ds.file_meta
    ds.preamble = None
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert render.render(dicom.read(buffer.getvalue())) == render.render(ct)


# --- what cannot be rendered -----------------------------------------------------------------------------------------

def test_header_only_dataset_has_no_pixels(ct):
    header_only = dicom.read(_bytes(ct), pixels=False)
    with pytest.raises(RecordRejected) as caught:
        render.render(header_only)
    assert caught.value.code == "dicom_no_pixels"


def test_undecodable_syntax_is_unsupported(ct):
    def as_mpeg2(ds):
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"
        ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])
    with pytest.raises(RecordRejected) as caught:
        render.render(_changed(ct, as_mpeg2))
    assert caught.value.code == "dicom_unsupported_syntax"


def test_damaged_compressed_pixels_are_corrupt(ct):
    def broken_jpeg(ds):
        ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEGBaseline8Bit
        ds.PixelData = encapsulate([b"\xff\xd8\xff\xe0garbage\xff\xd9"])
    ds = _changed(ct, broken_jpeg)
    if not dicom.can_decode(ds):
        pytest.skip("no JPEG decoder in this install")
    with pytest.raises(RecordRejected) as caught:
        render.render(ds)
    assert caught.value.code == "dicom_corrupt"
