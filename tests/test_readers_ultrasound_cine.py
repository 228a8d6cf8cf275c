"""Ultrasound DICOM: cines (C, T, H, W) with dt in seconds, still images (C, H, W); pixel size in mm from the regions."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from monai.transforms import LoadImage, LoadImaged
from readers_testdata import US_CINE, us_region, write_us_cine, write_us_image

from monai_afpe.data.readers import ImageMetadataError, UltrasoundCineReader, UltrasoundImageReader
from monai_afpe.transforms import image_spacing

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")


def load(path, reader=UltrasoundCineReader, **kwargs):
    return LoadImage(reader=reader(**kwargs), image_only=True, ensure_channel_first=True)(str(path))


def test_real_cine_30_frames_with_frame_time_and_cropped_regions():
    """pydicom's echo clip: FrameTime 33.333 ms, 0.0510497 cm pixels; its region lies outside the cropped image."""
    with pytest.warns(UserWarning, match=r"x 84..595, y 31..414 lies outside the 320 x 240 image"):
        img = load(US_CINE)
    assert img.shape == (3, 30, 240, 320)
    np.testing.assert_allclose(image_spacing(img), [0.033333, 0.5104970559, 0.5104970559], rtol=1e-9)
    assert img.meta["spacing_units"] == ("s", "mm", "mm")
    assert img.meta["frame_time_source"] == "FrameTime"
    frames = pydicom.dcmread(US_CINE).pixel_array  # (T, H, W, RGB)
    np.testing.assert_array_equal(img.numpy(), np.moveaxis(frames, -1, 0))


def test_written_grey_cine_with_anisotropic_pixels(tmp_path):
    path = write_us_cine(tmp_path / "cine.dcm", timing={"FrameTime": 20.0}, regions=[us_region(0.04, 0.03)])
    img = load(path)
    assert img.shape == (1, 6, 8, 10)
    np.testing.assert_allclose(img.affine, np.diag([0.02, 0.3, 0.4, 1.0]))


@pytest.mark.parametrize(
    "timing, dt, source",
    [
        ({"FrameTimeVector": [0.0, 40.0, 40.0, 40.0, 40.0, 40.0]}, 0.04, "FrameTimeVector"),
        ({"CineRate": 25}, 0.04, "CineRate"),
        ({"RecommendedDisplayFrameRate": 50}, 0.02, "RecommendedDisplayFrameRate"),
        ({"FrameTime": 10.0, "CineRate": 25}, 0.01, "FrameTime"),  # FrameTime is preferred
        ({"FrameTimeVector": [0, 20, 20, 20, 20, 20], "RecommendedDisplayFrameRate": 10}, 0.02, "FrameTimeVector"),
    ],
)
def test_frame_interval_sources_in_order_of_preference(tmp_path, timing, dt, source):
    img = load(write_us_cine(tmp_path / "cine.dcm", timing=timing))
    assert float(img.affine[0, 0]) == pytest.approx(dt)
    assert img.meta["frame_time_source"] == source


def test_uneven_frame_time_vector_warns_and_uses_the_mean(tmp_path):
    path = write_us_cine(tmp_path / "cine.dcm", timing={"FrameTimeVector": [0, 30, 50, 30, 50, 40]})
    with pytest.warns(UserWarning, match=r"FrameTimeVector \(0018,1065\): frame intervals vary from 30 to 50 ms"):
        img = load(path)
    assert float(img.affine[0, 0]) == pytest.approx(0.04)


def test_missing_or_bad_timing_is_an_error(tmp_path):
    path = write_us_cine(tmp_path / "notime.dcm", timing={})
    with pytest.raises(ImageMetadataError, match=r"notime.dcm: FrameTime \(0018,1063\) / .* missing: the time"):
        load(path)
    path = write_us_cine(tmp_path / "zero.dcm", timing={"FrameTime": 0.0, "CineRate": 25})
    with pytest.raises(ImageMetadataError, match=r"zero.dcm: FrameTime \(0018,1063\): spacing must be finite and > 0"):
        load(path)


def test_region_problems_are_errors(tmp_path):
    degrees = write_us_cine(tmp_path / "polar.dcm", regions=[us_region(units_x=12)])
    with pytest.raises(ImageMetadataError, match=r"polar.dcm: .*PhysicalUnitsXDirection: code 12 \(degrees\)"):
        load(degrees)
    none = write_us_cine(tmp_path / "noregion.dcm", regions=[])
    with pytest.raises(ImageMetadataError, match=r"noregion.dcm: SequenceOfUltrasoundRegions \(0018,6011\): missing"):
        load(none)
    negative = write_us_cine(tmp_path / "negative.dcm", regions=[us_region(delta_x=-0.04)])
    with pytest.raises(ImageMetadataError, match=r"PhysicalDeltaX: spacing must be finite and > 0, got -0.04 cm"):
        load(negative)
    two = write_us_cine(tmp_path / "two.dcm", regions=[us_region(0.04, 0.03), us_region(0.05, 0.03)])
    with pytest.raises(ImageMetadataError, match="2D regions give different pixel sizes"):
        load(two)


def test_pixel_spacing_argument_replaces_the_regions(tmp_path):
    img = load(write_us_cine(tmp_path / "noregion.dcm", regions=[]), pixel_spacing=(0.25, 0.5))
    np.testing.assert_allclose(image_spacing(img)[1:], [0.25, 0.5])
    with pytest.raises(ValueError, match="pixel_spacing must be one or 2 finite numbers > 0"):
        UltrasoundCineReader(pixel_spacing=0.0)


def test_single_frame_has_too_few_dimensions(tmp_path):
    path = write_us_cine(tmp_path / "still.dcm", frames=1)
    with pytest.raises(
        ImageMetadataError,
        match=r"still.dcm: NumberOfFrames \(0028,0008\): 1 frame: too few dimensions.*UltrasoundImageReader",
    ):
        load(path)
    img = load(path, UltrasoundImageReader)  # what load_image picks for it
    assert img.shape == (1, 8, 10) and img.meta["spacing_units"] == ("mm", "mm")


def test_dictionary_pipeline_and_colour(tmp_path):
    path = write_us_cine(tmp_path / "colour.dcm", color=True, timing={"CineRate": 50})
    data = LoadImaged(keys="image", reader=UltrasoundCineReader(), ensure_channel_first=True)({"image": str(path)})
    assert data["image"].shape == (3, 6, 8, 10)
    np.testing.assert_allclose(image_spacing(data["image"]), [0.02, 0.3, 0.4])


def test_largest_tissue_region_wins_with_a_warning(tmp_path):
    """A small zoom inset (item 1) disagrees with the main 2D tissue region (item 2); a spectral Doppler strip
    (RegionSpatialFormat 3, in cm/s and s) is not about pixel size at all."""
    regions = [
        us_region(0.05, 0.05, bounds=(0, 0, 3, 3)),
        us_region(0.04, 0.03),
        us_region(0.5, 0.2, units_x=4, units_y=7, spatial_format=3, data_type=3),
    ]
    with pytest.warns(UserWarning, match=r"item 1: 0.5, 0.5 mm; item 2: 0.3, 0.4 mm; using item 2, the largest 2D"):
        img = load(write_us_cine(tmp_path / "cine.dcm", regions=regions))
    np.testing.assert_allclose(image_spacing(img), [0.04, 0.3, 0.4])


def test_tissue_region_is_preferred_over_a_larger_flow_region(tmp_path):
    regions = [us_region(0.05, 0.05, bounds=(0, 0, 9, 7), data_type=2), us_region(0.04, 0.03, bounds=(2, 2, 5, 5))]
    with pytest.warns(UserWarning, match=r"using item 2, the largest 2D tissue region \(16 pixels\)"):
        img = load(write_us_image(tmp_path / "us.dcm", regions=regions), UltrasoundImageReader)
    np.testing.assert_allclose(image_spacing(img), [0.3, 0.4])


def test_still_image_grey_and_colour(tmp_path):
    img = load(write_us_image(tmp_path / "grey.dcm", regions=[us_region(0.02, 0.05)]), UltrasoundImageReader)
    assert img.shape == (1, 8, 10) and img.meta["patient_affine"] is False
    np.testing.assert_allclose(img.affine, np.diag([0.5, 0.2, 1.0, 1.0]))
    np.testing.assert_array_equal(img[0].numpy(), pydicom.dcmread(tmp_path / "grey.dcm").pixel_array)
    colour = load(write_us_image(tmp_path / "colour.dcm", color=True), UltrasoundImageReader)
    np.testing.assert_array_equal(
        colour.numpy(), np.moveaxis(pydicom.dcmread(tmp_path / "colour.dcm").pixel_array, -1, 0)
    )


def test_still_image_reader_refuses_a_cine_and_takes_a_pixel_spacing(tmp_path):
    with pytest.raises(
        ImageMetadataError,
        match=r"cine.dcm: NumberOfFrames \(0028,0008\): 6 frames: not a single image \(read a cine with UltrasoundCineReader\)",
    ):
        load(write_us_cine(tmp_path / "cine.dcm"), UltrasoundImageReader)
    img = load(write_us_image(tmp_path / "noregion.dcm", regions=[]), UltrasoundImageReader, pixel_spacing=0.25)
    np.testing.assert_allclose(image_spacing(img), [0.25, 0.25])
    path = write_us_image(tmp_path / "us.dcm")
    data = LoadImaged(keys="image", reader=UltrasoundImageReader(), ensure_channel_first=True)({"image": str(path)})
    np.testing.assert_allclose(image_spacing(data["image"]), [0.3, 0.4])
