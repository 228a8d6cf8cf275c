"""The chest X-ray scale-ratio experiment: the chest_xray source, the multi-label task, scales in per-axis
proportions at a matched bandwidth, per-label results against s_row / s_col."""

import csv
import gzip
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from monai_afpe.experiments.arms import resolve_scales
from monai_afpe.experiments.config import ArmConfig, ConfigError, load_experiment_config, parse_experiment_config
from monai_afpe.experiments.data import ExperimentData, Split, load_experiment_data, source_options
from monai_afpe.experiments.per_label import ordered_arms, per_label_table, scale_ratio
from monai_afpe.experiments.report import case_rows, label_bits, read_cases, write_cases_csv
from monai_afpe.experiments.statistics import case_metric, hierarchical_bootstrap
from monai_afpe.experiments.training import multilabel_metrics, split_metrics
from monai_afpe.networks.blocks import build_positional_embedding

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "experiments" / "cxr_scale_ratio.yaml"
# small radiographs: a field of view of 32-56 mm, as the generator's default sizes give (its mm thresholds hold)
TINY_CXR = {
    "num_samples": 16,
    "spatial_size": 32,
    "generator": {"image_size_range": [64, 80], "spacing_range": [0.5, 0.7]},
}


def _config(data=None, arms=None) -> dict:
    return {
        "name": "demo",
        "kind": "benchmark",
        "data": {"source": "chest_xray", "chest_xray": {"num_samples": 40}} if data is None else data,
        "arms": arms
        or [
            {"name": "ifpe", "pos_embed": "ifpe", "scales": 1.0},
            {"name": "afpe-4:1", "pos_embed": "afpe", "scales": {"match_bandwidth": "ifpe", "proportions": [4, 1]}},
        ],
    }


def test_shipped_config_sweeps_the_ratio_at_one_bandwidth():
    config = load_experiment_config(CONFIG, "quick")
    assert config.data["source"] == "chest_xray" and len(config.seeds) == 6
    assert config.reference_arms == ("ifpe", "sincos")
    data = _data_2d()
    arms = {a.name: a for a in config.arms}
    ratios = {}
    for arm in config.arms:
        scales = resolve_scales(arm, arms, data, 8)
        if scales is not None:
            assert math.hypot(*scales) == pytest.approx(math.sqrt(2.0))  # ||s|| of the ifpe arm (1 per axis)
            ratios[arm.name] = scales[0] / scales[1]
    assert ratios == pytest.approx({"ifpe": 1.0, "afpe-1:4": 0.25, "afpe-1:2": 0.5, "afpe-2:1": 2.0, "afpe-4:1": 4.0})
    assert load_experiment_config(CONFIG, "full").training.epochs > config.training.epochs


def test_chest_xray_options_are_checked_at_load_time():
    with pytest.raises(ConfigError, match=r"data.chest_xray: unknown keys \['size'\]"):
        parse_experiment_config(_config({"source": "chest_xray", "chest_xray": {"size": 64}}))
    with pytest.raises(ConfigError, match=r"generator: unknown keys \['spacing'\].*spacing_range"):
        parse_experiment_config(_config({"source": "chest_xray", "chest_xray": {"generator": {"spacing": 0.2}}}))
    with pytest.raises(ConfigError, match=r"data.chest_xray.generator: .*nodule_threshold"):
        parse_experiment_config(
            _config({"source": "chest_xray", "chest_xray": {"generator": {"nodule_threshold": 50}}})
        )
    with pytest.raises(ConfigError, match=r"data.chest_xray.format: expected one of dicom, png"):
        parse_experiment_config(_config({"source": "chest_xray", "chest_xray": {"format": "jpeg"}}))
    with pytest.raises(ConfigError, match=r"data.chest_xray.spatial_size: expected one or 2 positive integers"):
        parse_experiment_config(_config({"source": "chest_xray", "chest_xray": {"spatial_size": [64, 64, 8]}}))
    with pytest.raises(ConfigError, match=r"data.anisotropy .* not to the 2D chest_xray source"):
        parse_experiment_config(_config({"source": "chest_xray", "anisotropy": 2}))
    with pytest.raises(ConfigError, match=r"test_sets\[0\].options: test set 'x': generator: unknown keys \['fov'\]"):
        parse_experiment_config({**_config(), "test_sets": [{"name": "x", "options": {"generator": {"fov": 1}}}]})
    assert source_options({"source": "chest_xray", "seed": 3, "chest_xray": {"format": "png"}}) == {
        "source": "chest_xray",
        "format": "png",
        "seed": 3,
    }


def test_proportions_need_match_bandwidth_and_an_anisotropic_kind():
    with pytest.raises(ConfigError, match=r"scales.proportions: needs match_bandwidth"):
        ArmConfig("a", "afpe", scales={"proportions": [4, 1]})
    with pytest.raises(ConfigError, match=r"match_bandwidth takes only proportions .* got also \['base_scale'\]"):
        ArmConfig("a", "afpe", scales={"match_bandwidth": "b", "base_scale": 1.0})
    with pytest.raises(ConfigError, match=r"scales.proportions: arm 'a': ifpe has one isotropic scale"):
        ArmConfig("a", "ifpe", scales={"match_bandwidth": "b", "proportions": [4, 1]})
    with pytest.raises(ConfigError, match=r"proportions\[1\]: expected a finite number > 0"):
        ArmConfig("a", "afpe", scales={"match_bandwidth": "b", "proportions": [4, 0]})
    arms = [
        {"name": "sincos", "pos_embed": "sincos"},
        {"name": "a", "pos_embed": "afpe", "scales": {"match_bandwidth": "sincos"}},
    ]
    with pytest.raises(ConfigError, match=r"arms\[1\].scales.match_bandwidth: arm 'sincos' \(sincos\) has no scales"):
        parse_experiment_config(_config(arms=arms))
    wrong = ArmConfig("a", "afpe", scales={"match_bandwidth": "b", "proportions": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"arm 'a': scales.proportions needs one value or 2"):
        resolve_scales(wrong, {"a": wrong, "b": ArmConfig("b", "ifpe", scales=1.0)}, _data_2d(), 8)


def test_afpe_with_equal_scales_is_ifpe_with_the_same_draw():
    """Why the config trains no separate AFPE arm at ratio 1: it would repeat the ifpe arm run for run."""
    tokens = torch.zeros(2, 16, 32)
    afpe = build_positional_embedding("afpe", (4, 4), 32, scales=(0.7, 0.7), seed=5)
    ifpe = build_positional_embedding("ifpe", (4, 4), 32, scales=0.7, seed=5)
    torch.testing.assert_close(afpe(tokens), ifpe(tokens))


def _data_2d(targets=None) -> ExperimentData:
    split = Split(torch.zeros(4, 1, 32, 32), torch.zeros(4, 2) if targets is None else targets, torch.ones(4, 2))
    return ExperimentData("multilabel", 2, split, split, {"test": split}, (32, 32), ("a", "b"))


def test_multilabel_metrics_against_a_hand_count():
    # label a: positives score 0.9 and 0.4, negatives 0.2 and 0.5: 3 of 4 pairs ordered, AUROC 0.75; ranked
    # 0.9 (P) 0.5 (N) 0.4 (P) 0.2 (N): precision 1 at recall 1/2, 2/3 at recall 1, AUPRC 1/2 + 1/3
    # label b: no positive, undefined (NaN) and left out of the macro means
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    probabilities = torch.tensor([[0.9, 0.1], [0.2, 0.3], [0.4, 0.2], [0.5, 0.1]])
    with pytest.warns(UserWarning):
        metrics = multilabel_metrics(probabilities, targets, ("a", "b"))
    assert list(metrics)[:2] == ["auroc", "auprc"]
    assert metrics["auroc"] == pytest.approx(0.75) and metrics["auroc_a"] == pytest.approx(0.75)
    assert metrics["auprc"] == pytest.approx(0.5 + 1.0 / 3.0) and metrics["auprc_a"] == pytest.approx(0.5 + 1.0 / 3.0)
    assert math.isnan(metrics["auroc_b"]) and math.isnan(metrics["auprc_b"])
    # from logits: the loss is BCE with logits, the scores read the sigmoid (the same order)
    targets[1, 1] = 1.0
    logits = torch.logit(probabilities)
    result = split_metrics(logits, targets, _data_2d(targets))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    assert result["loss"] == pytest.approx(float(expected))
    assert result["auroc_b"] == pytest.approx(1.0) and result["auroc"] == pytest.approx((0.75 + 1.0) / 2)
    with pytest.raises(ValueError, match="must both be"):
        multilabel_metrics(probabilities, targets[:, :1], ("a", "b"))


def test_case_level_multilabel_auroc_matches_the_metrics_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    targets = (rng.random((30, 3)) < 0.4).astype(np.float32)
    predictions = [np.clip(targets * 0.3 + rng.random((30, 3)) * 0.7, 0, 1) for _ in range(3)]
    reference = [rng.random((30, 3)) for _ in range(3)]
    expected = multilabel_metrics(torch.tensor(predictions[0]), torch.tensor(targets), ("x", "y", "z"))["auroc"]
    assert case_metric("auroc", predictions[0], targets) == pytest.approx(expected)
    with pytest.raises(ValueError, match="metric 'auroc' only"):
        case_metric("accuracy", predictions[0], targets)
    rows = []
    for seed in range(3):
        rows += case_rows("c", "arm", seed, "test", predictions[seed], targets)
        rows += case_rows("c", "ref", seed, "test", reference[seed], targets)
    assert rows[0]["target"] == int(label_bits(targets[:1])[0]) and "label_prob_2" in rows[0]
    cases = read_cases(write_cases_csv(rows, tmp_path / "cases.csv.gz"))[("c", "test")]
    np.testing.assert_array_equal(cases.targets, targets.astype(int))
    np.testing.assert_allclose(cases.predictions["arm"][1], predictions[1], rtol=1e-5)
    comparison = hierarchical_bootstrap(
        [cases.predictions["arm"][s] for s in range(3)],
        [cases.predictions["ref"][s] for s in range(3)],
        cases.targets,
        "auroc",
        num_resamples=200,
    )
    assert comparison.mean > 0.1 and comparison.ci_low <= comparison.mean <= comparison.ci_high
    with gzip.open(tmp_path / "cases.csv.gz", "rt") as f:
        assert next(csv.reader(f))[-3:] == ["label_prob_0", "label_prob_1", "label_prob_2"]


def test_per_label_table_orders_arms_by_ratio():
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.1)):
        for arm, scales, auroc in (("sincos", "", 0.6), ("wide", "0.343 1.372", 0.7), ("iso", "1 1", 0.8)):
            row = {"arm": arm, "condition": "default", "test_set": "test", "seed": seed, "scales": scales}
            rows.append({**row, "auroc": auroc + shift, "auroc_Nodule": auroc - shift})
    assert scale_ratio(rows[1]) == pytest.approx(0.25, rel=1e-3) and scale_ratio(rows[0]) is None
    assert [a for a, _ in ordered_arms(rows)] == ["wide", "iso", "sincos"]
    table = per_label_table(rows, "auroc", "default", "test")
    assert table.splitlines()[0] == "| label | wide (0.25) | iso (1) | sincos (no scales) |"
    assert "| Nodule | 0.650 ± 0.071 | 0.750 ± 0.071 | 0.550 ± 0.071 |" in table
    assert "| macro mean | 0.750 ± 0.071 | 0.850 ± 0.071 | 0.650 ± 0.071 |" in table


def test_chest_xray_source_shapes_labels_and_spacing(tmp_path):
    data = load_experiment_data({"source": "chest_xray", "seed": 2, "chest_xray": TINY_CXR}, tmp_path)
    assert data.task == "multilabel" and data.num_outputs == 4 and data.input_size == (32, 32)
    assert data.class_names == ("Cardiomegaly", "Effusion", "Nodule", "ElevatedHemidiaphragm")
    assert data.train.images.shape[1:] == (1, 32, 32) and data.train.targets.dtype == torch.float32
    assert len(data.train) + len(data.validation) + len(data.tests["test"]) == 16
    (folder,) = tmp_path.iterdir()
    with open(folder / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["Split"] == "training"]
    # labels as generated, spacing of the 32 x 32 input: the file's pixel size x its size / 32, per axis
    expected_labels = [[float(r[name]) for name in data.class_names] for r in rows]
    torch.testing.assert_close(data.train.targets, torch.tensor(expected_labels))
    expected_spacing = [
        [float(r["PixelSpacingRow"]) * int(r["Rows"]) / 32, float(r["PixelSpacingColumn"]) * int(r["Columns"]) / 32]
        for r in rows
    ]
    torch.testing.assert_close(data.train.spacing, torch.tensor(expected_spacing), rtol=1e-5, atol=1e-5)
    assert data.train.images.flatten(1).mean(1).abs().max() < 0.2  # normalised per image before the resize
    png = load_experiment_data(
        {"source": "chest_xray", "seed": 2, "chest_xray": {**TINY_CXR, "format": "png"}}, tmp_path
    )
    torch.testing.assert_close(png.train.targets, data.train.targets)
    torch.testing.assert_close(png.train.spacing, data.train.spacing, rtol=1e-5, atol=1e-5)
    again = load_experiment_data({"source": "chest_xray", "seed": 2, "chest_xray": TINY_CXR}, tmp_path)
    torch.testing.assert_close(again.train.images, data.train.images)  # read again from the cache
    assert len(list(tmp_path.iterdir())) == 2  # one folder per format


@pytest.mark.slow
def test_cxr_scale_ratio_tiny_end_to_end(run_tiny_benchmark):
    output = run_tiny_benchmark("cxr_scale_ratio")
    with open(output / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {r["arm"] for r in rows} == {"ifpe", "afpe-4:1", "sincos"}
    afpe = next(r for r in rows if r["arm"] == "afpe-4:1")
    s_row, s_col = (float(v) for v in afpe["scales"].split())
    assert s_row / s_col == pytest.approx(4.0, rel=1e-3) and math.hypot(s_row, s_col) == pytest.approx(2**0.5, rel=1e-3)
    for name in ("auroc", "auprc", "auroc_Nodule", "auprc_Effusion", "val_auroc", "loss"):
        assert name in afpe
    assert int(afpe["tokens"]) == 4 * 4 + 1
    text = (output / "results.md").read_text()
    assert "## AUROC per label against the scale ratio s_row / s_col" in text
    assert "| label | ifpe (1) | afpe-4:1 (4) | sincos (no scales) |" in text
    assert "## Primary comparison" in text and (output / "per_label_auroc.png").is_file()
    cases = read_cases(output / "cases.csv.gz")[("default", "test")]
    assert cases.targets.shape[1] == 4 and set(np.unique(cases.targets)) <= {0, 1}
