"""Networks cast to bfloat16 / float16 run in physical mode: positions and phases in float32, output in token dtype."""

from __future__ import annotations

import copy

import pytest
import torch

from monai_afpe.networks.blocks import FourierPositionalEmbedding, RotaryPositions, SpacingEmbedding
from monai_afpe.networks.nets import AFPEViT

SPACING = torch.tensor([[0.8, 0.8, 3.0], [1.1, 0.7, 1.5]])

ARMS = {
    "physical-fourier": {
        "pos_embed": "afpe",
        "pos_embed_kwargs": {"mode": "physical", "reference_extent": 17.0, "scales": (3.0, 2.0, 1.3)},
    },
    "physical-fourier-cls": {
        "pos_embed": "afpe_learnable_scales",
        "pos_embed_kwargs": {"mode": "physical", "reference_extent": 17.0, "cls_position": "fourier"},
    },
    "spacing-embedding": {
        "pos_embed": "sincos",
        "spacing_embedding": "film",
        "spacing_embedding_kwargs": {"reference_spacing": 0.9},
    },
    "physical-rotary": {
        "pos_embed": "none",
        "rotary_embedding": "mixed",
        "rotary_embedding_kwargs": {"mode": "physical", "reference_extent": 3.3},
    },
}


def _net(tiny_vit, arm: str) -> AFPEViT:
    """A seeded two-block ``AFPEViT`` of the arm, in evaluation mode (``tiny_vit``: the conftest fixture)."""
    net = tiny_vit(1, (16, 16, 8), (4, 4, 2), hidden_size=48, mlp_dim=64, num_layers=2, num_heads=2, **ARMS[arm])
    if arm == "spacing-embedding":  # the last layer starts at zero: give the embedding something to say
        torch.nn.init.normal_(net.spacing_embedding.mlp[2].weight, std=0.5)
    return net.eval()


def _run_or_skip(net: torch.nn.Module, x: torch.Tensor, spacing: torch.Tensor) -> torch.Tensor:
    try:
        with torch.no_grad():
            return net(x, spacing=spacing)
    except (NotImplementedError, RuntimeError) as e:
        if x.dtype == torch.float16 and "not implemented for 'Half'" in str(e):
            pytest.skip(f"no float16 CPU kernel in this PyTorch: {e}")
        raise


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("arm", sorted(ARMS))
def test_cast_network_runs_and_follows_the_float32_network(arm, dtype, tiny_vit):
    reference = _net(tiny_vit, arm)
    x = torch.randn(2, 1, 16, 16, 8)
    with torch.no_grad():
        expected = reference(x, spacing=SPACING)
    cast = copy.deepcopy(reference).to(dtype)
    out = _run_or_skip(cast, x.to(dtype), SPACING)
    assert out.dtype == dtype and out.shape == expected.shape and torch.isfinite(out).all()
    # two blocks in 16 bits: agreement to the precision of the format, not bit-exactness
    tolerance = 0.1 if dtype == torch.bfloat16 else 0.02
    torch.testing.assert_close(out.float(), expected, atol=tolerance * expected.abs().max().item(), rtol=0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_fourier_phases_are_float32_in_a_cast_module(dtype):
    """A physical-mode table of a 16-bit module is the float32 table, rounded once at the end."""
    embed = FourierPositionalEmbedding(
        (4, 4, 4),
        64,
        scales=(40.0, 25.0, 9.0),
        mode="physical",
        patch_size=(4, 4, 2),
        reference_extent=7.3,
        spacing=0.7,
    )
    expected = embed.embedding([4, 4, 4], SPACING)
    cls_expected = embed.class_embedding(2)
    embed.to(dtype)
    for name in FourierPositionalEmbedding.float32_buffers:
        buffer = getattr(embed, name)
        assert buffer is None or buffer.dtype == torch.float32, name
    table = embed.embedding([4, 4, 4], SPACING)
    assert table.dtype == torch.float32
    torch.testing.assert_close(table, expected, atol=0, rtol=0)
    tokens = torch.zeros(2, 64, 64, dtype=dtype)
    assert torch.equal(embed(tokens, SPACING, [4, 4, 4]), expected.to(dtype))
    torch.testing.assert_close(embed.class_embedding(2), cls_expected, atol=0, rtol=0)
    embed.float()  # back to float32: the encoding was never rounded
    torch.testing.assert_close(embed.embedding([4, 4, 4], SPACING), expected, atol=0, rtol=0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_rotary_positions_and_spacing_embedding_keep_float32_geometry(dtype):
    positions = RotaryPositions(3, mode="physical", patch_size=(4, 4, 2), reference_extent=(3.3, 3.3, 5.1))
    expected = positions([4, 4, 4], SPACING)
    positions.to(dtype)
    torch.testing.assert_close(positions([4, 4, 4], SPACING), expected, atol=0, rtol=0)

    embedding = SpacingEmbedding(3, 16, target="tokens", reference_spacing=(0.7, 0.7, 2.9), spacing=0.9)
    embedding.to(dtype)
    assert embedding.log_reference_spacing.dtype == torch.float32 and embedding.default_spacing.dtype == torch.float32
    assert embedding.mlp[0].weight.dtype == dtype  # parameters follow the module's dtype
    out = embedding(torch.zeros(2, 5, 16, dtype=dtype), SPACING)
    assert out.dtype == dtype and torch.isfinite(out).all()


def test_kept_buffers_still_follow_the_device():
    embed = FourierPositionalEmbedding((2, 2), 8, mode="physical", patch_size=2, reference_extent=4.0)
    embed.to(device="meta", dtype=torch.bfloat16)
    assert embed.gaussian.device.type == "meta" and embed.gaussian.dtype == torch.float32
    assert embed.table.dtype == torch.bfloat16  # the cached grid table is an output and follows the module
