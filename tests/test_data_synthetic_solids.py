"""Implicit solids: exact volumes and extents, rotations, partial-volume rendering; shared writers."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest

from monai_afpe.data.synthetic.sampling import check_image_size, check_range, check_seed, sample_rng
from monai_afpe.data.synthetic.solids import (
    Capsule,
    Ellipsoid,
    EllipticCylinder,
    Stretched,
    Torus,
    TwoLobes,
    random_rotation,
    render_occupancy,
    rotation_matrix,
    world_extent,
)
from monai_afpe.data.synthetic.writers import balanced_splits, spacing_affine, split_counts, write_nifti

SOLIDS = [
    Ellipsoid((3.0, 4.0, 6.0)),
    EllipticCylinder((3.0, 2.0), 5.0),
    Torus(5.0, 2.0),
    Capsule(2.5, 3.0),
    TwoLobes((4.0, 3.0), 5.0),
    Stretched(TwoLobes((3.0, 2.0), 3.5), (1.0, 1.2, 2.0)),
]


def _grid_points(extent: np.ndarray, step: float) -> tuple[np.ndarray, ...]:
    axes = [np.arange(low + step / 2, high, step) for low, high in extent]
    return np.meshgrid(*axes, indexing="ij")


@pytest.mark.parametrize("solid", SOLIDS, ids=lambda s: type(s).__name__)
def test_volume_matches_point_count(solid):
    step = 0.1
    extent = world_extent(solid, np.eye(3))
    x, y, z = _grid_points(extent, step)
    estimate = solid.contains(x, y, z).sum() * step**3
    assert estimate == pytest.approx(solid.volume, rel=0.01)


@pytest.mark.parametrize("solid", SOLIDS, ids=lambda s: type(s).__name__)
def test_world_extent_is_tight_after_rotation(solid):
    rotation = rotation_matrix(0.7, 0.5, 2.1)
    extent = world_extent(solid, rotation)
    step = 0.1
    p = np.stack(_grid_points(extent + np.array([[-1.0, 1.0]]), step), axis=-1)
    q = p @ rotation  # solid coordinates R^T p for row vectors
    inside = p[solid.contains(q[..., 0], q[..., 1], q[..., 2])]
    np.testing.assert_allclose(inside.min(axis=0), extent[:, 0], atol=2 * step)
    np.testing.assert_allclose(inside.max(axis=0), extent[:, 1], atol=2 * step)


def test_scaled_and_stretched_volumes_are_exact():
    torus = Torus(4.0, 1.0)
    assert torus.scaled(2.0).volume == pytest.approx(8.0 * torus.volume)
    assert torus.volume == pytest.approx(2.0 * math.pi**2 * 4.0)
    lobes = TwoLobes((1.0, 1.0), 1.0)
    # two unit balls at distance 1 overlap in a lens of volume 5 pi / 12
    assert lobes.volume == pytest.approx(8.0 * math.pi / 3.0 - 5.0 * math.pi / 12.0)
    assert Stretched(Ellipsoid((1.0, 1.0, 1.0)), (2.0, 3.0, 4.0)).volume == pytest.approx(Ellipsoid((2, 3, 4)).volume)


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: Ellipsoid((1.0, -1.0, 1.0)), r"Ellipsoid semi-axis b must be a finite number > 0 \(mm\), got -1.0"),
        (lambda: Torus(2.0, 3.0), "minor .* must be smaller than major"),
        (lambda: TwoLobes((3.0, 1.0), 1.5), "strictly between"),
        (lambda: Capsule(0.0, 1.0), "Capsule radius"),
        (lambda: Stretched(Capsule(1.0, 1.0), (1.0, 0.0, 1.0)), "factor along y"),
    ],
)
def test_invalid_solids_raise(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_rotation_tilt_is_angle_to_slice_axis():
    rng = np.random.default_rng(3)
    for _ in range(20):
        rotation, tilt = random_rotation(rng, 25.0)
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        assert math.degrees(math.acos(rotation[2, 2])) == pytest.approx(tilt)
        assert 0.0 <= tilt <= 25.0
    with pytest.raises(ValueError, match="max_tilt_deg"):
        random_rotation(rng, 200.0)


def test_partial_volume_keeps_volume_and_blurs_thick_slices():
    sphere = Ellipsoid((5.0, 5.0, 5.0))
    axes = [np.arange(-16, 16) * 0.5 + 0.25, np.arange(-16, 16) * 0.5 + 0.25, np.arange(-8, 8) * 4.0 + 2.0]
    occupancy = render_occupancy(sphere, (0.3, -0.2, 0.7), np.eye(3), axes, slice_thickness=4.0, supersample=16)
    assert occupancy.dtype == np.float32 and occupancy.shape == (32, 32, 16)
    assert occupancy.sum() * 0.5 * 0.5 * 4.0 == pytest.approx(sphere.volume, rel=0.02)
    fractional = (occupancy > 0) & (occupancy < 1)
    assert fractional.sum() > 50  # thick slices through the poles are partly filled
    # without supersampling each voxel is a point test: values are 0 or 1 only
    binary = render_occupancy(sphere, (0.3, -0.2, 0.7), np.eye(3), axes, slice_thickness=4.0, supersample=1)
    assert set(np.unique(binary)) <= {0.0, 1.0}


def test_render_outside_the_grid_is_empty():
    axes = [np.arange(8.0), np.arange(8.0), np.arange(8.0)]
    occupancy = render_occupancy(Ellipsoid((1.0, 1.0, 1.0)), (50.0, 0.0, 0.0), np.eye(3), axes, 1.0, 3)
    assert not occupancy.any()
    with pytest.raises(ValueError, match="supersample"):
        render_occupancy(Ellipsoid((1.0, 1.0, 1.0)), (0.0, 0.0, 0.0), np.eye(3), axes, 1.0, 0)


def test_split_counts_and_balanced_splits():
    assert split_counts(600, (0.7, 0.15, 0.15)) == (420, 90, 90)
    assert split_counts(3, (0.7, 0.15, 0.15)) == (1, 1, 1)  # every split gets a sample when it can
    assert split_counts(10, (1.0, 0.0, 0.0)) == (10, 0, 0)
    with pytest.raises(ValueError, match="summing to 1"):
        split_counts(10, (0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="leave no training sample"):
        split_counts(2, (0.0, 0.5, 0.5))
    labels, splits = balanced_splits(120, 6, (0.7, 0.15, 0.15), np.random.default_rng(0))
    for split, count in (("training", 84), ("validation", 18), ("test", 18)):
        in_split = labels[splits == split]
        assert len(in_split) == count
        assert np.bincount(in_split, minlength=6).max() - np.bincount(in_split, minlength=6).min() <= 1
    assert not np.array_equal(labels[:12], np.arange(12) % 6)  # positions are shuffled


def test_write_nifti_keeps_affine_and_units(tmp_path):
    affine = spacing_affine((0.7, 0.8, 3.0), (-10.0, -12.0, -45.0))
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    path = write_nifti(tmp_path / "a" / "x.nii.gz", data, affine)
    image = nib.load(path)
    np.testing.assert_array_equal(np.asarray(image.dataobj), data)
    np.testing.assert_allclose(image.affine, affine)
    assert image.header.get_xyzt_units()[0] == "mm"
    assert int(image.header["qform_code"]) == 1 and int(image.header["sform_code"]) == 1
    assert path.read_bytes() == write_nifti(tmp_path / "b" / "x.nii.gz", data, affine).read_bytes()


def test_seed_and_range_checks():
    assert check_range("r", (1, 2), minimum=0) == (1.0, 2.0)
    with pytest.raises(ValueError, match=r"r must be a \(low, high\) pair with low <= high within \[0, inf\]"):
        check_range("r", (2, 1), minimum=0)
    with pytest.raises(ValueError, match="pair of numbers"):
        check_range("r", 3)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        check_seed(-1)
    assert check_image_size("frame_size", 32, 2, minimum=16) == (32, 32)
    assert check_image_size("spatial_size", (8, 9.0, 10), 3, minimum=8) == (8, 9, 10)
    with pytest.raises(ValueError, match=r"^frame_size must be at least 16 pixels per axis, got \(32, 8\)\.$"):
        check_image_size("frame_size", (32, 8), 2, minimum=16, unit="pixels")
    a, b = sample_rng(5, 2).random(3), sample_rng(5, 2).random(3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample_rng(5, 3).random(3))
