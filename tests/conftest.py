"""Shared fixtures: seeded tiny networks, so that tests build them one way and stay fast, and the tiny benchmark runs."""

from pathlib import Path

import pytest
import torch

from monai_afpe.networks.nets import AFPEUNETR, AFPEViT

EXPERIMENT_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "experiments"
TINY_VIT = {"hidden_size": 24, "mlp_dim": 32, "num_layers": 1, "num_heads": 2}
TINY_UNETR = {"feature_size": 4, "hidden_size": 24, "mlp_dim": 32, "num_layers": 4, "num_heads": 2}


@pytest.fixture
def tiny_vit():
    """Factory of seeded tiny ``AFPEViT``s: ``tiny_vit(in_channels, img_size, patch_size, **options)``; options
    override :data:`TINY_VIT`; ``seed`` (default 0) seeds the initialisation."""

    def build(in_channels, img_size, patch_size, seed=0, **options):
        torch.manual_seed(seed)
        return AFPEViT(in_channels, img_size, patch_size, **{**TINY_VIT, **options})

    return build


@pytest.fixture
def tiny_unetr():
    """Factory of seeded tiny ``AFPEUNETR``s: ``tiny_unetr(in_channels, out_channels, img_size, **options)``;
    options override :data:`TINY_UNETR`; ``seed`` (default 0) seeds the initialisation."""

    def build(in_channels, out_channels, img_size, seed=0, **options):
        torch.manual_seed(seed)
        return AFPEUNETR(in_channels, out_channels, img_size, **{**TINY_UNETR, **options})

    return build


@pytest.fixture
def run_tiny_benchmark(tmp_path):
    """Runner of ``monai-afpe benchmark`` on the ``tiny`` preset, on the CPU, with the data cached in ``tmp_path``:
    ``run_tiny_benchmark(name, *extra)`` runs ``configs/experiments/<name>.yaml`` with the extra command-line
    arguments, checks that it succeeds and returns its output folder ``tmp_path / name``."""
    from monai_afpe.cli import main

    def run(name, *extra):
        output = tmp_path / name
        argv = ["benchmark", str(EXPERIMENT_CONFIGS / f"{name}.yaml"), "--preset", "tiny", "--output", str(output)]
        argv += ["--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--no-progress", *extra]
        assert main(argv) == 0
        return output

    return run
