"""SimpleITKReader: MONAI's ITKReader conventions, cross-checked against PydicomReader and NibabelReader;
NIfTI files follow the NIfTI-1 rule of NiftiReader."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from monai.data import NibabelReader, PydicomReader
from monai.data.utils import orientation_ras_lps
from monai.transforms import LoadImage, LoadImaged, Orientation
from pydicom.uid import EnhancedUSVolumeStorage
from readers_testdata import CT2N, CT5N, FUNCTIONAL, STANDARD, write_enhanced, write_series

from monai_afpe.data.readers import (
    EnhancedDicomReader,
    ImageMetadataError,
    NiftiGeometryWarning,
    NiftiReader,
    SimpleITKReader,
)
from monai_afpe.transforms import image_spacing

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")


def load(path, reader):
    return LoadImage(reader=reader, image_only=True, ensure_channel_first=True)(str(path))


def rotation(axis, degrees):
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    i, j = [k for k in range(3) if k != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def test_dicom_series_matches_pydicom_reader_in_world_space():
    """ITK sorts slices by position, PydicomReader by InstanceNumber: the same voxels in the same world."""
    ours, theirs = load(CT5N, SimpleITKReader()), load(CT5N, PydicomReader())
    assert ours.shape == theirs.shape == (1, 16, 16, 5)
    np.testing.assert_allclose(image_spacing(ours), [0.488281, 0.488281, 2.5], rtol=1e-6)
    np.testing.assert_allclose(ours.affine[:3, 2], [0.0, 0.0, 2.5], atol=1e-6)  # ascending z, unlike PydicomReader
    np.testing.assert_array_equal(ours.numpy(), np.flip(theirs.numpy(), axis=-1))
    to_ras = Orientation(axcodes="RAS", labels=None)
    ours, theirs = to_ras(ours), to_ras(theirs)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_allclose(ours.affine, theirs.affine, atol=1e-5)


@pytest.mark.parametrize("path", [FUNCTIONAL, STANDARD], ids=lambda p: p.name)
def test_nifti_matches_nibabel_reader(path):
    ours, theirs = load(path, SimpleITKReader()), load(path, NibabelReader())
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_allclose(ours.affine, theirs.affine, atol=1e-5)


def test_oblique_nifti_matches_nibabel_reader(tmp_path):
    zooms = np.array([0.7, 1.1, 3.0])
    affine = np.eye(4)
    affine[:3, :3] = rotation(0, 20) @ rotation(2, 35) @ np.diag(zooms)
    affine[:3, 3] = (-12.0, 8.5, 40.0)
    data = np.random.default_rng(0).random((6, 5, 4)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "oblique.nii.gz")
    ours, theirs = (
        load(tmp_path / "oblique.nii.gz", SimpleITKReader()),
        load(tmp_path / "oblique.nii.gz", NibabelReader()),
    )
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_allclose(ours.affine, theirs.affine, atol=1e-5)
    np.testing.assert_allclose(ours.affine, affine, atol=1e-5)
    np.testing.assert_allclose(image_spacing(ours), zooms, rtol=1e-6)  # spacing = column norms


def test_nifti_follows_the_nifti_rule_not_itks_pixdim(tmp_path):
    """ITK takes spacing from pixdim; a scanner sform of 0.8 x 0.8 x 3 mm with pixdim 1 still gives 0.8 x 0.8 x 3."""
    affine = np.eye(4)
    affine[:3, :3] = rotation(2, 30) @ np.diag([0.8, 0.8, 3.0])
    image = nib.Nifti1Image(np.random.default_rng(2).random((6, 5, 4)).astype(np.float32), None)
    image.header.set_sform(affine, code="scanner")
    image.header.set_xyzt_units("mm")
    nib.save(image, tmp_path / "stale.nii.gz")
    with pytest.warns(NiftiGeometryWarning, match="stale.nii.gz: sform: .* but pixdim"):
        ours = load(tmp_path / "stale.nii.gz", SimpleITKReader())
    with pytest.warns(NiftiGeometryWarning):
        theirs = load(tmp_path / "stale.nii.gz", NiftiReader())
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_allclose(ours.affine, affine, atol=1e-6)
    np.testing.assert_allclose(image_spacing(ours), [0.8, 0.8, 3.0], rtol=1e-6)
    np.testing.assert_allclose(ours.meta["spacing"], [0.8, 0.8, 3.0], rtol=1e-6)
    with pytest.warns(NiftiGeometryWarning):
        lps = load(tmp_path / "stale.nii.gz", SimpleITKReader(affine_lps_to_ras=False))
    np.testing.assert_allclose(lps.affine, orientation_ras_lps(affine), atol=1e-6)


@pytest.mark.parametrize("suffix", [".mha", ".nrrd"])
def test_mha_and_nrrd_affine_and_nifti_cross_check(tmp_path, suffix):
    data = np.random.default_rng(1).integers(0, 1000, (4, 5, 6)).astype(np.int16)  # (z, y, x)
    image = sitk.GetImageFromArray(data)
    spacing, origin = (0.6, 0.9, 2.2), (1.0, 2.0, 3.0)
    direction = rotation(1, 25)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(direction.ravel().tolist())
    sitk.WriteImage(image, str(tmp_path / f"image{suffix}"))
    sitk.WriteImage(image, str(tmp_path / "image.nii.gz"))

    ours = load(tmp_path / f"image{suffix}", SimpleITKReader())
    np.testing.assert_array_equal(ours[0].numpy(), data.T)  # ITK index order (x, y, z)
    expected = np.eye(4)
    expected[:3, :3], expected[:3, 3] = direction @ np.diag(spacing), origin
    np.testing.assert_allclose(ours.affine, orientation_ras_lps(expected), atol=1e-6)
    np.testing.assert_allclose(image_spacing(ours), spacing, rtol=1e-6)
    assert ours.meta["spacing_units"] == ("mm", "mm", "mm")

    nifti = load(tmp_path / "image.nii.gz", NibabelReader())
    np.testing.assert_array_equal(ours.numpy(), nifti.numpy())
    np.testing.assert_allclose(ours.affine, nifti.affine, atol=1e-5)


def test_multi_component_pixels_and_reverse_indexing(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 255, (4, 6, 3)).astype(np.uint8)  # (y, x, c)
    sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(tmp_path / "rgb.mha"))
    img = load(tmp_path / "rgb.mha", SimpleITKReader())
    assert img.shape == (3, 6, 4)
    np.testing.assert_array_equal(img.numpy(), np.transpose(rgb, (2, 1, 0)))
    reader = SimpleITKReader(reverse_indexing=True)
    array, meta = reader.get_data(reader.read(str(tmp_path / "rgb.mha")))
    np.testing.assert_array_equal(array, rgb)
    assert meta["original_channel_dim"] == -1


def test_series_geometry_is_validated(tmp_path):
    write_series(tmp_path, [0.0, 2.0, 4.0, 8.0])
    with pytest.raises(
        ImageMetadataError, match=r"ImagePositionPatient \(0020,0032\): slice positions are not uniformly"
    ):
        load(tmp_path, SimpleITKReader())


def test_inconsistent_series_raises_through_load_imaged():
    """The check runs in get_data, so LoadImaged reports it instead of falling back to another reader."""
    with pytest.raises(ImageMetadataError, match=r"CT2N: ImageOrientationPatient \(0020,0037\): inconsistent series"):
        LoadImaged(keys="image", reader=SimpleITKReader())({"image": str(CT2N)})


def test_folder_with_several_series(tmp_path):
    write_series(tmp_path, [0.0, 2.0, 4.0], series_uid="1.2.3.4")
    write_series(tmp_path / "b", [0.0, 3.0], series_uid="1.2.3.5")
    for path in (tmp_path / "b").iterdir():
        path.rename(tmp_path / f"b_{path.name}")
    with pytest.warns(UserWarning, match="2 series in the folder") as record:
        img = load(tmp_path, SimpleITKReader())
    read = next(str(w.message).rsplit(" ", 1)[-1] for w in record if "series in the folder" in str(w.message))
    assert img.shape[-1] == {"1.2.3.4": 3, "1.2.3.5": 2}[read]
    chosen = load(tmp_path, SimpleITKReader(series_name="1.2.3.5"))
    assert chosen.shape == (1, 5, 4, 2)
    np.testing.assert_allclose(image_spacing(chosen)[2], 3.0)
    with pytest.raises(ImageMetadataError, match=r"SeriesInstanceUID \(0020,000E\): no series '9.9'"):
        load(tmp_path, SimpleITKReader(series_name="9.9"))  # from get_data: LoadImage tries no other reader


@pytest.mark.parametrize(
    "offsets, options",
    [((0.0, 2.0, 4.0), {"sop_class": EnhancedUSVolumeStorage, "modality": "US"}), ((0.0, 2.0, 4.2, 6.0), {})],
    ids=["enhanced-us-volume", "uneven-frames-within-tolerance"],
)
def test_enhanced_file_that_simpleitk_reads_at_1_mm_is_refused_not_returned(tmp_path, offsets, options):
    path = write_enhanced(tmp_path / "enhanced.dcm", [(0.0, 0.0, z) for z in offsets], rescale=None, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the uneven steps, accepted by the tolerance
        with pytest.raises(ImageMetadataError) as error:
            load(path, SimpleITKReader(tolerance=0.5))
        message = str(error.value)
        assert str(path) in message and "spacing" in message
        assert "SimpleITK reads (1, 1, 1) mm, the functional groups state (0.8, 0.7, 2) mm" in message
        assert "read it with EnhancedDicomReader" in message
        np.testing.assert_allclose(image_spacing(load(path, EnhancedDicomReader(tolerance=0.5))), [0.8, 0.7, 2.0])


def test_single_frame_enhanced_us_volume_read_at_1_mm_in_plane_is_refused(tmp_path):
    path = write_enhanced(
        tmp_path / "one_frame.dcm", [(0.0, 0.0, 0.0)], rescale=None, sop_class=EnhancedUSVolumeStorage, modality="US"
    )
    with pytest.raises(ImageMetadataError) as error:
        load(path, SimpleITKReader())
    message = str(error.value)
    assert str(path) in message
    assert "SimpleITK reads (1, 1) mm, the functional groups state (0.8, 0.7) mm (column, row)" in message
    np.testing.assert_allclose(image_spacing(load(path, EnhancedDicomReader()))[:2], [0.8, 0.7])
