"""Segmentation arms in the harness: the ct_segmentation source, AFPEUNETR and MONAI's UNETR, Dice, the tiny preset."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.networks.nets import UNETR

from monai_afpe.experiments.arms import build_network
from monai_afpe.experiments.config import ConfigError, parse_experiment_config
from monai_afpe.experiments.data import ExperimentData, Split, _resample_transforms, load_experiment_data
from monai_afpe.experiments.report import metrics_in, read_cases, read_results_csv
from monai_afpe.experiments.statistics import case_metric, hierarchical_bootstrap
from monai_afpe.experiments.training import case_predictions, case_targets, split_metrics
from monai_afpe.networks.nets import AFPEUNETR, MonaiUNETR

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "experiments"
LABELS = ("background", "liver", "kidney", "spleen", "aorta")
OPTIONS = {
    "source": "ct_segmentation",
    "seed": 2,
    "ct_segmentation": {
        "num_samples": 8,
        "spatial_size": [32, 32, 16],
        "generator": {"slice_spacing_range": [1.5, 3.0]},
    },
}


def _data(n=4, size=(32, 32, 16), task="segmentation") -> ExperimentData:
    generator = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 5, (n, 1, *size), generator=generator) if task == "segmentation" else torch.arange(n) % 3
    spacing = torch.tensor([[1.0, 1.0, 2.0], [0.8, 0.8, 3.0]]).repeat(n // 2, 1)
    split = Split(torch.rand(n, 1, *size, generator=generator), targets, spacing)
    return ExperimentData(task, 5 if task == "segmentation" else 3, split, split, {"test": split}, size, LABELS)


def _config(arms, source="ct_segmentation", **model):
    return parse_experiment_config(
        {
            "name": "demo",
            "kind": "benchmark",
            "data": {"source": source},
            "model": {"hidden_size": 24, "mlp_dim": 24, "num_heads": 2, **model},
            "arms": arms,
        },
        source="demo.yaml",
    )


def test_ct_segmentation_source_loads_label_maps_and_spacing(tmp_path):
    data = load_experiment_data(OPTIONS, tmp_path)
    assert data.task == "segmentation" and data.num_outputs == 5 and data.class_names == LABELS
    assert data.input_size == (32, 32, 16) and set(data.tests) == {"test"}
    assert data.train.images.shape == (len(data.train), 1, 32, 32, 16) and data.train.images.dtype == torch.float32
    assert data.train.targets.shape == data.train.images.shape and data.train.targets.dtype == torch.int64
    assert set(data.train.targets.unique().tolist()) <= set(range(5)) and bool((data.train.targets > 0).any())
    assert 0.0 <= float(data.train.images.min()) and float(data.train.images.max()) <= 1.0  # HU window to [0, 1]
    # spacing comes from each volume's affine: the generator's record of every training volume
    with open(Path(data.info["data_dir"]) / "geometry.csv", newline="") as f:
        records = [r for r in csv.DictReader(f) if r["split"] == "training"]
    expected = torch.tensor([[float(r[f"spacing_{a}"]) for a in "xyz"] for r in records])
    torch.testing.assert_close(data.train.spacing, expected)

    resampled = load_experiment_data(
        OPTIONS, tmp_path, resample={"spacing": [1.0, 1.0, 2.5], "spatial_size": [32, 32, 16]}
    )
    torch.testing.assert_close(resampled.train.spacing, torch.tensor([[1.0, 1.0, 2.5]]).expand(len(data.train), 3))
    assert resampled.train.targets.dtype == torch.int64 and set(resampled.train.targets.unique().tolist()) <= set(
        range(5)
    )

    # a fixed input size that UNETR's 16-voxel patches do not divide is refused, naming the key
    odd = {**OPTIONS, "ct_segmentation": {**OPTIONS["ct_segmentation"], "input_size": [24, 32, 16]}}
    with pytest.raises(ValueError, match=r"data.ct_segmentation.input_size: .* multiple of 16 .* \[24, 32, 16\]"):
        load_experiment_data(odd, tmp_path)


def test_resampling_keeps_label_maps_integer():
    label = torch.zeros(1, 8, 8, 8)
    label[:, 2:6, 2:6, 2:6] = 4.0
    item = {
        "image": MetaTensor(label.clone(), affine=torch.diag(torch.tensor([1.0, 1.0, 3.0, 1.0]))),
        "label": MetaTensor(label.clone(), affine=torch.diag(torch.tensor([1.0, 1.0, 3.0, 1.0]))),
    }
    for transform in _resample_transforms(
        {"spacing": [0.7, 0.7, 1.3], "spatial_size": [8, 8, 8]}, 3, ("image", "label"), ("bilinear", "nearest")
    ):
        item = transform(item)
    assert set(torch.unique(item["label"]).tolist()) == {0.0, 4.0}  # nearest: no values between labels
    assert len(torch.unique(item["image"])) > 2  # bilinear on the image


def test_drawn_test_set_has_its_own_spacing_range(tmp_path):
    tests = {"test": {}, "thick": {"num_samples": 3, "generator": {"slice_spacing_range": [4.0, 6.0]}}}
    data = load_experiment_data(OPTIONS, tmp_path, test_sets=tests)
    assert list(data.tests) == ["test", "thick"] and len(data.tests["thick"]) == 3
    assert float(data.train.spacing[:, 2].max()) <= 3.0 + 1e-5
    thick = data.tests["thick"].spacing[:, 2]
    assert bool(((thick >= 4.0 - 1e-5) & (thick <= 6.0 + 1e-5)).all())
    assert data.tests["thick"].targets.shape == (3, 1, 32, 32, 16)
    assert not any(torch.equal(a, b) for a in data.tests["thick"].images for b in data.train.images)


def test_networks_are_built_per_arm():
    config = _config(
        [
            {
                "name": "phys",
                "network": "afpe_unetr",
                "pos_embed": "afpe",
                "scales": 1.0,
                "pos_embed_kwargs": {"mode": "physical", "reference_extent": 32.0},
            },
            {"name": "told", "network": "afpe_unetr", "pos_embed": "sincos", "spacing_embedding": "film"},
            {
                "name": "rope",
                "network": "afpe_unetr",
                "pos_embed": "none",
                "rotary": {"kind": "axial", "mode": "physical", "reference_extent": 16.0},
            },
        ],
        num_layers=4,
        feature_size=4,
    )
    data = _data()
    x, spacing = torch.rand(2, 1, 32, 32, 16), torch.tensor([[1.0, 1.0, 2.0], [0.8, 0.8, 3.0]])
    for name in ("phys", "told", "rope"):
        net = build_network(config, config.arm(name), data, 0, {})
        assert isinstance(net, AFPEUNETR) and len(net.vit.blocks) == 4
        assert net(x, spacing=spacing).shape == (2, 5, 32, 32, 16)
    assert build_network(config, config.arm("told"), data, 0, {}).vit.spacing_embedding.target == "film"
    assert build_network(config, config.arm("rope"), data, 0, {}).vit.rotary_positions.mode == "physical"
    # MONAI's UNETR keeps its own 12 blocks; the shared num_layers of the AFPE arms cannot reach it
    with pytest.raises(ConfigError, match=r"arms\[0\].model.num_layers: arm 'monai': MONAI's UNETR has 12 blocks"):
        _config([{"name": "monai", "network": "monai_unetr", "pos_embed": "learnable"}], num_layers=4)
    monai_config = _config(
        [{"name": "monai", "network": "monai_unetr", "pos_embed": "learnable", "model": {"feature_size": 4}}]
    )
    net = build_network(monai_config, monai_config.arms[0], data, 0, {})
    assert isinstance(net, MonaiUNETR) and isinstance(net.unetr, UNETR) and len(net.vit.blocks) == 12
    assert all(block.attn.use_flash_attention for block in net.vit.blocks)
    assert net(x, spacing=spacing).shape == (2, 5, 32, 32, 16)
    # the network must learn the data's task, also when the config check is bypassed
    with pytest.raises(
        ValueError, match=r"arm 'phys': network 'afpe_unetr' learns segmentation, the data's task is 'classification'"
    ):
        build_network(config, config.arm("phys"), _data(task="classification"), 0, {})


@pytest.mark.parametrize(
    "arm, source, model, message",
    [
        (
            {"name": "a", "pos_embed": "sincos"},
            "ct_segmentation",
            {},
            r"arm 'a': network 'afpe_vit' learns classification, multilabel, regression, but data source 'ct_segmentation' is a "
            r"segmentation task; networks for it: afpe_unetr, monai_unetr",
        ),
        (
            {"name": "a", "network": "afpe_unetr", "pos_embed": "sincos"},
            "organ_shapes",
            {},
            r"network 'afpe_unetr' learns segmentation, but data source 'organ_shapes' is a classification task",
        ),
        (
            {"name": "a", "network": "monai_unetr", "pos_embed": "sincos"},
            "ct_segmentation",
            {},
            r"pos_embed: arm 'a': MONAI's UNETR fixes .* learnable table; set pos_embed: learnable, got 'sincos'",
        ),
        (
            {"name": "a", "network": "monai_unetr", "pos_embed": "learnable", "spacing_embedding": "film"},
            "ct_segmentation",
            {},
            r"spacing_embedding: arm 'a': MONAI's UNETR \(network: monai_unetr\) takes no spacing",
        ),
        (
            {"name": "a", "network": "afpe_unetr", "pos_embed": "sincos", "spacing_embedding": "cls"},
            "ct_segmentation",
            {},
            r"spacing_embedding.target: arm 'a': AFPEUNETR has no class token; targets are tokens, film, got 'cls'",
        ),
        (
            {
                "name": "a",
                "network": "afpe_unetr",
                "pos_embed": "afpe",
                "pos_embed_kwargs": {"cls_position": "fourier"},
            },
            "ct_segmentation",
            {},
            r"cls_position: arm 'a': AFPEUNETR has no class token",
        ),
        (
            {"name": "a", "network": "afpe_unetr", "pos_embed": "sincos"},
            "ct_segmentation",
            {"patch_size": 8},
            r"arm 'a' \(condition 'default'\): model options \['patch_size'\] do not apply to network 'afpe_unetr'; "
            r"it takes feature_size",
        ),
        (
            {"name": "a", "pos_embed": "sincos"},
            "organ_shapes",
            {"feature_size": 8},
            r"model options \['feature_size'\] do not apply to network 'afpe_vit'",
        ),
        (
            {"name": "a", "network": "afpe_unetr", "pos_embed": "sincos"},
            "ct_segmentation",
            {"num_layers": 6},
            r"model.num_layers: arm 'a': AFPEUNETR needs a multiple of 4 blocks .* got 6",
        ),
        (
            {"name": "a", "network": "afpe_unetr", "pos_embed": "sincos", "augment": {"spacing_range": [1, 2]}},
            "ct_segmentation",
            {},
            r"augment: arm 'a': spacing augmentation resamples the images only",
        ),
        (
            {"name": "a", "network": "afpe_unetr", "pos_embed": "sincos"},
            "ct_segmentation",
            {"feature_sizes": 8},
            r"unknown key 'feature_sizes' \(did you mean 'feature_size'\?\)",
        ),
        (
            {"name": "a", "network": "afpe_unetr", "pos_embed": "sincos"},
            "ct_segmentation",
            {"feature_size": 0},
            r"model.feature_size: expected an integer >= 1, got 0",
        ),
    ],
)
def test_invalid_segmentation_arms_name_the_arm_and_key(arm, source, model, message):
    with pytest.raises(ConfigError, match=message):
        parse_experiment_config(
            {"name": "demo", "kind": "benchmark", "data": {"source": source}, "model": model, "arms": [arm]},
            source="demo.yaml",
        )


def test_dice_metrics_on_hand_made_predictions():
    data = _data(n=2, size=(16, 16, 16))
    targets = torch.zeros(2, 1, 16, 16, 16, dtype=torch.long)
    targets[:, :, 2:6, 2:6, 2:6] = 1
    targets[:, :, 8:12, 8:12, 8:12] = 2
    targets[0, :, 12:14, 2:4, 2:4] = 3
    targets[:, :, 0:2, 14:16, :] = 4
    perfect = 10.0 * torch.nn.functional.one_hot(targets[:, 0], 5).permute(0, 4, 1, 2, 3).float()
    metrics = split_metrics(perfect, targets, data)
    assert metrics["dice"] == pytest.approx(1.0)
    assert all(metrics[f"dice_{name}"] == pytest.approx(1.0) for name in LABELS[1:])
    assert list(metrics) == ["dice", "dice_liver", "dice_kidney", "dice_spleen", "dice_aorta", "loss"]
    # the liver predicted as background: its Dice is 0; the spleen, absent from case 1 and not predicted, counts 1
    missed = perfect.clone()
    missed[:, 0][targets[:, 0] == 1] = 20.0
    metrics = split_metrics(missed, targets, data)
    assert metrics["dice_liver"] == 0.0 and metrics["dice_kidney"] == pytest.approx(1.0)
    assert metrics["dice"] == pytest.approx(0.75)
    per_case = case_predictions(missed, targets, data)
    torch.testing.assert_close(per_case, torch.tensor([0.75, 0.75]))
    # everything predicted as background: 0 wherever a label is present
    background = torch.zeros_like(perfect)
    background[:, 0] = 1.0
    assert split_metrics(background, targets, data)["dice_liver"] == 0.0
    # cases.csv: per-case Dice as the prediction, target 1.0; the case metric "dice" is their mean
    assert torch.equal(case_targets(data.tests["test"], "segmentation"), torch.ones(2))
    assert case_metric("dice", np.array([0.5, 0.9]), np.ones(2)) == pytest.approx(0.7)
    result = hierarchical_bootstrap(
        [np.array([0.8, 0.6, 0.7])] * 3, [np.array([0.5, 0.5, 0.6])] * 3, np.ones(3), "dice", num_resamples=200
    )
    assert result.mean == pytest.approx(0.1667, abs=1e-3) and result.ci_low <= result.mean <= result.ci_high


@pytest.mark.slow
def test_segmentation_spacing_tiny_runs_end_to_end(run_tiny_benchmark):
    output = run_tiny_benchmark("segmentation_spacing")
    rows = read_results_csv(output / "results.csv")
    arms = {r["arm"] for r in rows}
    assert arms == {
        "afpeunetr-physical",
        "afpeunetr-rotary-physical",
        "afpeunetr-sincos",
        "afpeunetr-sincos-told",
        "monai-unetr-resample",
        "afpeunetr-sincos-resample-fov",
    }
    assert len(rows) == len(arms) * 2 * 2  # seeds x test sets
    tokens = {r["arm"]: r["tokens"] for r in rows}
    # the field of view kept at 1 x 1 x 2.5 mm: 48 x 48 x 32 voxels (3 x 3 x 2 patches) against the native 2 x 2 x 1
    assert tokens["afpeunetr-sincos-resample-fov"] == 18 and tokens["afpeunetr-physical"] == 4
    assert {r["test_set"] for r in rows} == {"test", "slices-4-6mm"}
    assert {r["network"] for r in rows if r["arm"] == "monai-unetr-resample"} == {"monai_unetr"}
    assert metrics_in(rows) == ["dice", "dice_liver", "dice_kidney", "dice_spleen", "dice_aorta", "loss"]
    assert all(0.0 <= r["dice"] <= 1.0 and 0.0 <= r["val_dice"] <= 1.0 for r in rows)
    cases = read_cases(output / "cases.csv.gz")
    test = cases[("default", "test")]
    assert set(test.predictions) == arms and np.all(test.targets == 1.0)
    # the per-case Dice values average to the run's Dice
    run = next(r for r in rows if r["arm"] == "afpeunetr-physical" and r["seed"] == 0 and r["test_set"] == "test")
    assert float(test.predictions["afpeunetr-physical"][0].mean()) == pytest.approx(run["dice"], abs=1e-5)
    report = (output / "results.md").read_text()
    assert "## Primary comparison" in report and "mean validation Dice" in report and "seeds × cases" in report
    assert "## Dice (liver) (mean ± sd over seeds)" in report
