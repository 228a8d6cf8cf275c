"""AFPE scales by policy: compute_afpe_scales, ComputeAFPEScales, ComputeAFPEScalesd."""

import os

import nibabel as nib
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import LoadImage

from monai_afpe.transforms import (
    ComputeAFPEScales,
    ComputeAFPEScalesD,
    ComputeAFPEScalesd,
    compute_afpe_scales,
)

pytestmark = pytest.mark.filterwarnings("ignore:NvImgCodecPydicomReader")  # no GPU DICOM codec here

STANDARD_NII = os.path.join(os.path.dirname(nib.__file__), "tests", "data", "standard.nii.gz")


def close(actual, expected):
    assert actual.dtype == torch.float32
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=torch.float32))


def video(spacing=(0.08, 0.3, 0.3), shape=(16, 112, 112), units=("s", "mm", "mm")):
    """A (C, T, H, W) clip as a video reader would give it: spacing (dt, dy, dx) in the affine, units in meta."""
    img = MetaTensor(torch.zeros(1, *shape), affine=torch.diag(torch.tensor([*spacing, 1.0])))
    img.meta.update({"filename_or_obj": "clip.avi", "spacing_units": units})
    return img


def test_physical_policy_by_hand():
    # standard.nii.gz geometry: grid (2, 2, 3), extents (1*2*1, 1*2*3, 2*2*2) = (2, 6, 8) mm
    close(compute_afpe_scales([1.0, 3.0, 2.0], 2, (4, 5, 7)), [0.25, 0.75, 1.0])
    close(compute_afpe_scales([1.0, 3.0, 2.0], 2, (4, 5, 7), base_scale=0.5), [0.125, 0.375, 0.5])
    # the grid floors: 9 // 2 = 4 tokens, extent 3*2*1 = 6 mm
    close(compute_afpe_scales([1.0, 3.0, 2.0], (2, 2, 2), (9, 5, 7)), [0.75, 0.75, 1.0])
    # physically isotropic tokens (thick slices, thin patches): the paper's equal scales
    close(compute_afpe_scales([1.0, 1.0, 4.0], (16, 16, 4), (64, 64, 16), base_scale=0.7), [0.7, 0.7, 0.7])


def test_resolution_policy_matches_the_papers_organmnist_scales():
    # every k-th slice kept: spacing (1, 1, k), scales 0.5 / anisotropy on the thinned axis
    for k in (1, 4, 6, 8):
        close(compute_afpe_scales([1.0, 1.0, k], (4, 4, 1), (64, 64, 64 // k), "resolution", 0.5), [0.5, 0.5, 0.5 / k])
    close(compute_afpe_scales([1.0, 3.0, 2.0], 2, (4, 5, 7), "resolution", 0.5), [0.5, 0.5 / 3, 0.25])


def test_fixed_policy_and_multipliers():
    close(
        compute_afpe_scales([0.08, 0.3, 0.3], (2, 8, 8), (16, 112, 112), "fixed", scales=(0.78, 0.11, 0.11)),
        [0.78, 0.11, 0.11],
    )
    close(compute_afpe_scales([1.0, 1.0], 4, (32, 32), "fixed", scales=0.3), [0.3, 0.3])
    close(compute_afpe_scales([1.0, 3.0, 2.0], 2, (4, 5, 7), multipliers=(2.0, 1.0, 0.5)), [0.5, 0.75, 0.5])
    close(compute_afpe_scales([1.0, 3.0, 2.0], 2, (4, 5, 7), "resolution", multipliers=3.0), [3.0, 1.0, 1.5])
    close(compute_afpe_scales([1.0, 1.0], 4, (32, 32), "fixed", scales=0.3, multipliers=(1.0, 2.0)), [0.3, 0.6])


def test_batched_spacing_is_normalised_per_sample():
    spacing = torch.tensor([[1.0, 3.0, 2.0], [2.0, 2.0, 2.0], [0.5, 0.5, 4.0]], dtype=torch.float64)
    # grid (2, 2, 3); extents (2, 6, 8), (4, 4, 8) and (1, 1, 16) mm
    close(compute_afpe_scales(spacing, 2, (4, 5, 7)), [[0.25, 0.75, 1.0], [0.5, 0.5, 1.0], [1 / 16, 1 / 16, 1.0]])
    close(
        compute_afpe_scales(spacing, 2, (4, 5, 7), "resolution"),
        [[1.0, 1 / 3, 0.5], [1.0, 1.0, 1.0], [1.0, 1.0, 0.125]],
    )
    assert compute_afpe_scales(spacing, 2, (4, 5, 7), "fixed", scales=(1.0, 2.0, 3.0)).shape == (3, 3)


def test_space_and_time_are_normalised_separately():
    # EchoNet-like clip: 16 frames of 112x112, tubelets 2x8x8 -> 8x14x14 tokens; the paper's best scales
    kwargs = dict(base_scale=0.11, temporal_base_scale=0.78, temporal_axes=(0,), units=("s", "mm", "mm"))
    close(compute_afpe_scales([0.08, 0.3, 0.3], (2, 8, 8), (16, 112, 112), **kwargs), [0.78, 0.11, 0.11])
    close(
        compute_afpe_scales([0.02, 0.5, 0.25], (2, 8, 8), (16, 112, 112), "resolution", **kwargs), [0.78, 0.055, 0.11]
    )
    # 3D + t, time last: spatial extents (3*2*1, 3*2*1, 3*2*3) = (6, 6, 18) mm
    close(
        compute_afpe_scales([1.0, 1.0, 3.0, 0.05], 2, (8, 8, 8, 10), temporal_base_scale=0.5, temporal_axes=3),
        [1 / 3, 1 / 3, 1.0, 0.5],
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(policy="phys"), r"policy: Unsupported option 'phys'"),
        (dict(spacing=[1.0, 0.0, 2.0]), r"spacing must be finite and > 0, got \[1.0, 0.0, 2.0\]"),
        (dict(spacing=[1.0, -3.0, 2.0]), r"spacing must be finite and > 0, got \[1.0, -3.0, 2.0\]"),
        (dict(spacing=[1.0, float("nan"), 2.0]), r"spacing must be finite and > 0, got \[1.0, nan, 2.0\]"),
        (dict(spacing=[1.0, float("inf"), 2.0]), r"spacing must be finite and > 0, got \[1.0, inf, 2.0\]"),
        (dict(spacing=[[[1.0, 3.0, 2.0]]]), r"spacing must have shape \(m,\) or \(B, m\), got shape \(1, 1, 3\)"),
        (dict(patch_size=(2, 2)), r"patch_size must be one value or 3 values \(one per spatial axis\), got \(2, 2\)"),
        (dict(patch_size=(2, 0, 2)), r"patch_size must hold integers >= 1, got \(2, 0, 2\)"),
        (dict(image_size=(4, 5)), r"image_size must be one value or 3 values"),
        (
            dict(image_size=(4, 1, 7)),
            r"image_size \(4, 1, 7\) is smaller than patch_size \(2, 2, 2\) along axis 1 \(1 < 2\)",
        ),
        (dict(image_size=(4, 5, 3)), r"axis 2 holds a single token \(image_size 3 // patch_size 2 = 1\)"),
        (dict(base_scale=0.0), r"base_scale must be finite and > 0, got 0.0"),
        (dict(temporal_axes=(0,)), r"temporal_axes=\(0,\) needs temporal_base_scale"),
        (dict(temporal_base_scale=0.8), r"temporal_base_scale=0.8 is given but temporal_axes is empty"),
        (
            dict(temporal_axes=(3,), temporal_base_scale=0.8),
            r"temporal_axes \(3,\) must index the 3 spatial axes \(0..2\)",
        ),
        (dict(temporal_axes=(0, 0), temporal_base_scale=0.8), r"temporal_axes must be distinct spatial axis indices"),
        (
            dict(policy="fixed"),
            r"scales must be given with policy 'fixed' and only then; got policy 'fixed', scales None",
        ),
        (
            dict(scales=(1.0, 1.0, 1.0)),
            r"scales must be given with policy 'fixed' and only then; got policy 'physical'",
        ),
        (dict(policy="fixed", scales=(1.0, 0.0, 1.0)), r"scales must be finite and > 0, got \(1.0, 0.0, 1.0\)"),
        (dict(policy="fixed", scales=(1.0, 1.0)), r"scales must be one value or 3 values"),
        (dict(multipliers=(1.0, float("nan"), 1.0)), r"multipliers must be finite and > 0"),
        (dict(units=("s", "mm", "mm")), r"axes \(0, 1, 2\) have units \('s', 'mm', 'mm'\) but are normalised together"),
    ],
)
def test_compute_afpe_scales_errors(kwargs, message):
    arguments = dict(spacing=[1.0, 3.0, 2.0], patch_size=2, image_size=(4, 5, 7)) | kwargs
    with pytest.raises(ValueError, match=message):
        compute_afpe_scales(**arguments)


def test_compute_afpe_scales_transform_on_a_real_file_and_a_video():
    img = LoadImage(ensure_channel_first=True)(STANDARD_NII)
    close(ComputeAFPEScales(patch_size=2)(img), [0.25, 0.75, 1.0])
    close(ComputeAFPEScales(2, "resolution", base_scale=0.5)(img), [0.5, 0.5 / 3, 0.25])
    clip = video()
    close(
        ComputeAFPEScales((2, 8, 8), base_scale=0.11, temporal_base_scale=0.78, temporal_axes=0)(clip),
        [0.78, 0.11, 0.11],
    )


def test_compute_afpe_scales_transform_errors_name_the_file():
    with pytest.raises(ValueError, match=r"clip.avi: axes \(0, 1, 2\) have units \('s', 'mm', 'mm'\).*temporal_axes"):
        ComputeAFPEScales((2, 8, 8))(video())
    img = LoadImage(ensure_channel_first=True)(STANDARD_NII)
    with pytest.raises(
        ValueError, match=r"standard.nii.gz: image_size \(4, 5, 7\) is smaller than patch_size \(8, 8, 8\) along axis 0"
    ):
        ComputeAFPEScales(8)(img)
    with pytest.raises(ValueError, match=r"clip.avi: field 'affine' gives spacing \[0.0, 0.3"):
        ComputeAFPEScales((2, 8, 8), temporal_base_scale=1.0, temporal_axes=0)(video(spacing=(0.0, 0.3, 0.3)))


def test_options_are_validated_at_construction():
    with pytest.raises(ValueError, match="policy: Unsupported option 'bogus'"):
        ComputeAFPEScales(2, policy="bogus")
    with pytest.raises(ValueError, match=r"patch_size must hold integers >= 1, got \(16, 0, 16\)"):
        ComputeAFPEScales((16, 0, 16))
    with pytest.raises(ValueError, match="temporal_base_scale must be finite and > 0, got -1.0"):
        ComputeAFPEScalesd("img", 2, temporal_base_scale=-1.0, temporal_axes=0)
    with pytest.raises(ValueError, match="scales_key_postfix must be a non-empty string, got None"):
        ComputeAFPEScalesd("img", 2, scales_key_postfix=None)


def test_compute_afpe_scalesd_writes_scales_under_configurable_keys():
    clip = video()
    out = ComputeAFPEScalesd("video", (2, 8, 8), base_scale=0.11, temporal_base_scale=0.78, temporal_axes=0)(
        {"video": clip}
    )
    close(out["video_scales"], [0.78, 0.11, 0.11])
    assert out["video"] is clip
    out = ComputeAFPEScalesD("video", (2, 8, 8), "fixed", scales=0.5, scales_key_postfix="afpe")({"video": clip})
    assert set(out) == {"video", "video_afpe"}
