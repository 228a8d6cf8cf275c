"""Shared fixtures: seeded tiny networks, so that tests build them one way and stay fast."""

import pytest
import torch

from monai_afpe.networks.nets import AFPEUNETR, AFPEViT

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
