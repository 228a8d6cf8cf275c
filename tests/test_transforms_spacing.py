"""Spacing (and units) per array axis from a MetaTensor's affine: functions, ExtractSpacing, ExtractSpacingd."""

import copy
import math
import os
import pickle

import nibabel as nib
import numpy as np
import pydicom.data
import pytest
import torch
from monai.data import MetaTensor, list_data_collate
from monai.data.utils import affine_to_spacing
from monai.transforms import Compose, EnsureChannelFirstd, LoadImage, LoadImaged, Orientationd, Spacingd
from readers_testdata import CT5N, NIBABEL_DATA

from monai_afpe.transforms import (
    ComputeAFPEScalesd,
    ExtractSpacing,
    ExtractSpacingD,
    ExtractSpacingd,
    image_spacing,
    image_spatial_shape,
    spacing_from_affine,
    spacing_units,
)

pytestmark = pytest.mark.filterwarnings("ignore:NvImgCodecPydicomReader")  # no GPU DICOM codec here


def rotation_z(degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def write_oblique_nifti(path, spacing, degrees, shape=(6, 7, 8)) -> str:
    """A NIfTI whose affine is rotation_z(degrees) @ diag(spacing), with a translation."""
    affine = np.eye(4)
    affine[:3, :3] = rotation_z(degrees) @ np.diag(spacing)
    affine[:3, 3] = (10.0, -20.0, 5.0)
    nib.save(nib.Nifti1Image(np.arange(np.prod(shape), dtype=np.float32).reshape(shape), affine), str(path))
    return str(path)


def load(path, **kwargs):
    return LoadImage(ensure_channel_first=True, **kwargs)(path)


def test_spacing_from_affine_is_column_norms_for_oblique_and_batched_affines():
    affine = np.eye(4)
    affine[:3, :3] = rotation_z(30) @ np.diag([0.7, 1.2, 3.0])
    spacing = spacing_from_affine(affine)
    assert spacing.dtype == torch.float64
    torch.testing.assert_close(spacing, torch.tensor([0.7, 1.2, 3.0], dtype=torch.float64))
    torch.testing.assert_close(spacing, torch.as_tensor(affine_to_spacing(affine, 3, suppress_zeros=False)))
    torch.testing.assert_close(spacing_from_affine(affine, spatial_dims=2), spacing[:2])
    batch = torch.stack([torch.as_tensor(affine), torch.diag(torch.tensor([2.0, 3.0, 4.0, 1.0], dtype=torch.float64))])
    torch.testing.assert_close(spacing_from_affine(batch), torch.tensor([[0.7, 1.2, 3.0], [2.0, 3.0, 4.0]]).double())


def test_spacing_from_affine_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"affine must be a square matrix.*\(3, 4\)"):
        spacing_from_affine(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"spatial_dims must be in \[1, 3\].*got 4"):
        spacing_from_affine(np.eye(4), spatial_dims=4)


@pytest.mark.parametrize(
    "name, shape, spacing",
    [
        ("functional.nii", (20, 17, 21, 3), (4.0, 4.0, 8.0)),  # 4D NIfTI: 20 time points become channels
        ("standard.nii.gz", (1, 4, 5, 7), (1.0, 3.0, 2.0)),
        ("example4d.nii.gz", (2, 128, 96, 24), (2.0, 2.0, 2.2)),  # oblique affine
    ],
)
def test_image_spacing_of_nibabel_test_files(name, shape, spacing):
    img = load(os.path.join(NIBABEL_DATA, name))
    assert tuple(img.shape) == shape
    result = image_spacing(img)
    assert result.dtype == torch.float64
    torch.testing.assert_close(result, torch.tensor(spacing, dtype=torch.float64), atol=1e-5, rtol=0)
    assert image_spatial_shape(img) == shape[1:]


def test_image_spacing_of_pydicom_ct_series_uses_the_affine_not_meta_spacing():
    img = load(CT5N, reader="PydicomReader")
    assert tuple(img.shape) == (1, 16, 16, 5)
    torch.testing.assert_close(image_spacing(img), torch.tensor([0.488281, 0.488281, 2.5]).double(), atol=1e-6, rtol=0)
    img.meta["spacing"] = np.array([9.0, 9.0, 9.0])  # stale metadata must not be read
    img.meta["pixdim"] = np.array([1.0, 9.0, 9.0, 9.0])
    torch.testing.assert_close(image_spacing(img), torch.tensor([0.488281, 0.488281, 2.5]).double(), atol=1e-6, rtol=0)


def test_oblique_nifti_spacing_follows_orientation_and_resampling(tmp_path):
    # rotated 80 degrees about z: array axis 0 points mostly anterior, axis 1 mostly left
    path = write_oblique_nifti(tmp_path / "oblique.nii.gz", (0.7, 1.2, 3.0), degrees=80)
    loaded = Compose([LoadImaged("img"), EnsureChannelFirstd("img")])({"img": path})

    def after(*transforms):
        return Compose([*transforms, ExtractSpacingd("img")])(dict(loaded))

    torch.testing.assert_close(after()["img_spacing"], torch.tensor([0.7, 1.2, 3.0]))
    oriented = after(Orientationd("img", "RAS", labels=None))
    assert tuple(oriented["img"].shape) == (1, 7, 6, 8)  # axes 0 and 1 swapped
    torch.testing.assert_close(oriented["img_spacing"], torch.tensor([1.2, 0.7, 3.0]))
    resampled = after(Orientationd("img", "RAS", labels=None), Spacingd("img", (1.0, 1.5, 2.0)))
    torch.testing.assert_close(resampled["img_spacing"], torch.tensor([1.0, 1.5, 2.0]))
    assert abs(float(resampled["img"].affine[0, 1])) > 0.1  # still oblique: Spacingd keeps the rotation


def test_extract_spacingd_before_spacingd_is_a_clear_error():
    """MONAI 1.6's Spacingd treats every ``<key>_*`` entry of a NIfTI image as a metadata dict and calls
    ``.update`` on it; on a plain tensor that was ``AttributeError: 'Tensor' object has no attribute 'update'``.
    The order is wrong anyway (the spacing would be the file's, not the resampled image's): the error says so."""
    path = os.path.join(NIBABEL_DATA, "standard.nii.gz")
    for extract in (ExtractSpacingd("img"), ExtractSpacingd("img", units_key_postfix=None)):
        wrong_order = Compose(
            [LoadImaged("img"), EnsureChannelFirstd("img"), extract, Spacingd("img", (1.0, 1.0, 1.0))]
        )
        with pytest.raises(RuntimeError, match="applying transform .*Spacingd") as raised:
            wrong_order({"img": path})
        cause = raised.value.__cause__
        assert isinstance(cause, ValueError)
        assert "'img_spacing' was written by monai_afpe's ExtractSpacingd before a spatial transform" in str(cause)
        assert "Place ExtractSpacingd / ComputeAFPEScalesd after every spatial transform" in str(cause)
    scales = ComputeAFPEScalesd("img", patch_size=2)
    data = Compose([LoadImaged("img"), EnsureChannelFirstd("img"), scales])({"img": path})
    with pytest.raises(ValueError, match="'img_scales' was written by monai_afpe's ComputeAFPEScalesd"):
        Spacingd("img", (1.0, 1.0, 1.0))(data)
    # the right order works, and gives the resampled image's spacing
    right_order = Compose([LoadImaged("img"), EnsureChannelFirstd("img"), Spacingd("img", (1.0, 2.0, 1.5)), extract])
    torch.testing.assert_close(right_order({"img": path})["img_spacing"], torch.tensor([1.0, 2.0, 1.5]))


def test_extract_spacingd_output_is_a_plain_tensor_for_every_use():
    """The written tensor behaves as a plain one: arithmetic, collation, copies and pickles."""
    volume = MetaTensor(torch.zeros(1, 4, 5, 6), affine=torch.diag(torch.tensor([1.0, 3.0, 2.0, 1.0])))
    out = ExtractSpacingd("volume")({"volume": volume})
    spacing = out["volume_spacing"]
    assert isinstance(spacing, torch.Tensor) and repr(spacing) == "tensor([1., 3., 2.])"
    assert type(spacing * 2) is torch.Tensor
    batch = list_data_collate([out, copy.deepcopy(out)])
    assert type(batch["volume_spacing"]) is torch.Tensor and batch["volume_spacing"].shape == (2, 3)
    for clone in (copy.deepcopy(spacing), pickle.loads(pickle.dumps(spacing))):
        torch.testing.assert_close(clone, spacing)
        with pytest.raises(ValueError, match="'volume_spacing' was written by monai_afpe's ExtractSpacingd"):
            clone.update({})


def test_image_spacing_errors_name_the_file_and_the_field(tmp_path):
    with pytest.raises(ValueError, match="needs a MetaTensor.*got Tensor"):
        image_spacing(torch.zeros(1, 4, 4))
    zero = MetaTensor(torch.zeros(1, 4, 5, 6), affine=torch.diag(torch.tensor([1.0, 0.0, 2.0, 1.0])))
    zero.meta["filename_or_obj"] = "scan_0007.dcm"
    with pytest.raises(
        ValueError, match=r"scan_0007.dcm: field 'affine' gives spacing \[1.0, 0.0, 2.0\].*finite and > 0"
    ):
        image_spacing(zero)
    for bad, text in ((np.nan, "nan"), (np.inf, "inf")):
        header = nib.Nifti1Header()
        header.set_data_shape((4, 5, 6))
        header["pixdim"][1:4] = (1.0, bad, 2.0)  # no qform / sform: nibabel builds the affine from pixdim
        path = str(tmp_path / f"bad_{text}.nii.gz")
        nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), None, header), path)
        with pytest.raises(ValueError, match=rf"bad_{text}.nii.gz: field 'affine' gives spacing \[1.0, {text}, 2.0\]"):
            image_spacing(load(path))
    flat = MetaTensor(torch.zeros(5), meta={"filename_or_obj": "flat.nii"})
    with pytest.raises(ValueError, match=r"flat.nii: expected a channel-first array with at least one spatial axis"):
        image_spacing(flat)
    deep = MetaTensor(torch.zeros(1, 2, 3, 4, 5), meta={"filename_or_obj": "deep.nii"})
    with pytest.raises(ValueError, match=r"deep.nii: field 'affine' is 4x4, too few dimensions for the 4 spatial axes"):
        image_spacing(deep)


def test_spacing_units_default_metadata_and_errors():
    img = MetaTensor(torch.zeros(1, 16, 32, 32), affine=torch.diag(torch.tensor([0.02, 0.3, 0.3, 1.0])))
    assert spacing_units(img) == ("mm", "mm", "mm")
    assert spacing_units(img, ("s", "mm", "mm")) == ("s", "mm", "mm")
    img.meta["spacing_units"] = ["s", "mm", "mm"]  # stated by a reader: wins over the argument
    assert spacing_units(img, "um") == ("s", "mm", "mm")
    img.meta["filename_or_obj"] = "clip.avi"
    img.meta["spacing_units"] = ("s", "mm")
    with pytest.raises(
        ValueError, match=r"clip.avi: field 'spacing_units' must give one unit string per spatial axis \(3\)"
    ):
        spacing_units(img)
    del img.meta["spacing_units"]
    with pytest.raises(ValueError, match=r"clip.avi: field 'units' must give one unit string per spatial axis"):
        spacing_units(img, ("s", ""))


def test_extract_spacing_array_transform_reads_float32_spacing():
    img = MetaTensor(torch.zeros(1, 4, 5, 6), affine=torch.diag(torch.tensor([1.5, 2.5, 3.5, 1.0])))
    result = ExtractSpacing()(img)
    assert result.dtype == torch.float32 and result.shape == (3,)
    torch.testing.assert_close(result, torch.tensor([1.5, 2.5, 3.5]))
    assert ExtractSpacing(dtype=torch.float64)(img).dtype == torch.float64
    # a 2D image with MONAI's default 4x4 affine: spacing of the two array axes
    torch.testing.assert_close(ExtractSpacing()(MetaTensor(torch.zeros(1, 8, 8))), torch.tensor([1.0, 1.0]))


def test_extract_spacingd_writes_spacing_and_units_under_configurable_keys():
    video = MetaTensor(torch.zeros(1, 16, 32, 32), affine=torch.diag(torch.tensor([0.02, 0.3, 0.3, 1.0])))
    video.meta["spacing_units"] = ("s", "mm", "mm")
    volume = MetaTensor(torch.zeros(1, 4, 5, 6), affine=torch.diag(torch.tensor([1.0, 3.0, 2.0, 1.0])))
    out = ExtractSpacingd(["video", "volume"])({"video": video, "volume": volume})
    torch.testing.assert_close(out["video_spacing"], torch.tensor([0.02, 0.3, 0.3]))
    assert out["video_units"] == ("s", "mm", "mm")
    assert out["volume_units"] == ("mm", "mm", "mm")
    assert out["video"] is video  # the image itself is untouched
    custom = ExtractSpacingD("volume", spacing_key_postfix="pixdim", units_key_postfix=None)({"volume": volume})
    assert set(custom) == {"volume", "volume_pixdim"}
    assert ExtractSpacingd("missing", allow_missing_keys=True)({"volume": volume}) == {"volume": volume}
    with pytest.raises(KeyError, match="missing"):
        ExtractSpacingd("missing")({"volume": volume})
    with pytest.raises(ValueError, match="spacing_key_postfix must be a non-empty string, got ''"):
        ExtractSpacingd("volume", spacing_key_postfix="")
    with pytest.raises(ValueError, match="units_key_postfix must be a non-empty string or None, got 3"):
        ExtractSpacingd("volume", units_key_postfix=3)


def test_spacing_of_a_sagittal_dicom_slice_uses_every_world_row():
    """pydicom's CT2N/6293 is a sagittal slice: its in-plane axes point along y and z of the world."""
    path = pydicom.data.get_testdata_file("dicomdirtests/98892001/CT2N/6293", download=False)
    img = LoadImage(reader="PydicomReader", image_only=True, ensure_channel_first=True)(path)
    torch.testing.assert_close(
        image_spacing(img), torch.tensor([0.596847, 0.545455], dtype=torch.float64), atol=1e-5, rtol=0
    )
