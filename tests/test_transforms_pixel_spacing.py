"""SetPixelSpacing / SetPixelSpacingd: per-item pixel size written into the affine of a video."""

import math

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Rotate90

from monai_afpe.transforms import ExtractSpacingd, image_spacing
from monai_afpe.transforms.pixel_spacing import SetPixelSpacing, SetPixelSpacingd


def _video(dt=0.02, dy=1.0, dx=1.0, name="clip.avi"):
    affine = torch.diag(torch.tensor([dt, dy, dx, 1.0], dtype=torch.float64))
    data = torch.arange(3 * 4 * 5, dtype=torch.float32).reshape(1, 3, 4, 5)
    return MetaTensor(data, affine=affine, meta={"filename_or_obj": name})


def test_sets_hw_keeps_time_data_and_input():
    video = _video()
    out = SetPixelSpacing(pixel_spacing=(0.7, 0.9))(video)
    assert torch.allclose(image_spacing(out), torch.tensor([0.02, 0.7, 0.9], dtype=torch.float64))
    assert torch.equal(out.as_tensor(), video.as_tensor())
    assert torch.allclose(image_spacing(video), torch.tensor([0.02, 1.0, 1.0], dtype=torch.float64))
    assert out.meta["filename_or_obj"] == "clip.avi"


def test_call_overrides_construction_and_direction_kept():
    rotated = Rotate90(k=1, spatial_axes=(1, 2))(_video(dy=2.0, dx=3.0))
    out = SetPixelSpacing(pixel_spacing=5.0)(rotated, pixel_spacing=0.5)
    assert torch.allclose(image_spacing(out), torch.tensor([0.02, 0.5, 0.5], dtype=torch.float64))
    # columns keep their direction: the off-diagonal structure of the rotation survives
    for axis in (1, 2):
        before = rotated.affine[:3, axis] / torch.linalg.vector_norm(rotated.affine[:3, axis])
        after = out.affine[:3, axis] / torch.linalg.vector_norm(out.affine[:3, axis])
        assert torch.allclose(before.double(), after.double())
    assert torch.equal(out.affine[:, 3], rotated.affine[:, 3])


def test_dictionary_per_item_default_and_extract():
    t = SetPixelSpacingd("image", spacing_key="pixel_spacing", default=0.3)
    d = ExtractSpacingd("image")(t({"image": _video(), "pixel_spacing": 2.5}))
    assert torch.allclose(d["image_spacing"], torch.tensor([0.02, 2.5, 2.5]))
    d = t({"image": _video()})
    assert math.isclose(float(image_spacing(d["image"])[1]), 0.3)


def test_dictionary_missing_spacing_warns_and_keeps():
    with pytest.warns(UserWarning, match=r"clip\.avi: pixel spacing: the item has no 'pixel_spacing'"):
        d = SetPixelSpacingd("image")({"image": _video(dy=1.0)})
    assert torch.allclose(image_spacing(d["image"]), torch.tensor([0.02, 1.0, 1.0], dtype=torch.float64))


def test_errors():
    with pytest.raises(ValueError, match="pixel_spacing must be one or 2 finite numbers > 0"):
        SetPixelSpacing(pixel_spacing=-1.0)
    with pytest.raises(ValueError, match="spatial_axes must be distinct non-negative integers"):
        SetPixelSpacing(spatial_axes=(1, 1))
    with pytest.raises(ValueError, match="got no pixel_spacing"):
        SetPixelSpacing()(_video())
    with pytest.raises(
        ValueError, match=r"clip\.avi: pixel_spacing must be one or 2 finite numbers > 0 \(mm\), got nan"
    ):
        SetPixelSpacingd("image")({"image": _video(), "pixel_spacing": float("nan")})
    with pytest.raises(ValueError, match=r"spatial_axes \(1, 3\) do not exist"):
        SetPixelSpacing(1.0, spatial_axes=(1, 3))(_video())
    with pytest.raises(ValueError, match="needs a MetaTensor"):
        SetPixelSpacing(1.0)(np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match="spacing_key must be a non-empty string"):
        SetPixelSpacingd("image", spacing_key="")
