"""Synthetic chest radiographs: labels exact in mm from the returned geometry, reproducible files read with their spacing."""

from __future__ import annotations

import csv
import hashlib
import math
import warnings

import numpy as np
import pytest

from monai_afpe.data.default_dataset import GENERATION_RECORD, SYNTHETIC_DATASETS, ensure_dataset
from monai_afpe.data.splits import SPLIT_NAMES
from monai_afpe.data.synthetic import (
    CHEST_XRAY_LABELS,
    ChestXrayConfig,
    chest_xray_labels,
    generate_chest_xray,
    sample_chest_xray,
    sample_rng,
)

pydicom = pytest.importorskip("pydicom")
PIL = pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def samples():
    return [sample_chest_xray(sample_rng(3, i)) for i in range(40)]


def _expected(g: dict, config: ChestXrayConfig) -> list[float]:
    """The labels recomputed from the geometry by the rules of the docs (mm)."""
    return [
        float(g["heart_width"] / g["thorax_width"] > config.ctr_threshold),
        float(max(g["effusion_height_right"], g["effusion_height_left"]) > config.effusion_threshold),
        float(any(d >= config.nodule_threshold for d in g["nodule_diameters"])),
        float(abs(g["dome_depth_right"] - g["dome_depth_left"]) > config.dome_difference_threshold),
    ]


def test_labels_are_exactly_the_geometry_rules(samples):
    config = ChestXrayConfig()
    for s in samples:
        assert s.labels.dtype == np.float32 and s.labels.tolist() == _expected(s.geometry, config)
        assert s.labels.tolist() == chest_xray_labels(s.geometry).tolist()
        g = s.geometry
        assert g["cardiothoracic_ratio"] == g["heart_width"] / g["thorax_width"]
        assert g["dome_difference"] == abs(g["dome_depth_right"] - g["dome_depth_left"])
    # every label takes both values in 40 samples
    labels = np.stack([s.labels for s in samples])
    assert (labels.min(0) == 0).all() and (labels.max(0) == 1).all()


def test_thresholds_from_the_config_move_the_labels():
    tight = ChestXrayConfig(nodule_threshold=2.5, nodule_count_range=(1, 1))
    s = sample_chest_xray(sample_rng(0, 1), tight)
    assert s.labels[2] == float(s.geometry["nodule_diameters"][0] >= 2.5)
    assert s.labels.tolist() == _expected(s.geometry, tight)


def test_rendered_masks_match_the_geometry_in_mm(samples):
    """The heart's rendered horizontal width (patient frame) and the fluid's height match the drawn mm within pixels."""
    for s in samples[:12]:
        g, spacing = s.geometry, s.pixel_spacing[0]
        rows, columns = s.image.shape
        cx, cy = g["centre"]
        rotation = math.radians(g["rotation_deg"])
        x = ((np.arange(columns) - (columns - 1) / 2.0) * spacing)[None, :] - cx
        y = ((np.arange(rows) - (rows - 1) / 2.0) * spacing)[:, None] - cy
        u = np.broadcast_to(math.cos(rotation) * x + math.sin(rotation) * y, s.image.shape)
        v = np.broadcast_to(-math.sin(rotation) * x + math.cos(rotation) * y, s.image.shape)
        heart = u[s.masks["heart"]]
        assert abs(heart.max() - heart.min() - g["heart_width"]) < 3 * spacing
        for side, key in ((-1, "effusion_height_right"), (1, "effusion_height_left")):
            fluid = s.masks["fluid"] & (side * u > 0)
            angle = g["costophrenic_angles"]["right" if side < 0 else "left"]["angle_v"]
            if g[key] > 4 * spacing:
                assert abs(angle - v[fluid].min() - g[key]) < 2 * spacing
            elif g[key] == 0:
                assert not fluid.any()
        # the lowest lung point of each side is its costophrenic angle
        for side, name in ((-1, "right"), (1, "left")):
            lung = s.masks["lung"] & (side * u > 0)
            assert abs(v[lung].max() - g["costophrenic_angles"][name]["angle_v"]) < 2 * spacing


def test_spacing_size_and_nuisances_in_range(samples):
    config = ChestXrayConfig()
    spacings = [s.pixel_spacing[0] for s in samples]
    sizes = [size for s in samples for size in s.image.shape]
    assert all(0.14 <= sp <= 0.2 and s.pixel_spacing[0] == s.pixel_spacing[1] for sp, s in zip(spacings, samples))
    assert max(spacings) - min(spacings) > 0.03
    assert min(sizes) >= 256 and max(sizes) <= 384 and max(sizes) - min(sizes) > 60
    assert all(abs(s.geometry["rotation_deg"]) <= config.max_rotation_deg for s in samples)
    assert all(s.image.dtype == np.uint16 and s.image.max() <= 4095 for s in samples)
    # nodule diameters in mm straddle the threshold: both distractors and positives occur
    diameters = [d for s in samples for d in s.geometry["nodule_diameters"]]
    assert min(diameters) < 6.0 <= max(diameters)


def test_sample_does_not_depend_on_other_samples():
    a = sample_chest_xray(sample_rng(5, 7))
    b = sample_chest_xray(sample_rng(5, 7))
    assert np.array_equal(a.image, b.image) and a.labels.tolist() == b.labels.tolist()


@pytest.mark.parametrize(
    "options, match",
    [
        ({"spacing_range": (0.2, 0.1)}, "spacing_range"),
        ({"image_size_range": (256.5, 300)}, "image_size_range"),
        ({"nodule_threshold": 12.0}, "nodule_threshold"),
        ({"ctr_threshold": 0.38}, "ctr_threshold"),
        ({"effusion_probability": 1.5}, "effusion_probability"),
        ({"max_rotation_deg": -1}, "max_rotation_deg"),
        ({"magnification_range": (0.9, 1.1)}, "magnification_range"),
        ({"spacing_tags": "detector"}, "spacing_tags.*detector"),
        ({"image_size_range": (64, 80)}, r"too small for the anatomy.*image_size_range 64 px.*8\.0 mm needs more"),
    ],
)
def test_config_validation_names_the_argument(options, match):
    with pytest.raises(ValueError, match=match):
        ChestXrayConfig(**options)


def test_the_smallest_field_of_view_that_passes_draws_every_sample():
    """Just above the bound the config checks, the lowest costophrenic angle still lies inside the thorax: the
    generator draws images instead of failing on a square root of a negative number."""
    config = ChestXrayConfig(image_size_range=(64, 66), spacing_range=(0.4, 0.41), fill_range=(0.72, 0.73))
    with pytest.raises(ValueError, match="too small"):
        ChestXrayConfig(image_size_range=(64, 66), spacing_range=(0.38, 0.41), fill_range=(0.72, 0.73))
    for index in range(40):
        assert sample_chest_xray(sample_rng(0, index), config).image.shape[0] in (64, 65, 66)


def _digest(folder) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.*")}


def test_generate_is_byte_reproducible_and_readable(tmp_path):
    from monai_afpe.data.readers import load_image

    first = generate_chest_xray(tmp_path / "a", num_samples=6, seed=2)
    generate_chest_xray(tmp_path / "b", num_samples=6, seed=2)
    generate_chest_xray(tmp_path / "c", num_samples=6, seed=3)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["labels.csv"] != _digest(tmp_path / "c")["labels.csv"]
    with open(first, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {r["Split"] for r in rows} <= set(SPLIT_NAMES)
    assert [r["Split"] for r in rows].count("training") == 4
    for index, row in enumerate(rows):
        sample = sample_chest_xray(sample_rng(2, index))
        spacing = float(row["PixelSpacingRow"])
        assert spacing == sample.pixel_spacing[0] == float(row["PixelSpacingColumn"])
        assert [int(row[name]) for name in CHEST_XRAY_LABELS] == sample.labels.astype(int).tolist()
        with warnings.catch_warnings():
            warnings.filterwarnings("error", module="monai_afpe")  # calibrated PixelSpacing: no projection warning
            dicom = load_image(tmp_path / "a" / row["Path"])
        assert dicom.shape == (1, int(row["Rows"]), int(row["Columns"]))
        np.testing.assert_array_equal(dicom[0].numpy(), sample.image)
        np.testing.assert_allclose(np.diag(dicom.affine.numpy())[:2], (spacing, spacing), rtol=1e-12)
        assert dicom.meta["spacing_source"] == "PixelSpacing (calibrated: GEOMETRY)"
        png = load_image(tmp_path / "a" / row["PNG"], pixel_spacing=spacing)
        np.testing.assert_array_equal(png[0].numpy(), sample.image >> 4)
        ds = pydicom.dcmread(tmp_path / "a" / row["Path"])
        assert ds.Modality == "DX" and ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.1"
        assert float(ds.ImagerPixelSpacing[0]) == pytest.approx(
            spacing * float(ds.EstimatedRadiographicMagnificationFactor), rel=1e-5
        )


def test_imager_spacing_tags_give_the_spacing_through_the_magnification(tmp_path):
    from monai_afpe.data.readers import load_image

    labels = generate_chest_xray(tmp_path, num_samples=2, seed=0, formats="dicom", spacing_tags="imager")
    with open(labels, newline="") as f:
        row = next(csv.DictReader(f))
    assert row["PNG"] == "" and not (tmp_path / "png").exists()
    with pytest.warns(UserWarning, match="EstimatedRadiographicMagnificationFactor"):
        image = load_image(tmp_path / row["Path"])
    assert float(image.affine[0, 0]) == pytest.approx(float(row["PixelSpacingRow"]), rel=1e-12)
    assert "PixelSpacing" not in pydicom.dcmread(tmp_path / row["Path"])


def test_generate_rejects_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="formats must name.*jpeg"):
        generate_chest_xray(tmp_path, num_samples=2, formats=("jpeg",))


def test_registered_for_ensure_dataset(tmp_path):
    assert SYNTHETIC_DATASETS["chest-xray"] == (generate_chest_xray, "labels.csv")
    index = ensure_dataset(tmp_path / "cxr", "chest-xray", seed=1, num_samples=3, formats="png")
    assert index == tmp_path / "cxr" / "labels.csv" and (tmp_path / "cxr" / GENERATION_RECORD).is_file()
    assert ensure_dataset(tmp_path / "cxr", "chest-xray", seed=1, num_samples=3, formats="png") == index


def test_cli_generate_chest_xray(tmp_path, capsys):
    from monai_afpe.cli import main

    main(["generate", "chest-xray", str(tmp_path / "g"), "--num", "3", "--seed", "0", "--quiet", "--formats", "png"])
    out = capsys.readouterr().out
    assert "positives: Cardiomegaly" in out and "pixel size" in out
    assert len(list((tmp_path / "g" / "png").iterdir())) == 3
