"""load_image / select_reader: one entry point for NIfTI, DICOM (series, enhanced, cine), MHA / NRRD and video."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from pydicom.uid import EnhancedMRImageStorage
from readers_testdata import (
    CT5N,
    CT_SMALL,
    FUNCTIONAL,
    US_CINE,
    write_enhanced,
    write_enhanced_ct,
    write_us_image,
    write_video,
    write_xa,
)

from monai_afpe.data.readers import (
    DicomSeriesReader,
    EnhancedDicomReader,
    ImageMetadataError,
    NiftiReader,
    SimpleITKReader,
    UltrasoundCineReader,
    UltrasoundImageReader,
    VideoReader,
    load_image,
    select_reader,
)
from monai_afpe.transforms import image_spacing

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")


def save_nifti(path, shape=(4, 5, 6), affine=None, units="mm", header=None):
    img = nib.Nifti1Image(np.zeros(shape, np.float32), np.eye(4) if affine is None else affine, header)
    if units is not None:
        img.header.set_xyzt_units(units)
    nib.save(img, path)
    return path


def test_reader_selection(tmp_path):
    sitk.WriteImage(sitk.Image(3, 3, 3, sitk.sitkUInt8), str(tmp_path / "a.nrrd"))
    write_video(tmp_path / "a.mp4", "mpeg4", "yuv420p")
    cases = {
        CT5N: DicomSeriesReader,
        CT_SMALL: DicomSeriesReader,
        US_CINE: UltrasoundCineReader,
        write_enhanced_ct(tmp_path / "enhanced", [(0, 0, 0), (0, 0, 1)]): EnhancedDicomReader,  # no suffix
        write_enhanced(tmp_path / "mr.dcm", [(0, 0, 0)], sop_class=EnhancedMRImageStorage): EnhancedDicomReader,
        write_xa(tmp_path / "xa.dcm", enhanced=False): EnhancedDicomReader,  # projection X-ray, classic or enhanced
        write_us_image(tmp_path / "us.dcm"): UltrasoundImageReader,  # one frame, calibrated by its regions
        save_nifti(tmp_path / "a.nii.gz"): NiftiReader,
        tmp_path / "a.nrrd": SimpleITKReader,
        tmp_path / "a.mp4": VideoReader,
    }
    for path, reader in cases.items():
        assert type(select_reader(path)) is reader, path
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="notes.txt: unsupported format"):
        select_reader(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="missing.nii: no such file or folder"):
        select_reader(tmp_path / "missing.nii")


def test_options_reach_the_readers(tmp_path):
    assert select_reader(CT5N, tolerance=0.5).tolerance == 0.5
    write_video(tmp_path / "a.avi", "mjpeg", "yuvj420p")
    assert select_reader(tmp_path / "a.avi", pixel_spacing=0.2).pixel_spacing == (0.2, 0.2)
    assert select_reader(US_CINE, pixel_spacing=(0.1, 0.3)).pixel_spacing == (0.1, 0.3)
    assert select_reader(write_us_image(tmp_path / "us.dcm"), pixel_spacing=0.4).pixel_spacing == (0.4, 0.4)


def test_oblique_nifti_spacing_is_the_column_norms(tmp_path):
    a, b = np.deg2rad(30), np.deg2rad(-15)
    rot_z = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rot_x = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    affine = np.eye(4)
    affine[:3, :3] = rot_x @ rot_z @ np.diag([0.9, 1.3, 4.0])
    img = load_image(save_nifti(tmp_path / "oblique.nii.gz", affine=affine))
    np.testing.assert_allclose(img.affine, affine, atol=1e-6)
    np.testing.assert_allclose(image_spacing(img), [0.9, 1.3, 4.0], rtol=1e-6)
    assert img.meta["spacing_units"] == ("mm", "mm", "mm")


def test_4d_nifti_puts_time_in_the_channel():
    img = load_image(FUNCTIONAL)
    assert img.shape == (20, 17, 21, 3)
    np.testing.assert_allclose(image_spacing(img), [4.0, 4.0, 8.0])


@pytest.mark.parametrize("units, factor", [("micron", 1e-3), ("meter", 1e3)])
def test_nifti_units_are_converted_to_mm(tmp_path, units, factor):
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = (1.0, 2.0, 3.0)
    img = load_image(save_nifti(tmp_path / "scaled.nii.gz", affine=affine, units=units))
    np.testing.assert_allclose(image_spacing(img), np.array([2.0, 3.0, 4.0]) * factor)
    np.testing.assert_allclose(img.affine[:3, 3], np.array([1.0, 2.0, 3.0]) * factor)


def test_nifti_without_units_assumes_mm_with_a_warning(tmp_path):
    path = save_nifti(tmp_path / "nounits.nii.gz", units=None)
    with pytest.warns(
        UserWarning, match=r"nounits.nii.gz: xyzt_units: spatial unit not stated \(0\); assuming millimetres"
    ):
        img = load_image(path)
    np.testing.assert_allclose(image_spacing(img), [1.0, 1.0, 1.0])


def test_too_few_dimensions(tmp_path):
    with pytest.raises(ImageMetadataError, match=r"line.nii.gz: shape: too few dimensions: \(1, 7\)"):
        load_image(save_nifti(tmp_path / "line.nii.gz", shape=(7,)))


@pytest.mark.parametrize("value", [0.0, float("nan"), float("inf")])
def test_degenerate_nifti_spacing(tmp_path, value):
    """sform and pixdim agree on a zero / NaN / infinite spacing: an error naming the file and the sform."""
    header = nib.Nifti1Header()
    header.set_data_shape((4, 5, 6))
    header.set_sform(np.diag([1.0, value, 2.0, 1.0]), code="aligned")
    header["pixdim"][1:4] = (1.0, value, 2.0)
    header.set_xyzt_units("mm")
    path = tmp_path / "degenerate.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), None, header), path)
    problem = "zero spacing along array axes" if value == 0 else "non-finite values"
    with pytest.raises(ImageMetadataError, match=rf"degenerate.nii.gz: sform: {problem}"):
        load_image(path)
