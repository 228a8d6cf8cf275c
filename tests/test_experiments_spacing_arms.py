"""Harness arms for the spacing question: MONAI's ViT, spacing embedding, rotary, stem, augmentation, shifted test sets."""

import csv
import gzip
from pathlib import Path

import pytest
import torch

from monai_afpe.cli import main
from monai_afpe.experiments.arms import build_network, nominal_spacing
from monai_afpe.experiments.augmentation import spacing_augmentation
from monai_afpe.experiments.config import AugmentConfig, ConfigError, parse_experiment_config
from monai_afpe.experiments.data import ExperimentData, Split, load_experiment_data
from monai_afpe.experiments.training import train_and_evaluate
from monai_afpe.networks.nets import AFPEViT, MonaiViTClassifier

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "experiments"


def _data(n=8, size=(16, 16, 16)) -> ExperimentData:
    generator = torch.Generator().manual_seed(0)
    spacing = torch.tensor([[1.0, 1.0, 2.0], [0.8, 0.8, 3.0]]).repeat(n // 2, 1)
    split = Split(torch.randn(n, 1, *size, generator=generator), torch.arange(n) % 3, spacing)
    return ExperimentData("classification", 3, split, split, {"test": split}, size)


def _config(arms, **model):
    return parse_experiment_config(
        {
            "name": "demo",
            "kind": "benchmark",
            "data": {"source": "organ_shapes"},
            "model": {"patch_size": 8, "hidden_size": 24, "mlp_dim": 24, "num_layers": 2, "num_heads": 2, **model},
            "arms": arms,
        },
        source="demo.yaml",
    )


def test_monai_vit_arm_is_monais_network_with_fused_attention():
    config = _config([{"name": "m", "network": "monai_vit", "pos_embed": "sincos"}])
    net = build_network(config, config.arms[0], _data(), 0, {})
    assert isinstance(net, MonaiViTClassifier)
    assert all(block.attn.use_flash_attention for block in net.vit.blocks)
    assert net(torch.randn(2, 1, 16, 16, 16), spacing=torch.ones(2, 3)).shape == (2, 3)
    assert net.patch_size == [8, 8, 8] and len(net.blocks) == 2
    # a stem in the shared model options must be switched off for MONAI's ViT
    with_stem = _config([{"name": "m", "network": "monai_vit", "pos_embed": "sincos"}], stem_channels=[4, 8, 8])
    with pytest.raises(ValueError, match="stem_channels: null"):
        build_network(with_stem, with_stem.arms[0], _data(), 0, {})
    allowed = _config(
        [{"name": "m", "network": "monai_vit", "pos_embed": "sincos", "model": {"stem_channels": None}}],
        stem_channels=[4, 8, 8],
    )
    assert isinstance(build_network(allowed, allowed.arms[0], _data(), 0, {}), MonaiViTClassifier)


def test_spacing_embedding_rotary_and_stem_reach_the_network():
    config = _config(
        [
            {"name": "told", "pos_embed": "sincos", "spacing_embedding": "film"},
            {
                "name": "rope",
                "pos_embed": "none",
                "rotary": {"kind": "mixed", "mode": "physical", "reference_extent": 8.0},
            },
        ],
        stem_channels=[4, 8, 8],
    )
    data = _data()
    told = build_network(config, config.arm("told"), data, 0, {})
    assert isinstance(told, AFPEViT) and told.spacing_embedding.target == "film"
    assert told.patch_embedding.stem is not None
    # the embedding's input is centred on the training set's median spacing
    torch.testing.assert_close(told.spacing_embedding.log_reference_spacing[0], nominal_spacing(data).float().log())
    rope = [build_network(config, config.arm("rope"), data, seed, {}) for seed in (0, 0, 1)]
    assert rope[0].rotary_positions.mode == "physical"
    frames = [net.blocks[0].attn.rotary.frequencies for net in rope]
    assert torch.equal(frames[0], frames[1]) and not torch.allclose(frames[0], frames[2])


@pytest.mark.parametrize(
    "arm, message",
    [
        (
            {"name": "a", "network": "monai_unet", "pos_embed": "sincos"},
            r"network: 'monai_unet' is not one of afpe_vit",
        ),
        ({"name": "a", "network": "monai_vit", "pos_embed": "afpe"}, r"MONAI's ViT offers none, learnable, sincos"),
        (
            {"name": "a", "network": "monai_vit", "pos_embed": "sincos", "spacing_embedding": "cls"},
            r"spacing_embedding: MONAI's ViT \(network: monai_vit\) takes no spacing",
        ),
        ({"name": "a", "pos_embed": "none", "rotary": {"mode": "grid"}}, r"rotary: missing required key 'kind'"),
        (
            {"name": "a", "pos_embed": "none", "rotary": {"kind": "axial", "mode": "physical"}},
            r"mode 'physical' needs reference_extent",
        ),
        ({"name": "a", "pos_embed": "sincos", "spacing_embedding": {"where": "cls"}}, r"unknown key 'where'"),
        (
            {"name": "a", "pos_embed": "sincos", "augment": {"prob": 0.5}},
            r"augment: missing required key 'spacing_range'",
        ),
        (
            {"name": "a", "pos_embed": "sincos", "augment": {"spacing_range": [1, 2], "prob": 2}},
            r"augment.prob: expected a probability in \[0, 1\]",
        ),
        ({"name": "a", "pos_embed": "sincos", "model": {"stem_channels": [4, 0]}}, r"model.stem_channels\[1\]"),
    ],
)
def test_invalid_arms_name_the_key(arm, message):
    with pytest.raises(ConfigError, match=message):
        _config([arm])


def test_spacing_augmentation_draws_spacing_in_range_each_epoch():
    data = _data()
    augment = spacing_augmentation(
        AugmentConfig(spacing_range=[[0.6, 1.2], [0.6, 1.2], [3.0, 5.0]], tie_axes=[[0, 1]]), (16, 16, 16)
    )
    first, again, other = augment(data.train, 0), augment(data.train, 0), augment(data.train, 1)
    assert first.images.shape == data.train.images.shape
    assert torch.equal(first.spacing, again.spacing) and not torch.equal(first.spacing, other.spacing)
    assert torch.equal(first.spacing[:, 0], first.spacing[:, 1])
    assert bool(((first.spacing[:, 2] >= 3.0) & (first.spacing[:, 2] <= 5.0)).all())
    assert bool(((first.spacing[:, 0] >= 0.6) & (first.spacing[:, 0] <= 1.2)).all())
    kept = spacing_augmentation(
        AugmentConfig(spacing_range=[[0.6, 1.2], [0.6, 1.2], [3.0, 5.0]], prob=0.0), (16, 16, 16)
    )
    unchanged = kept(data.train, 0)
    torch.testing.assert_close(unchanged.images, data.train.images)
    torch.testing.assert_close(unchanged.spacing, data.train.spacing)


def test_drawn_test_sets_have_their_own_spacing_and_volumes(tmp_path):
    options = {
        "source": "organ_shapes",
        "organ_shapes": {
            "protocol": "mixed",
            "num_samples": 12,
            "spatial_size": 16,
            "generator": {"inplane_spacing_range": [1.6, 2.0], "slice_spacing_range": [1.0, 2.0]},
        },
    }
    tests = {"test": {}, "thick": {"num_samples": 6, "generator": {"slice_spacing_range": [4.0, 6.0]}}}
    data = load_experiment_data(options, tmp_path, test_sets=tests)
    assert set(data.tests) == {"test", "thick"} and len(data.tests["thick"]) == 6
    assert float(data.train.spacing[:, 2].max()) <= 2.0 + 1e-5
    thick = data.tests["thick"].spacing[:, 2]
    assert bool(((thick >= 4.0 - 1e-5) & (thick <= 6.0 + 1e-5)).all())
    # another seed: no volume of the drawn set repeats a training volume
    assert not any(torch.equal(a, b) for a in data.tests["thick"].images for b in data.train.images)
    with pytest.raises(ValueError, match=r"test set 'x': unknown options \['frame_step'\]"):
        load_experiment_data(options, tmp_path, test_sets={"x": {"frame_step": 2}})


@pytest.mark.slow
def test_spacing_awareness_tiny_runs_every_new_arm(run_tiny_benchmark, tmp_path):
    output = run_tiny_benchmark("spacing_awareness")
    with open(output / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    arms = {r["arm"] for r in rows}
    assert {
        "afpe-physical-augment",
        "rotary-physical",
        "rotary-mixed-grid",
        "sincos-told-film",
        "monai-vit-resample",
    } <= arms
    # seeds x (two test sets, then fine-tuned on 4 volumes of 4-6 mm slices, and trained on them from scratch)
    assert len(rows) == len(arms) * 2 * 4
    assert {r["test_set"] for r in rows} == {"test", "slices-4-6mm", "finetune-4", "scratch-4"}
    tuned = [r for r in rows if r["test_set"] == "finetune-4"]
    assert all(r["epochs"] == "1" for r in tuned)
    assert {r["network"] for r in rows if r["arm"] == "monai-vit-resample"} == {"monai_vit"}
    with gzip.open(output / "cases.csv.gz", "rt", newline="") as f:
        cases = list(csv.DictReader(f))
    per_run = {(r["arm"], r["seed"], r["test_set"]) for r in cases}
    assert len(per_run) == len(rows)
    assert all(abs(sum(float(r[f"prob_{k}"]) for k in range(6)) - 1) < 1e-4 for r in cases)
    # the report can be rewritten from the files alone, keeping the command that produced them
    command = (output / "command.txt").read_text()
    (output / "results.md").unlink()
    run_tiny_benchmark("spacing_awareness", "--report-only")
    report = (output / "results.md").read_text()
    assert "## Primary comparison" in report and "monai-vit-resample" in report
    assert "## Fine-tuning curve: accuracy against labelled target volumes" in report
    assert (output / "finetune_accuracy.png").is_file()
    assert (output / "command.txt").read_text() == command and "--report-only" not in report
    with pytest.raises(SystemExit, match="no results.csv"):
        main(
            ["benchmark", str(CONFIGS / "spacing_awareness.yaml"), "--output", str(tmp_path / "none"), "--report-only"]
        )


def test_finetuning_starts_from_the_trained_network_and_scratch_from_a_fresh_one():
    from monai_afpe.experiments.runner import finetune_runs
    from monai_afpe.experiments.training import predict

    raw = {
        "name": "demo",
        "kind": "benchmark",
        "data": {"source": "organ_shapes"},
        "model": {"patch_size": 8, "hidden_size": 24, "mlp_dim": 24, "num_layers": 1, "num_heads": 2},
        "training": {"epochs": 2, "batch_size": 4, "bf16": False, "threads": 1, "learning_rate": 0.01},
        "arms": [{"name": "told", "pos_embed": "sincos", "spacing_embedding": "tokens"}],
        # a vanishing learning rate: the fine-tuned network predicts what the trained one did
        "finetune": {"data": {}, "num_samples": [4], "epochs": 1, "learning_rate": 1.0e-12, "warmup_epochs": 0},
    }
    config = parse_experiment_config(raw)
    data = _data()
    network = build_network(config, config.arms[0], data, 0, {})
    train_and_evaluate(network, data, config.training, 0)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    runs = finetune_runs(config, config.arms[0], network, data, 0, {}, None, "cpu")
    assert [next(iter(run_data.tests)) for run_data, _ in runs] == ["finetune-4", "scratch-4"]
    assert all(len(run_data.train) == 4 for run_data, _ in runs)
    trained = predict(network, data.tests["test"], config.training, torch.device("cpu")).softmax(dim=1)
    torch.testing.assert_close(runs[0][1].test_predictions["finetune-4"], trained, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(runs[1][1].test_predictions["scratch-4"], trained, atol=1e-3)
    assert all(torch.equal(before[k], v) for k, v in network.state_dict().items())  # the trained network is kept
    too_many = parse_experiment_config({**raw, "finetune": {**raw["finetune"], "num_samples": [100]}})
    with pytest.raises(ValueError, match="exceeds the 8 training volumes"):
        finetune_runs(too_many, too_many.arms[0], network, data, 0, {}, None, "cpu")
    with pytest.raises(ConfigError, match=r"finetune: missing required key 'num_samples'"):
        parse_experiment_config({**raw, "finetune": {"data": {}}})
