"""DICOM series: spacing from ImagePositionPatient steps, validated on top of MONAI's PydicomReader."""

from __future__ import annotations

import pickle

import numpy as np
import pydicom
import pytest
from monai.data import PydicomReader
from monai.transforms import LoadImage
from readers_testdata import AXIAL, CT2N, CT5N, CT_SMALL, UNSET, rotation_z, write_series, write_slice

from monai_afpe.data.readers import DicomSeriesReader, ImageMetadataError, SliceGeometry, check_slice_geometry
from monai_afpe.transforms import image_spacing

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")


def load(path, reader):
    return LoadImage(reader=reader, image_only=True, ensure_channel_first=True)(str(path))


def test_ct5n_true_spacing_in_monai_axis_order():
    img = load(CT5N, DicomSeriesReader())
    assert img.shape == (1, 16, 16, 5)
    np.testing.assert_allclose(image_spacing(img), [0.488281, 0.488281, 2.5], rtol=1e-6)
    # slice z decreases as InstanceNumber rises: the third column points down (RAS z < 0)
    np.testing.assert_allclose(img.affine[:3, 2], [0.0, 0.0, -2.5], atol=1e-6)
    assert img.meta["spacing_units"] == ("mm", "mm", "mm")


def test_same_array_and_affine_as_pydicom_reader():
    ours, theirs = load(CT5N, DicomSeriesReader()), load(CT5N, PydicomReader())
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_allclose(ours.affine, theirs.affine)


def test_slice_spacing_is_the_position_step_not_slice_thickness(tmp_path):
    write_series(tmp_path, [0.0, 3.0, 6.0, 9.0], slice_thickness=1.0)
    with pytest.warns(UserWarning, match=r"SliceThickness \(0018,0050\): 1 mm disagrees with the 3 mm step"):
        img = load(tmp_path, DicomSeriesReader())
    np.testing.assert_allclose(image_spacing(img), [0.8, 0.7, 3.0])  # (columns, rows, slices)


def test_spacing_between_slices_disagreeing_warns(tmp_path):
    write_series(tmp_path, [0.0, 2.0, 4.0], slice_thickness=2.0, spacing_between_slices=2.5)
    with pytest.warns(UserWarning, match=r"SpacingBetweenSlices \(0018,0088\): 2.5 mm disagrees with the 2 mm"):
        load(tmp_path, DicomSeriesReader())


def test_oblique_series_spacing_and_direction(tmp_path):
    orientation = rotation_z(30)
    write_series(tmp_path, [0.0, 1.5, 3.0, 4.5], orientation=orientation)
    img = load(tmp_path, DicomSeriesReader())
    np.testing.assert_allclose(image_spacing(img), [0.8, 0.7, 1.5])
    # first array axis runs along the row direction (LPS -> RAS flips x and y)
    expected = np.array(orientation[:3]) * 0.8 * np.array([-1, -1, 1])
    np.testing.assert_allclose(img.affine[:3, 0], expected, atol=1e-9)


def test_non_uniform_slices_raise_naming_folder_and_files(tmp_path):
    write_series(tmp_path, [0.0, 2.5, 5.0, 10.0, 12.5])  # s4 follows a missing slice
    with pytest.raises(ImageMetadataError) as info:
        load(tmp_path, DicomSeriesReader())
    message = str(info.value)
    assert str(tmp_path) in message and "ImagePositionPatient (0020,0032)" in message
    assert "not uniformly spaced" in message and "s3.dcm -> s4.dcm: 5 mm" in message
    assert "\n" not in message


def test_tolerance_turns_the_error_into_a_warning_with_the_mean_step(tmp_path):
    write_series(tmp_path, [0.0, 2.5, 5.2, 7.5, 10.0])
    with pytest.warns(UserWarning, match="not uniformly spaced.*using the mean step"):
        img = load(tmp_path, DicomSeriesReader(tolerance=0.5))
    np.testing.assert_allclose(image_spacing(img)[2], 2.5)
    with pytest.raises(ImageMetadataError, match="not uniformly spaced"):
        load(tmp_path, DicomSeriesReader(tolerance=0.1))


def test_missing_pixel_spacing_names_the_file(tmp_path):
    write_series(tmp_path, [0.0, 2.0])
    write_slice(tmp_path / "s3.dcm", position=(10.0, -20.0, 34.0), instance=3, pixel_spacing=UNSET)
    with pytest.raises(ImageMetadataError, match=r"PixelSpacing \(0028,0030\): missing in s3.dcm"):
        load(tmp_path, DicomSeriesReader())


@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")
@pytest.mark.parametrize("bad", [0.0, -0.7, float("nan"), float("inf")])
def test_bad_pixel_spacing_values(tmp_path, bad):
    path = write_slice(tmp_path / "bad.dcm", pixel_spacing=(bad, 0.8))
    with pytest.raises(
        ImageMetadataError, match=r"bad.dcm: PixelSpacing \(0028,0030\): spacing must be finite and > 0"
    ):
        load(path, DicomSeriesReader())


def test_inconsistent_series_in_real_files():
    """pydicom's CT2N holds a sagittal and a coronal slice; PydicomReader would stack them."""
    with pytest.raises(ImageMetadataError, match=r"CT2N: ImageOrientationPatient \(0020,0037\): inconsistent series"):
        load(CT2N, DicomSeriesReader())


def test_two_series_in_one_folder(tmp_path):
    write_series(tmp_path, [0.0, 2.0], series_uid="1.2.3.4")
    write_slice(tmp_path / "other.dcm", position=(10.0, -20.0, 34.0), instance=3, series_uid="1.2.3.5")
    with pytest.raises(ImageMetadataError, match=r"SeriesInstanceUID \(0020,000E\): inconsistent series: 2 series"):
        load(tmp_path, DicomSeriesReader())


def test_repeated_and_unordered_positions(tmp_path):
    write_series(tmp_path / "repeat", [0.0, 2.0, 2.0, 4.0])
    with pytest.raises(ImageMetadataError, match="share a position.*s2.dcm -> s3.dcm"):
        load(tmp_path / "repeat", DicomSeriesReader())
    write_series(tmp_path / "shuffled", [0.0, 4.0, 2.0, 6.0])
    with pytest.raises(ImageMetadataError, match="do not advance in one direction"):
        load(tmp_path / "shuffled", DicomSeriesReader())


def test_gantry_tilt_warns_and_keeps_the_sheared_step(tmp_path):
    folder = tmp_path / "tilt"
    folder.mkdir()
    for i in range(3):
        write_slice(folder / f"s{i}.dcm", position=(0.0, 0.5 * i, 2.0 * i), instance=i + 1)
    with pytest.warns(UserWarning, match="gantry tilt"):
        img = load(folder, DicomSeriesReader())
    np.testing.assert_allclose(image_spacing(img)[2], np.hypot(2.0, 0.5))


def test_single_file_needs_its_geometry(tmp_path):
    img = load(CT_SMALL, DicomSeriesReader())
    np.testing.assert_allclose(image_spacing(img), [0.661468, 0.661468])
    path = write_slice(tmp_path / "noposition.dcm", position=UNSET)
    with pytest.raises(ImageMetadataError, match=r"noposition.dcm: ImagePositionPatient \(0020,0032\): missing"):
        load(path, DicomSeriesReader())


def test_check_slice_geometry_returns_the_step_vector():
    slices = [SliceGeometry(f"f{i}", (0.0, 0.0, -1.5 * i), AXIAL, (0.5, 0.5)) for i in range(4)]
    np.testing.assert_allclose(check_slice_geometry(slices, "stack"), [0.0, 0.0, -1.5])
    assert check_slice_geometry(slices[:1], "stack") is None
    with pytest.raises(ValueError, match="tolerance must be a finite number >= 0"):
        check_slice_geometry(slices, "stack", tolerance=-1)
    skewed = [SliceGeometry("f", (0, 0, 0), (1, 0, 0, 0.5, 0.5, 0), (0.5, 0.5))]
    with pytest.raises(ImageMetadataError, match="unit vectors at right angles"):
        check_slice_geometry(skewed, "stack")


@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")
def test_over_long_ds_values_keep_their_geometry(tmp_path):
    """PydicomReader alone drops DS values over 16 characters and falls back to an identity affine."""
    path = write_slice(tmp_path / "long.dcm")
    ds = pydicom.dcmread(path)
    ds.ImageOrientationPatient = [0.6, 0.8, 0.0, -0.8, 0.6, 0.000123456789012345678]  # valid, but 17+ characters
    ds.save_as(path)
    with pytest.warns(UserWarning, match="defaults to the identity"):
        plain = load(path, PydicomReader())
    np.testing.assert_allclose(np.linalg.norm(plain.affine[:3, :2], axis=0), [1.0, 1.0])  # spacing lost
    img = load(path, DicomSeriesReader())
    np.testing.assert_allclose(img.affine[:3, 0], [-0.48, -0.64, 0.0])  # row direction * column spacing, RAS
    np.testing.assert_allclose(np.linalg.norm(img.affine[:3, :2], axis=0), [0.8, 0.7], rtol=1e-6)


def test_error_names_source_and_field_and_pickles():
    error = ImageMetadataError("ct/1.dcm", "PixelSpacing (0028,0030)", "missing")
    assert str(error) == "ct/1.dcm: PixelSpacing (0028,0030): missing"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.source, copy.field, copy.problem, str(copy)) == (error.source, error.field, error.problem, str(error))
