"""Random spacing and frame-rate augmentation: the drawn spacing is what the affine says, geometry is kept in mm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose

from monai_afpe.transforms import (
    ExtractSpacingd,
    RandFrameRate,
    RandFrameRated,
    RandSpacing,
    RandSpacingd,
    image_spacing,
)


def _volume(shape=(16, 16, 16), spacing=(1.0, 1.0, 2.5), data=None) -> MetaTensor:
    affine = torch.diag(torch.tensor([*spacing, 1.0], dtype=torch.float64))
    affine[:3, 3] = torch.tensor([-10.0, 5.0, 30.0], dtype=torch.float64)
    data = torch.rand(1, *shape, generator=torch.Generator().manual_seed(0)) if data is None else data
    return MetaTensor(data, affine=affine, meta={"filename_or_obj": "vol.nii.gz"})


def _sphere(radius_mm: float, shape, spacing) -> MetaTensor:
    """A ball of radius ``radius_mm`` around the centre of the field of view."""
    grids = torch.meshgrid(*[(torch.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)], indexing="ij")
    dist = torch.sqrt(sum(g**2 for g in grids))
    return _volume(shape, spacing, (dist <= radius_mm).float()[None])


def _extent_mm(mask: torch.Tensor, spacing) -> list[float]:
    """Extent of the mask along each axis in mm: (last - first + 1) voxels x spacing."""
    mask = torch.as_tensor(mask)[0] > 0.5
    extents = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hit = torch.nonzero(mask.any(dim=other)).flatten()
        extents.append(float(hit.max() - hit.min() + 1) * float(spacing[axis]))
    return extents


def _video(num_frames=31, fps=30.0, size=4) -> MetaTensor:
    """A video whose value is a ramp in time: 2 + 3 t (t in seconds), with dt = 1 / fps."""
    t = torch.arange(num_frames, dtype=torch.float32) / fps
    data = (2.0 + 3.0 * t).view(1, -1, 1, 1).expand(1, num_frames, size, size).clone()
    affine = torch.diag(torch.tensor([1.0 / fps, 0.5, 0.5, 1.0], dtype=torch.float64))
    return MetaTensor(data, affine=affine, meta={"filename_or_obj": "echo.avi", "frame_rate": f"{fps:g}"})


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_spacing_is_the_drawn_spacing_in_range_and_extent_is_kept(seed):
    img = _volume()
    ranges = ((0.5, 2.0), (0.8, 1.2), (1.0, 4.0))
    aug = RandSpacing(ranges, prob=1.0).set_random_state(seed)
    out = aug(img)
    spacing = image_spacing(out)
    assert torch.allclose(spacing, torch.tensor(aug.drawn_spacing, dtype=torch.float64), atol=1e-6)
    for value, (low, high) in zip(spacing.tolist(), ranges):
        assert low <= value <= high
    # physical extent (size x spacing) kept within one output voxel
    for n_in, s_in, n_out, s_out in zip(img.shape[1:], image_spacing(img), out.shape[1:], spacing):
        assert abs(n_in * float(s_in) - n_out * float(s_out)) <= float(s_out) + 1e-6

    # the field of view stays centred: the centre of the first and of the new grid agree within a voxel
    def centre(x):
        return (x.affine @ torch.tensor([*((n - 1) / 2 for n in x.shape[1:]), 1.0], dtype=torch.float64))[:3]

    assert torch.all((centre(out) - centre(img)).abs() <= spacing)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_log_uniform_draws_stay_in_range():
    aug = RandSpacing((0.25, 4.0), log_uniform=True, prob=1.0).set_random_state(0)
    draws = []
    for _ in range(200):
        aug.randomize(3)
        draws.extend(aug.drawn_spacing)
    draws = np.asarray(draws)
    assert draws.min() >= 0.25 and draws.max() <= 4.0
    # log-uniform: about as many draws below 1 mm as above (uniform would put ~80% above)
    assert 0.4 < (draws < 1.0).mean() < 0.6


def test_tied_axes_get_one_draw_and_none_axes_keep_their_spacing():
    img = _volume()
    aug = RandSpacing(((0.5, 2.0), (0.5, 2.0), None), tie_axes=((0, 1),), prob=1.0).set_random_state(5)
    for _ in range(3):
        out = aug(img)
        spacing = image_spacing(out)
        assert spacing[0] == pytest.approx(float(spacing[1]), abs=1e-9)
        assert aug.drawn_spacing[2] is None
        assert spacing[2] == pytest.approx(2.5, abs=1e-9)
        assert out.shape[3] == img.shape[3]


def test_prob_zero_returns_the_input_unchanged():
    img = _volume()
    out = RandSpacing((0.5, 2.0), prob=0.0)(img)
    assert out.shape == img.shape
    assert torch.equal(out.as_tensor(), img.as_tensor())
    assert torch.equal(out.affine, img.affine)
    # with spatial_size, only the centred crop (or pad) to that size happens, so batches still collate
    aug = RandSpacing((0.5, 2.0), spatial_size=12, prob=0.0)
    cropped = aug(img)
    assert tuple(cropped.shape[1:]) == (12, 12, 12)
    assert torch.equal(cropped.as_tensor(), img.as_tensor()[:, 2:14, 2:14, 2:14])
    assert torch.equal(image_spacing(cropped), image_spacing(img))
    back = aug.inverse(cropped)
    assert back.shape == img.shape and torch.allclose(back.affine, img.affine)
    video = _video()
    assert RandFrameRate((10.0, 60.0), prob=0.0)(video) is video


def test_same_seed_same_draw():
    img = _volume()
    a = RandSpacing((0.5, 2.0), prob=1.0).set_random_state(7)
    b = RandSpacing((0.5, 2.0), prob=1.0).set_random_state(7)
    c = RandSpacing((0.5, 2.0), prob=1.0).set_random_state(8)
    out_a, out_b = a(img), b(img)
    c(img)
    assert a.drawn_spacing == b.drawn_spacing != c.drawn_spacing
    assert torch.equal(out_a.as_tensor(), out_b.as_tensor())
    d = {"image": img}
    da = RandSpacingd("image", (0.5, 2.0), prob=1.0).set_random_state(7)(d)
    db = RandSpacingd("image", (0.5, 2.0), prob=1.0).set_random_state(7)(d)
    assert torch.equal(da["image"].affine, db["image"].affine)
    assert torch.equal(da["image"].affine, out_a.affine)
    fa = RandFrameRate((10.0, 60.0), prob=1.0).set_random_state(3)
    fb = RandFrameRate((10.0, 60.0), prob=1.0).set_random_state(3)
    fa(_video()), fb(_video())
    assert fa.drawn_fps == fb.drawn_fps


def test_spatial_size_fixes_the_shape_and_keeps_the_drawn_spacing():
    img = _volume()
    aug = RandSpacing((0.5, 2.0), spatial_size=(12, 14, 16), prob=1.0).set_random_state(1)
    out = aug(img)
    assert tuple(out.shape[1:]) == (12, 14, 16)
    assert torch.allclose(image_spacing(out), torch.tensor(aug.drawn_spacing, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("spatial_size", [None, 28])
def test_a_sphere_keeps_its_radius_in_mm(seed, spatial_size):
    radius = 7.0
    img = _sphere(radius, (24, 24, 12), (1.0, 1.0, 2.0))
    aug = RandSpacing(((0.6, 1.6), (0.6, 1.6), (1.0, 3.0)), spatial_size=spatial_size, prob=1.0)
    aug.set_random_state(seed)
    out = aug(img)
    spacing = image_spacing(out)
    for axis, (before, after) in enumerate(zip(_extent_mm(img, image_spacing(img)), _extent_mm(out, spacing))):
        # both measure 2 r up to one voxel of each grid
        assert after == pytest.approx(before, abs=float(spacing[axis]) + float(image_spacing(img)[axis])), axis
        assert after == pytest.approx(2 * radius, abs=2 * float(spacing[axis]) + 1e-6), axis
    volume = float((out > 0.5).sum()) * float(spacing.prod())
    assert volume == pytest.approx(4 / 3 * math.pi * radius**3, rel=0.15)


def test_dictionary_version_gives_image_and_label_one_geometry():
    img = _volume()
    label = _volume(data=(img.as_tensor() > 0.5).float())
    aug = RandSpacingd(("image", "label"), ((0.5, 2.0), (0.5, 2.0), (1.0, 3.0)), mode=("bilinear", "nearest"), prob=1.0)
    out = aug.set_random_state(4)({"image": img, "label": label})
    assert out["image"].shape == out["label"].shape
    assert torch.equal(out["image"].affine, out["label"].affine)
    assert set(out["label"].unique().tolist()) <= {0.0, 1.0}  # nearest keeps labels
    assert len(out["image"].unique()) > 2  # bilinear interpolates


def test_extract_spacing_after_the_transform_reads_the_new_spacing():
    img = _volume()
    aug = RandSpacingd(("image", "label"), (0.5, 2.0), mode=("bilinear", "nearest"), spatial_size=16, prob=1.0)
    pipeline = Compose([aug, ExtractSpacingd(("image", "label"))]).set_random_state(11)
    out = pipeline({"image": img, "label": _volume(data=(img.as_tensor() > 0.5).float())})
    drawn = torch.tensor(aug.rand_spacing.drawn_spacing, dtype=torch.float32)
    assert torch.allclose(out["image_spacing"], drawn, atol=1e-5)
    assert torch.allclose(out["label_spacing"], drawn, atol=1e-5)


def test_lazy_resampling_gives_the_eager_geometry():
    img = _volume()
    label = _volume(data=(img.as_tensor() > 0.5).float())
    keys = ("image", "label")

    def run(lazy):
        aug = RandSpacingd(keys, (0.5, 2.0), mode=("bilinear", "nearest"), spatial_size=(14, 14, 18), prob=1.0)
        pipeline = Compose(
            [aug, ExtractSpacingd(keys)], lazy=lazy, overrides={"label": {"mode": "nearest"}} if lazy else None
        )
        return pipeline.set_random_state(2)({"image": img, "label": label})

    eager, lazy = run(False), run(True)
    for key in keys:
        assert lazy[key].shape == eager[key].shape
        assert torch.allclose(lazy[key].affine, eager[key].affine, atol=1e-6)
        assert torch.allclose(lazy[f"{key}_spacing"], eager[f"{key}_spacing"])
    assert set(lazy["label"].unique().tolist()) <= {0.0, 1.0}


def test_inverse_restores_the_input_geometry():
    img = _volume()
    for spatial_size in (None, 12):
        aug = RandSpacing((0.5, 2.0), spatial_size=spatial_size, prob=1.0).set_random_state(0)
        out = aug(img)
        back = aug.inverse(out)
        assert back.shape == img.shape
        assert torch.allclose(back.affine, img.affine, atol=1e-6)
        assert len(back.applied_operations) == 0
    d = RandSpacingd("image", (0.5, 2.0), prob=1.0)
    assert torch.allclose(d.inverse(d({"image": img}))["image"].affine, img.affine, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_frame_rate_changes_frames_by_the_fps_ratio_and_sets_dt(seed, mode):
    video = _video(num_frames=31, fps=30.0)
    aug = RandFrameRate((10.0, 90.0), mode=mode, prob=1.0).set_random_state(seed)
    out = aug(video)
    fps = aug.drawn_fps
    assert 10.0 <= fps <= 90.0
    dt = image_spacing(out)
    assert float(dt[0]) == pytest.approx(1.0 / fps, rel=1e-9)
    assert dt[1:].tolist() == [0.5, 0.5]
    # the span from first to last frame (30 / 30 s = 1 s) is kept to within one new frame
    assert out.shape[1] - 1 == math.floor(30 * fps / 30.0 + 1e-6)
    assert (out.shape[1] - 1) / fps <= 1.0 + 1e-9 < out.shape[1] / fps
    assert torch.equal(out.affine[:, 3], video.affine[:, 3])  # first frame stays at t0
    assert out.meta["frame_rate"] == f"{fps:.6g}"


def test_frame_rate_keeps_a_linear_ramp_in_time():
    video = _video(num_frames=31, fps=30.0)  # value 2 + 3 t
    for seed in range(3):
        aug = RandFrameRate((12.0, 75.0), prob=1.0).set_random_state(seed)
        out = aug(video)
        t = torch.arange(out.shape[1], dtype=torch.float64) * float(image_spacing(out)[0])
        assert torch.allclose(out[0, :, 1, 2].double(), 2.0 + 3.0 * t, atol=1e-5)
        slope = torch.diff(out[0, :, 0, 0].double()) / float(image_spacing(out)[0])
        assert torch.allclose(slope, torch.full_like(slope, 3.0), atol=1e-3)


def test_frame_rate_nearest_picks_existing_frames_and_dictionary_shares_the_draw():
    video = _video()
    mask = MetaTensor((video.as_tensor() > 3.0).to(torch.uint8), affine=video.affine.clone())
    aug = RandFrameRated(("video", "mask"), (40.0, 50.0), mode=("linear", "nearest"), prob=1.0).set_random_state(0)
    out = aug({"video": video, "mask": mask})
    assert out["video"].shape == out["mask"].shape
    assert torch.equal(out["video"].affine, out["mask"].affine)
    assert out["mask"].dtype == torch.uint8
    frames = {round(v, 5) for v in video[0, :, 0, 0].tolist()}
    nearest = RandFrameRate((40.0, 50.0), mode="nearest", prob=1.0).set_random_state(0)(video)
    assert {round(v, 5) for v in nearest[0, :, 0, 0].tolist()} <= frames


@pytest.mark.parametrize(
    "transform, kwargs, words",
    [
        (RandSpacing, {"spacing_range": (2.0, 0.5)}, ["spacing_range", "low"]),
        (RandSpacing, {"spacing_range": (0.0, 1.0)}, ["spacing_range", "positive"]),
        (RandSpacing, {"spacing_range": ((0.5, 1.0), (-1.0, 2.0), None)}, ["spacing_range[1]", "positive"]),
        (RandSpacing, {"spacing_range": "wide"}, ["spacing_range"]),
        (RandSpacing, {"spacing_range": (0.5, 1.0), "prob": 1.5}, ["prob", "[0, 1]"]),
        (RandSpacing, {"spacing_range": (0.5, 1.0), "tie_axes": ((0, 1), (1, 2))}, ["tie_axes", "one group"]),
        (RandSpacing, {"spacing_range": (0.5, 1.0), "spatial_size": 0}, ["spatial_size", "positive"]),
        (RandFrameRate, {"fps_range": (60.0, 20.0)}, ["fps_range", "low"]),
        (RandFrameRate, {"fps_range": (0.0, 20.0)}, ["fps_range", "positive"]),
        (RandFrameRate, {"fps_range": (20.0,)}, ["fps_range", "pair"]),
        (RandFrameRate, {"fps_range": (20.0, 30.0), "mode": "cubic"}, ["cubic"]),
    ],
)
def test_rand_spacing_and_frame_rate_reject_bad_arguments(transform, kwargs, words):
    with pytest.raises(ValueError) as error:
        transform(**kwargs)
    for word in words:
        assert word in str(error.value)


def test_rand_spacing_rejects_bad_inputs_at_call_time():
    with pytest.raises(ValueError, match="MetaTensor"):
        RandSpacing((0.5, 1.0), prob=1.0)(torch.rand(1, 8, 8, 8))
    with pytest.raises(ValueError, match="spacing_range has 2 entries .* 3 spatial axes"):
        RandSpacing(((0.5, 1.0), None), prob=1.0)(_volume())
    with pytest.raises(ValueError, match=r"tie_axes group \(0, 1\) must tie axes with one common"):
        RandSpacing(((0.5, 1.0), None, (0.5, 1.0)), tie_axes=((0, 1),), prob=1.0)(_volume())
    with pytest.raises(ValueError, match="mode and padding_mode"):
        RandSpacingd(("image", "label"), (0.5, 1.0), mode=("bilinear", "nearest", "nearest"))


def test_rand_frame_rate_rejects_bad_inputs():
    with pytest.raises(ValueError, match="MetaTensor"):
        RandFrameRate((20.0, 30.0), prob=1.0)(torch.rand(1, 8, 4, 4))
    with pytest.raises(ValueError, match=r"echo.avi.*\(C, T, H, W\)"):
        RandFrameRate((20.0, 30.0), prob=1.0)(_video()[:, :, 0])
