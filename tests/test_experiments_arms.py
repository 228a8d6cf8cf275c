"""Arms to networks: scales by policy, bandwidth matching, tuning overrides, seeds that set init and G."""

import math

import pytest
import torch

from monai_afpe.experiments.arms import build_network, resolve_scales, tokens_per_sample
from monai_afpe.experiments.config import parse_experiment_config
from monai_afpe.experiments.data import ExperimentData, Split
from monai_afpe.experiments.training import train_and_evaluate, train_flops_per_sample


def _data(spacing=(1.0, 1.0, 4.0), size=(16, 16, 8), n=12, task="classification") -> ExperimentData:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(n, 1, *size, generator=generator)
    targets = torch.arange(n) % 3 if task == "classification" else torch.rand(n, generator=generator) * 50 + 25
    split = Split(images, targets, torch.tensor([spacing] * n, dtype=torch.float32))
    return ExperimentData(
        task=task,
        num_outputs=3 if task == "classification" else 1,
        train=split,
        validation=split,
        tests={"test": split},
        input_size=size,
        target_mean=float(targets.float().mean()),
        target_std=float(targets.float().std()),
    )


def _config(arms, **changes):
    raw = {
        "name": "demo",
        "kind": "benchmark",
        "data": {"source": "organ_shapes"},
        "model": {"patch_size": [8, 8, 2], "hidden_size": 24, "mlp_dim": 24, "num_layers": 1, "num_heads": 2},
        "training": {"epochs": 2, "batch_size": 4, "bf16": False, "threads": 1},
        "arms": arms,
        **changes,
    }
    return parse_experiment_config(raw)


ARMS = [
    {"name": "res", "pos_embed": "afpe", "scales": {"policy": "resolution", "base_scale": 0.5}},
    {"name": "phys", "pos_embed": "afpe", "scales": {"policy": "physical", "base_scale": 1.0}},
    {"name": "matched", "pos_embed": "ifpe", "scales": {"match_bandwidth": "res"}},
    {
        "name": "fixed",
        "pos_embed": "afpe",
        "scales": {"policy": "fixed", "values": [0.78, 0.11, 0.11]},
        "tune": {"multipliers": [[1, 2, 0.5], [1, 0.5, 2]]},
    },
    {"name": "plain", "pos_embed": "afpe", "scales": [0.3, 0.3, 0.1]},
    {"name": "sincos", "pos_embed": "sincos"},
]


def test_resolve_scales_by_policy_and_bandwidth():
    config = _config(ARMS)
    arms = {a.name: a for a in config.arms}
    data = _data()
    assert resolve_scales(arms["res"], arms, data, [8, 8, 2]) == pytest.approx((0.5, 0.5, 0.125))
    # physical policy: extents (2-1)*8*1, (2-1)*8*1, (4-1)*2*4 mm -> s0 * extent / max extent
    assert resolve_scales(arms["phys"], arms, data, [8, 8, 2]) == pytest.approx((8 / 24, 8 / 24, 1.0))
    matched = resolve_scales(arms["matched"], arms, data, [8, 8, 2])
    assert len(set(matched)) == 1
    assert math.sqrt(sum(s * s for s in matched)) == pytest.approx(math.sqrt(0.5**2 * 2 + 0.125**2))
    assert resolve_scales(arms["fixed"], arms, data, [8, 8, 2], ("multipliers", [1, 2, 0.5])) == pytest.approx(
        (0.78, 0.22, 0.055)
    )
    assert resolve_scales(arms["plain"], arms, data, [8, 8, 2]) == pytest.approx((0.3, 0.3, 0.1))
    assert resolve_scales(arms["sincos"], arms, data, [8, 8, 2]) is None


def test_policies_use_the_median_training_spacing():
    config = _config(ARMS)
    arms = {a.name: a for a in config.arms}
    data = _data()
    data.train.spacing[:5, 2] = 1.0  # 5 of 12 samples with 1 mm slices: the median stays 4 mm
    assert resolve_scales(arms["res"], arms, data, [8, 8, 2]) == pytest.approx((0.5, 0.5, 0.125))


def test_the_seed_sets_both_the_initialisation_and_the_fourier_draw():
    config = _config(ARMS)
    data = _data()
    a, b, c = (build_network(config, config.arm("res"), data, seed, {}) for seed in (0, 0, 1))
    assert torch.equal(a.position_embedding.gaussian, b.position_embedding.gaussian)
    assert torch.equal(a.head.weight, b.head.weight)
    assert not torch.equal(a.position_embedding.gaussian, c.position_embedding.gaussian)
    assert not torch.equal(a.head.weight, c.head.weight)
    torch.testing.assert_close(a.position_embedding.scales, torch.tensor([0.5, 0.5, 0.125]))
    matched = build_network(config, config.arm("matched"), data, 0, {})
    torch.testing.assert_close(
        matched.position_embedding.scales, torch.full((3,), math.sqrt((0.5**2 * 2 + 0.125**2) / 3))
    )


def test_regression_heads_start_at_the_target_mean_and_scale():
    config = _config(ARMS)
    data = _data(task="regression")
    network = build_network(config, config.arm("plain"), data, 0, {})
    assert network.task == "regression"
    torch.testing.assert_close(network.output_scale, torch.tensor([data.target_std]))
    torch.testing.assert_close(network.head.bias * network.output_scale, torch.tensor([data.target_mean]))


def test_train_and_evaluate_records_metrics_and_costs():
    config = _config(ARMS)
    data = _data()
    network = build_network(config, config.arm("res"), data, 0, {})
    calls = []
    result = train_and_evaluate(
        network, data, config.training, 0, on_epoch=lambda epoch, val: calls.append(epoch) or False
    )
    assert calls == [0, 1] and len(result.history) == 2 and "val_auroc" in result.history[0]
    assert set(result.tests["test"]) == {"accuracy", "auroc", "loss"}
    assert 0.0 <= result.tests["test"]["accuracy"] <= 1.0
    assert result.tokens == tokens_per_sample((16, 16, 8), (8, 8, 2)) == 2 * 2 * 4 + 1
    assert result.memory_kind == "saved_activations" and result.memory_mb > 0
    assert result.train_gflop * 1e9 == pytest.approx(train_flops_per_sample(network, 17))
    stopped = train_and_evaluate(
        build_network(config, config.arm("res"), data, 0, {}), data, config.training, 0, on_epoch=lambda e, v: True
    )
    assert stopped.stopped_early and len(stopped.history) == 1 and stopped.tests == {}


def test_regression_metrics():
    config = _config(ARMS)
    data = _data(task="regression")
    result = train_and_evaluate(build_network(config, config.arm("plain"), data, 0, {}), data, config.training, 0)
    metrics = result.tests["test"]
    assert set(metrics) == {"r2", "mae", "rmse", "loss"}
    assert metrics["rmse"] >= metrics["mae"] > 0
