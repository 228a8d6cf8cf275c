"""MONAI's ViT and UNETR as harness baselines: fused attention without dropout, deterministic evaluation with it."""

import pytest
import torch

from monai_afpe.networks.nets import MonaiUNETR, MonaiViTClassifier

TINY = dict(in_channels=1, img_size=16, hidden_size=16, mlp_dim=16, num_heads=2)
"""Sizes both tiny baselines share: one channel, a 16^3 image, 16 features, two heads."""


def _vit(dropout_rate):
    return MonaiViTClassifier(**TINY, patch_size=8, num_layers=2, num_classes=3, dropout_rate=dropout_rate)


def _unetr(dropout_rate):
    return MonaiUNETR(**TINY, out_channels=2, feature_size=4, dropout_rate=dropout_rate)


@pytest.mark.parametrize("build, blocks", [(_vit, lambda n: n.vit.blocks), (_unetr, lambda n: n.unetr.vit.blocks)])
def test_fused_attention_only_without_dropout_and_evaluation_is_deterministic(build, blocks):
    torch.manual_seed(0)
    assert all(b.attn.use_flash_attention for b in blocks(build(0.0)))
    net = build(0.3).eval()
    assert not any(b.attn.use_flash_attention for b in blocks(net))
    x = torch.randn(2, 1, 16, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)


def test_regression_head_starts_at_the_target_mean_in_normalised_units():
    torch.manual_seed(0)
    kwargs = dict(**TINY, patch_size=8, num_layers=1)
    net = MonaiViTClassifier(**kwargs, num_classes=1, task="regression", output_bias=55.0, output_scale=12.0)
    torch.testing.assert_close(net.vit.classification_head.bias, torch.tensor([55.0 / 12.0]))
    with torch.no_grad():
        net.vit.classification_head.weight.zero_()
        out = net(torch.randn(3, 1, 16, 16, 16))
    torch.testing.assert_close(out, torch.full((3, 1), 55.0))
    assert "output_scale" in net.state_dict()
    with pytest.raises(ValueError, match="output_scale is for task='regression'"):
        MonaiViTClassifier(**kwargs, num_classes=2, output_scale=2.0)
    with pytest.raises(ValueError, match="output_scale must be positive"):
        MonaiViTClassifier(**kwargs, num_classes=1, task="regression", output_scale=-1.0)
