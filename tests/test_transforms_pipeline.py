"""Spacing and scales after MONAI spatial transforms, with and without lazy resampling, and collated in batches.

Expected values are computed by hand in the comments: a resampled axis of n voxels at spacing d resized to
n' voxels has spacing d * n / n' (Resize, Zoom), Spacing's output has (n - 1) * d / d' + 1 voxels, and the
physical policy's extent is (n // patch - 1) * patch * spacing.
"""

import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.transforms import (
    Compose,
    EnsureChannelFirstd,
    LoadImaged,
    Orientationd,
    RandRotate90d,
    RandZoomd,
    Resized,
    Spacingd,
)
from monai.transforms.lazy.functional import apply_pending_transforms_in_order
from readers_testdata import CT5N, FUNCTIONAL, STANDARD

from monai_afpe.transforms import ComputeAFPEScalesd, ExtractSpacingd, image_spacing

pytestmark = pytest.mark.filterwarnings("ignore:NvImgCodecPydicomReader")  # no GPU DICOM codec here

# the test files, as read here: FUNCTIONAL (17, 21, 3) voxels of (4, 4, 8) mm, LAS; STANDARD (4, 5, 7) voxels of
# (1, 3, 2) mm, RAS; CT5N (16, 16, 5) voxels of (0.488281, 0.488281, 2.5) mm, LPI


def run(path, spatial, patch_size=2, lazy=False):
    """LoadImaged -> EnsureChannelFirstd -> Orientationd(RAS) -> spatial -> ExtractSpacingd -> ComputeAFPEScalesd."""
    pipeline = Compose(
        [
            LoadImaged("img"),
            EnsureChannelFirstd("img"),
            Orientationd("img", "RAS", labels=None),
            *spatial,
            ExtractSpacingd("img"),
            ComputeAFPEScalesd("img", patch_size=patch_size),
        ],
        lazy=lazy,
    )
    return pipeline({"img": path})


def check(out, shape, spacing, scales):
    assert not out["img"].has_pending_operations
    assert tuple(out["img"].shape[1:]) == shape
    torch.testing.assert_close(out["img_spacing"], torch.tensor(spacing, dtype=torch.float32))
    torch.testing.assert_close(out["img_scales"], torch.tensor(scales, dtype=torch.float32))
    assert out["img_units"] == ("mm", "mm", "mm")


CASES = {
    # LAS -> RAS flips x only; 2 mm: shape (16*4/2+1, 20*4/2+1, 2*8/2+1); grid (16, 20, 4);
    # extents (15*2*2, 19*2*2, 3*2*2) = (60, 76, 12) mm
    "functional-spacingd": (
        FUNCTIONAL,
        lambda: [Spacingd("img", (2.0, 2.0, 2.0))],
        (33, 41, 9),
        (2.0, 2.0, 2.0),
        (60 / 76, 1.0, 12 / 76),
    ),
    # 1 mm: shape (4, 4*3+1, 6*2+1); grid (2, 6, 6); extents (2, 10, 10) mm
    "standard-spacingd": (
        STANDARD,
        lambda: [Spacingd("img", (1.0, 1.0, 1.0))],
        (4, 13, 13),
        (1.0, 1.0, 1.0),
        (0.2, 1.0, 1.0),
    ),
    # spacing (1*4/8, 3*5/10, 2*7/14); grid (4, 5, 7); extents (3*2*0.5, 4*2*1.5, 6*2*1) = (3, 12, 12) mm
    "standard-resized": (
        STANDARD,
        lambda: [Resized("img", (8, 10, 14))],
        (8, 10, 14),
        (0.5, 1.5, 1.0),
        (0.25, 1.0, 1.0),
    ),
    # spacing (4*17/34, 4*21/21, 8*3/6) = (2, 4, 4); grid (17, 10, 3); extents (64, 72, 16) mm
    "functional-resized": (
        FUNCTIONAL,
        lambda: [Resized("img", (34, 21, 6))],
        (34, 21, 6),
        (2.0, 4.0, 4.0),
        (64 / 72, 1.0, 16 / 72),
    ),
    # zoom 1.5 gives floor(n * 1.5) = (6, 7, 10) voxels, cropped back to (4, 5, 7):
    # spacing (1*4/6, 3*5/7, 2*7/10); grid (2, 2, 3); extents (4/3, 30/7, 5.6) mm
    "standard-randzoomd": (
        STANDARD,
        lambda: [RandZoomd("img", prob=1.0, min_zoom=1.5, max_zoom=1.5)],
        (4, 5, 7),
        (2 / 3, 15 / 7, 1.4),
        (4 / 3 / 5.6, 30 / 7 / 5.6, 1.0),
    ),
    # one quarter turn in axes (0, 1) swaps them: spacing (3, 1, 2); grid (2, 2, 3); extents (6, 2, 8) mm
    "standard-randrotate90d": (
        STANDARD,
        lambda: [RandRotate90d("img", prob=1.0, max_k=1, spatial_axes=(0, 1))],
        (5, 4, 7),
        (3.0, 1.0, 2.0),
        (0.75, 0.25, 1.0),
    ),
}


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
@pytest.mark.parametrize("case", list(CASES))
def test_spacing_and_scales_after_monai_spatial_transforms(case, lazy):
    path, spatial, shape, spacing, scales = CASES[case]
    check(run(path, spatial(), lazy=lazy), shape, spacing, scales)


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_dicom_series_after_orientation_and_axis_permutation(lazy):
    # LPI -> RAS flips all axes; a quarter turn in axes (0, 2) swaps x and z: spacing (2.5, 0.488281, 0.488281),
    # shape (5, 16, 16); patch (1, 4, 4): grid (5, 4, 4), extents (4*1*2.5, 3*4*0.488281, 3*4*0.488281) mm
    rotate = RandRotate90d("img", prob=1.0, max_k=1, spatial_axes=(0, 2))
    out = run(CT5N, [rotate], patch_size=(1, 4, 4), lazy=lazy)
    in_plane = 3 * 4 * 0.488281 / 10.0
    check(out, (5, 16, 16), (2.5, 0.488281, 0.488281), (1.0, in_plane, in_plane))


def test_lazy_compose_applies_pending_operations_before_our_transforms():
    loaded = Compose([LoadImaged("img"), EnsureChannelFirstd("img")])({"img": STANDARD})

    def pending():  # applying pending operations consumes them, so each check gets its own
        data = Spacingd("img", (0.5, 1.0, 1.0), lazy=True)(dict(loaded))
        assert data["img"].has_pending_operations and tuple(data["img"].shape[1:]) == (4, 5, 7)
        return data

    # MONAI treats a transform that is not a LazyTransform as needing current data ...
    for transform in (ExtractSpacingd("img"), ComputeAFPEScalesd("img", 2)):
        applied = apply_pending_transforms_in_order(transform, pending(), lazy=True)
        assert not applied["img"].has_pending_operations
        assert tuple(applied["img"].shape[1:]) == (7, 13, 13)
    # ... and called outside Compose, ours read the geometry the pending operations will give:
    # spacing (0.5, 1, 1), shape (7, 13, 13), grid (3, 6, 6), extents (2, 10, 10) mm
    out = ComputeAFPEScalesd("img", 2)(ExtractSpacingd("img")(pending()))
    assert out["img"].has_pending_operations
    torch.testing.assert_close(out["img_spacing"], torch.tensor([0.5, 1.0, 1.0]))
    torch.testing.assert_close(out["img_scales"], torch.tensor([0.2, 1.0, 1.0]))


def test_dataloader_collates_spacing_and_scales_into_batches():
    transform = Compose(
        [
            LoadImaged("img"),
            EnsureChannelFirstd("img"),
            Resized("img", (8, 8, 8)),
            ExtractSpacingd("img"),
            ComputeAFPEScalesd("img", 2, policy="resolution"),
        ]
    )
    loader = DataLoader(Dataset([{"img": STANDARD}, {"img": CT5N}], transform), batch_size=2, num_workers=0)
    batch = next(iter(loader))
    assert batch["img_spacing"].shape == (2, 3) and batch["img_spacing"].dtype == torch.float32
    # (1*4/8, 3*5/8, 2*7/8) and (0.488281*16/8, 0.488281*16/8, 2.5*5/8)
    expected = torch.tensor([[0.5, 1.875, 1.75], [0.976562, 0.976562, 1.5625]])
    torch.testing.assert_close(batch["img_spacing"], expected)
    torch.testing.assert_close(image_spacing(batch["img"]).float(), expected)  # same from the collated affines
    assert batch["img_scales"].shape == (2, 3) and batch["img_scales"].dtype == torch.float32
    torch.testing.assert_close(batch["img_scales"], expected.amin(dim=1, keepdim=True) / expected)
