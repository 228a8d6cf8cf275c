"""Synthetic CT segmentation: labelled structures, Decathlon layout, spacing in the affine, determinism."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImaged

from monai_afpe.data.synthetic import (
    CT_SEGMENTATION_LABELS,
    CTSegmentationConfig,
    generate_ct_segmentation,
    sample_ct_segmentation,
    sample_rng,
)


def test_every_structure_is_present_with_its_intensity():
    for index in range(4):
        sample = sample_ct_segmentation(sample_rng(1, index))
        assert sample.image.shape == sample.label.shape == (64, 64, 32)
        assert sample.image.dtype == np.int16 and sample.label.dtype == np.uint8
        assert set(np.unique(sample.label)) == set(CT_SEGMENTATION_LABELS)
        hu = {
            name: float(np.median(sample.image[sample.label == value]))
            for value, name in CT_SEGMENTATION_LABELS.items()
        }
        assert 30 < hu["liver"] < 100 and 100 < hu["kidney"] < 200 and 120 < hu["aorta"] < 270
        assert (sample.image < -900).any()  # air outside the body
        # the aorta is a tube along the slice axis: labelled on every slice
        assert (sample.label == 4).any(axis=(0, 1)).all()
        # kidneys and liver span several thick slices but not the whole stack
        assert 2 < (sample.label == 2).any(axis=(0, 1)).sum() < 32


def test_spacing_is_drawn_per_volume_within_the_ranges():
    config = CTSegmentationConfig(inplane_spacing_range=(0.9, 1.1), slice_spacing_range=(3.0, 4.0))
    spacings = np.array([sample_ct_segmentation(sample_rng(2, i), config).spacing for i in range(6)])
    assert np.all((spacings[:, 0] >= 0.9) & (spacings[:, 0] <= 1.1)) and np.all(spacings[:, 0] == spacings[:, 1])
    assert np.all((spacings[:, 2] >= 3.0) & (spacings[:, 2] <= 4.0)) and len(np.unique(spacings[:, 2])) == 6


@pytest.mark.parametrize(
    "options, message",
    [
        ({"body_half_width_range": (20.0, 30.0)}, r"does not fit 64x64 voxels of 0.8 mm \(room: 24.4 mm\)"),
        ({"spatial_size": (4, 64, 32)}, "at least 8 voxels"),
        ({"noise_hu_range": (-1.0, 5.0)}, "noise_hu_range"),
    ],
)
def test_config_validation(options, message):
    with pytest.raises(ValueError, match=message):
        CTSegmentationConfig(**options)


def test_dataset_json_files_and_determinism(tmp_path):
    dataset_json = generate_ct_segmentation(tmp_path / "a", num_samples=6, seed=3, spatial_size=(48, 48, 16))
    generate_ct_segmentation(tmp_path / "b", num_samples=6, seed=3, spatial_size=(48, 48, 16))
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes(), path
    header = json.loads(dataset_json.read_text())
    assert header["labels"] == {"0": "background", "1": "liver", "2": "kidney", "3": "spleen", "4": "aorta"}
    assert header["numTraining"] + header["numValidation"] + header["numTest"] == 6
    assert header["tensorImageSize"] == "3D" and header["modality"] == {"0": "CT"}
    with open(tmp_path / "a" / "geometry.csv", newline="") as f:
        spacing = {row["image"]: [float(row[f"spacing_{a}"]) for a in "xyz"] for row in csv.DictReader(f)}
    loader = LoadImaged(keys=("image", "label"), ensure_channel_first=True)
    for key, folder in (("training", "Tr"), ("validation", "Tr"), ("test", "Ts")):
        items = load_decathlon_datalist(dataset_json, True, key)
        assert len(items) == header[f"num{key.capitalize()}"] >= 1
        for item in items:
            assert f"/images{folder}/" in item["image"] and f"/labels{folder}/" in item["label"]
            loaded = loader(item)
            assert loaded["image"].shape == loaded["label"].shape == (1, 48, 48, 16)
            np.testing.assert_allclose(loaded["image"].affine, loaded["label"].affine)
            relative = "./" + item["image"].split(str(tmp_path / "a") + "/")[1]
            np.testing.assert_allclose(loaded["image"].pixdim, spacing[relative], rtol=1e-6)
