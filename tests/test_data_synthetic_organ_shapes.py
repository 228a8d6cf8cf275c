"""Organ shapes: classes defined in mm, label-independent nuisances, both spacing protocols, files on disk."""

from __future__ import annotations

import csv
import math

import nibabel as nib
import numpy as np
import pytest
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImaged

from monai_afpe.data.synthetic import (
    ORGAN_SHAPE_CLASSES,
    OrganShapesConfig,
    generate_organ_shapes,
    make_solid,
    sample_organ_shape,
    sample_rng,
)

MIXED = OrganShapesConfig()


@pytest.fixture(scope="module")
def mixed_samples():
    """60 in-memory volumes per class (about 0.4 s)."""
    return [sample_organ_shape(sample_rng(11, i), i % 6, MIXED) for i in range(360)]


def _best_threshold_accuracy(a: np.ndarray, b: np.ndarray) -> float:
    """Best accuracy of a single threshold on one feature separating samples ``a`` from ``b``."""
    values = np.concatenate([a, b])
    truth = np.r_[np.zeros(len(a)), np.ones(len(b))]
    return max(max(np.mean((values > t) == truth), np.mean((values <= t) == truth)) for t in values)


def test_voxel_aspect_ratios_overlap_only_spacing_separates(mixed_samples):
    """A sphere with thick slices looks like an oblate spheroid in voxels; in mm the classes are apart."""
    records = [s.record for s in mixed_samples]
    labels = np.array([r["label"] for r in records])
    physical = np.array([r["extent_z"] / (0.5 * (r["extent_x"] + r["extent_y"])) for r in records])
    voxel = np.array(
        [
            (r["extent_z"] / r["spacing_z"]) / (0.5 * (r["extent_x"] / r["spacing_x"] + r["extent_y"] / r["spacing_y"]))
            for r in records
        ]
    )
    sphere, prolate, oblate = (labels == ORGAN_SHAPE_CLASSES.index(n) for n in ("sphere", "prolate", "oblate"))
    for other in (prolate, oblate):
        assert _best_threshold_accuracy(physical[sphere], physical[other]) == 1.0
        assert _best_threshold_accuracy(voxel[sphere], voxel[other]) < 0.85
    # the voxel-space ranges really interleave: some spheres are flatter in voxels than some oblates
    assert voxel[sphere].min() < np.median(voxel[oblate]) and voxel[oblate].max() > np.median(voxel[sphere])


def test_nuisances_do_not_depend_on_the_label():
    """Every nuisance is drawn before anything class-specific; the volume is that of the equal ball."""
    nuisances = ("spacing_x", "spacing_z", "equivalent_radius", "tilt_deg", "centre_x", "centre_y", "centre_z")
    for index in range(5):
        records = [sample_organ_shape(sample_rng(3, index), label).record for label in range(6)]
        for key in (*nuisances, "background_hu", "organ_hu", "noise_hu"):
            assert len({r[key] for r in records}) == 1, key
        for r in records:
            assert r["volume_mm3"] == pytest.approx(4.0 / 3.0 * math.pi * r["equivalent_radius"] ** 3)


def test_classes_have_their_physical_shape():
    rng = np.random.default_rng(0)
    sphere = make_solid("sphere", rng, 4.0)
    prolate, oblate = make_solid("prolate", rng, 4.0), make_solid("oblate", rng, 4.0)
    assert sphere.semi_axes == pytest.approx((4.0, 4.0, 4.0))
    assert 1.7 <= prolate.semi_axes[2] / prolate.semi_axes[0] <= 2.5
    assert 0.4 <= oblate.semi_axes[2] / oblate.semi_axes[0] <= 0.6
    for name in ORGAN_SHAPE_CLASSES:
        assert make_solid(name, rng, 4.0).volume == pytest.approx(4.0 / 3.0 * math.pi * 64.0)
    with pytest.raises(ValueError, match="cube"):
        make_solid("cube", rng, 4.0)


def test_organs_fit_and_match_their_recorded_extent(mixed_samples):
    for sample in mixed_samples[::3]:
        occupancy, r = sample.occupancy, sample.record
        border = np.ones(occupancy.shape, bool)
        border[1:-1, 1:-1, 1:-1] = False
        assert not occupancy[border].any(), "the organ touches the border"
        index = np.argwhere(occupancy > 0)
        extent_vox = (index.max(axis=0) - index.min(axis=0) + 1) * np.asarray(sample.spacing)
        for axis, name in enumerate("xyz"):
            # point samples cover at most one voxel more than the exact extent, and may miss thin tips
            slack = sample.spacing[axis] + (r["slice_thickness"] if axis == 2 else 0.0)
            assert -2 * slack <= extent_vox[axis] - r[f"extent_{name}"] <= slack + 1e-9


def test_partial_volume_and_intensities(mixed_samples):
    thick = next(s for s in mixed_samples if s.spacing[2] > 4.0)
    assert ((thick.occupancy > 0) & (thick.occupancy < 1)).any()
    for sample in mixed_samples[:30]:
        r = sample.record
        full, empty = sample.occupancy == 1.0, sample.occupancy == 0.0
        assert sample.image.dtype == np.int16
        if full.sum() > 20:
            assert sample.image[full].mean() == pytest.approx(
                r["organ_hu"], abs=4 * r["noise_hu"] / math.sqrt(full.sum()) + 1
            )
        assert sample.image[empty].mean() == pytest.approx(r["background_hu"], abs=1.0)
        assert sample.image[empty].std() == pytest.approx(r["noise_hu"], rel=0.05)


def test_stride_protocol_keeps_every_kth_slice_of_the_isotropic_volume():
    iso = OrganShapesConfig(protocol="stride", anisotropy=1)
    strided = OrganShapesConfig(protocol="stride", anisotropy=4)
    assert strided.output_shape() == (32, 32, 8)
    for index in range(6):
        a = sample_organ_shape(sample_rng(7, index), index, iso)
        b = sample_organ_shape(sample_rng(7, index), index, strided)
        np.testing.assert_array_equal(b.occupancy, a.occupancy[..., ::4])
        assert b.spacing == (1.0, 1.0, 4.0)
        np.testing.assert_allclose(b.affine[:3, 3], a.affine[:3, 3])
        np.testing.assert_allclose(np.diag(b.affine)[:3], (1.0, 1.0, 4.0))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"protocol": "thick"}, "thick"),
        ({"anisotropy": 3}, "applies to protocol 'stride' only"),
        ({"protocol": "stride", "anisotropy": 0}, r"anisotropy must be an integer slice stride in \[1, 32\]"),
        ({"slice_spacing_range": (5.0, 1.0)}, "slice_spacing_range"),
        ({"spatial_size": 2}, "spatial_size must be at least 4"),
        ({"supersample": 0}, "supersample must be a positive integer"),
    ],
)
def test_config_validation(options, message):
    with pytest.raises(ValueError, match=message):
        OrganShapesConfig(**options)


def test_organ_too_large_for_the_field_of_view_raises():
    config = OrganShapesConfig(spatial_size=12, radius_range=(6.0, 6.0))
    with pytest.raises(ValueError, match="does not fit in 12x12x12 voxels"):
        sample_organ_shape(sample_rng(0, 0), 0, config)


def test_generated_files_load_with_monai_and_are_deterministic(tmp_path):
    options = {"num_samples": 30, "fractions": (0.6, 0.2, 0.2), "write_masks": True}
    datalist = generate_organ_shapes(tmp_path / "a", seed=5, **options)
    again = generate_organ_shapes(tmp_path / "b", seed=5, **options)
    generate_organ_shapes(tmp_path / "c", seed=6, **options)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 30 * 2 + 2
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "images" / "shape_0000.nii.gz").read_bytes() != (
        tmp_path / "c" / "images" / "shape_0000.nii.gz"
    ).read_bytes()
    assert again.name == "datalist.json"

    splits = {key: load_decathlon_datalist(datalist, False, key) for key in ("training", "validation", "test")}
    assert [len(v) for v in splits.values()] == [18, 6, 6]
    training_labels = np.bincount([item["label"] for item in splits["training"]], minlength=6)
    assert training_labels.tolist() == [3] * 6
    with open(tmp_path / "a" / "geometry.csv", newline="") as f:
        geometry = {row["image"]: row for row in csv.DictReader(f)}
    loader = LoadImaged(keys=("image", "mask"), ensure_channel_first=True)
    for item in splits["validation"] + splits["test"]:
        loaded = loader(item)
        row = geometry[item["image"].split(str(tmp_path / "a") + "/")[1]]
        assert loaded["image"].shape == (1, 32, 32, 32)
        expected = [float(row[f"spacing_{a}"]) for a in "xyz"]
        np.testing.assert_allclose(loaded["image"].pixdim, expected, rtol=1e-6)
        assert int(row["label"]) == item["label"]
        assert ORGAN_SHAPE_CLASSES[item["label"]] == row["class_name"]
        assert set(np.unique(loaded["mask"].numpy())) <= {0.0, 1.0} and loaded["mask"].sum() > 0


def test_stride_files_have_the_kept_slice_spacing(tmp_path):
    datalist = generate_organ_shapes(tmp_path, num_samples=6, seed=0, protocol="stride", anisotropy=6)
    item = load_decathlon_datalist(datalist, False, "training")[0]
    image = nib.load(item["image"])
    assert image.shape == (32, 32, 6)
    np.testing.assert_allclose(image.header.get_zooms(), (1.0, 1.0, 6.0))
