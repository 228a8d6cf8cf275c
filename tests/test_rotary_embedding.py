"""Rotary position embeddings: relative in mm, grid and physical mode, exact on larger grids, inside fused attention."""

import math

import pytest
import torch
import torch.nn.functional as F

from monai_afpe.networks.blocks import (
    RotaryEmbedding,
    RotaryPositions,
    SDPASelfAttention,
    apply_rotary,
    axial_rotary_frequencies,
    mixed_rotary_frequencies,
    rotary_angles,
)

HEADS, HEAD_DIM = 2, 12


def scores(rotary, query, key, positions):
    """Attention logits ``(B, H, N, N)`` of one query and one key vector placed at every position."""
    batch, tokens = positions.shape[:2]
    q = query.expand(batch, HEADS, tokens, HEAD_DIM)
    k = key.expand(batch, HEADS, tokens, HEAD_DIM)
    q, k = rotary(q, k, positions)
    return q @ k.transpose(-1, -2)


@pytest.mark.parametrize("kind", ["axial", "mixed"])
def test_score_depends_only_on_the_offset_in_mm(kind):
    torch.manual_seed(0)
    rotary = RotaryEmbedding(HEADS, HEAD_DIM, 3, kind)
    query, key = torch.randn(1, HEADS, 1, HEAD_DIM), torch.randn(1, HEADS, 1, HEAD_DIM)
    positions = RotaryPositions(3, "physical", patch_size=4, reference_extent=8.0)
    # two samples of different spacing: token steps (4, 4, 8) mm and (8, 8, 16) mm
    spacing = torch.tensor([[1.0, 1.0, 2.0], [2.0, 2.0, 4.0]])
    p = positions([6, 6, 4], spacing)
    s = scores(rotary, query, key, p)
    # the logit of tokens i, j equals that of a query rotated by the offset alone against an unrotated key
    offsets = p[:, :, None, :] - p[:, None, :, :]
    q_offset = apply_rotary(
        query.expand(2, HEADS, 1, HEAD_DIM), rotary_angles(offsets.reshape(2, -1, 3), rotary.frequencies)
    )
    expected = (q_offset * key).sum(-1).reshape(2, HEADS, p.shape[1], p.shape[1])
    torch.testing.assert_close(s, expected, rtol=1e-4, atol=1e-4)
    # tokens 2 apart along axis 0 in the fine sample and 1 apart in the coarse one are both 8 mm apart
    index = lambda a, b, c: (a * 6 + b) * 4 + c  # noqa: E731
    torch.testing.assert_close(s[0, :, index(1, 2, 1), index(3, 2, 1)], s[1, :, index(2, 2, 1), index(3, 2, 1)])
    torch.testing.assert_close(s[0, :, index(0, 0, 0), index(0, 0, 2)], s[1, :, index(4, 4, 2), index(4, 4, 3)])


def test_grid_and_physical_mode_agree_up_to_a_per_axis_rescaling():
    torch.manual_seed(0)
    spacing, patch, extent = torch.tensor([0.7, 0.7, 5.0]), torch.tensor([4.0, 4.0, 2.0]), 10.0
    grid = RotaryPositions(3, "grid")([4, 4, 3])
    physical = RotaryPositions(3, "physical", patch_size=(4, 4, 2), reference_extent=extent)([4, 4, 3], spacing)
    torch.testing.assert_close(physical, grid * (patch * spacing / extent))
    rotary_physical = RotaryEmbedding(HEADS, HEAD_DIM, 3, "axial")
    rotary_grid = RotaryEmbedding(HEADS, HEAD_DIM, 3, "axial")
    rotary_grid.frequencies = rotary_physical.frequencies * (patch * spacing / extent)
    q, k = torch.randn(2, HEADS, 48, HEAD_DIM), torch.randn(2, HEADS, 48, HEAD_DIM)
    for a, b in zip(rotary_physical(q, k, physical), rotary_grid(q, k, grid)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_exact_on_a_larger_grid():
    torch.manual_seed(0)
    rotary = RotaryEmbedding(HEADS, HEAD_DIM, 3, "mixed")
    positions = RotaryPositions(3, "physical", patch_size=(8, 8, 4), reference_extent=8.0)
    spacing = torch.tensor([0.8, 0.8, 3.0])
    small, large = positions([2, 2, 2], spacing)[0], positions([4, 4, 4], spacing)[0]
    # the central 2 x 2 x 2 tokens of the larger grid sit at exactly the positions of the smaller grid
    central = torch.tensor([(a * 4 + b) * 4 + c for a in (1, 2) for b in (1, 2) for c in (1, 2)])
    assert torch.equal(large[central], small)
    q, k = torch.randn(1, HEADS, 64, HEAD_DIM), torch.randn(1, HEADS, 64, HEAD_DIM)
    rotated_large = rotary(q, k, large[None])
    rotated_small = rotary(q[:, :, central], k[:, :, central], small[None])
    for a, b in zip(rotated_large, rotated_small):
        torch.testing.assert_close(a[:, :, central], b)


def test_rotation_keeps_norms_and_prefix_tokens():
    torch.manual_seed(0)
    rotary = RotaryEmbedding(HEADS, HEAD_DIM, 2, "axial")
    positions = RotaryPositions(2, "grid")([3, 5])
    q, k = torch.randn(2, HEADS, 16, HEAD_DIM), torch.randn(2, HEADS, 16, HEAD_DIM)
    rq, rk = rotary(q, k, positions, num_prefix_tokens=1)
    torch.testing.assert_close(rq[:, :, 0], q[:, :, 0])
    torch.testing.assert_close(rk[:, :, 0], k[:, :, 0])
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1))
    assert not torch.allclose(rq[:, :, 1:], q[:, :, 1:])


def test_frequency_layouts():
    axial = axial_rotary_frequencies(12, 3, theta=100.0)
    assert axial.shape == (6, 3) and torch.equal((axial != 0).sum(dim=1), torch.ones(6, dtype=torch.long))
    torch.testing.assert_close(axial[:2, 0], torch.tensor([1.0, 0.1]))  # theta^(-j / 2)
    mixed = mixed_rotary_frequencies(4, 12, 3, theta=100.0, generator=torch.Generator().manual_seed(0))
    assert mixed.shape == (4, 6, 3)
    # each head: the axial ladder in a rotated orthonormal frame, so the magnitudes are the ladder's
    torch.testing.assert_close(mixed.norm(dim=-1), axial.norm(dim=-1).expand(4, 6))
    assert not torch.allclose(mixed[0], mixed[1])
    with pytest.raises(ValueError, match="divisible by 2 \\* 3"):
        axial_rotary_frequencies(10, 3)
    with pytest.raises(ValueError, match="reference_extent"):
        RotaryPositions(3, "physical")
    with pytest.raises(ValueError, match="needs spacing"):
        RotaryPositions(3, "physical", reference_extent=8.0)([2, 2, 2])
    with pytest.raises(ValueError, match="theta"):
        RotaryEmbedding(HEADS, HEAD_DIM, 3, theta=1.0)


def test_fused_attention_with_rotary_equals_the_explicit_formula():
    torch.manual_seed(0)
    attention = SDPASelfAttention(24, HEADS, rotary=RotaryEmbedding(HEADS, HEAD_DIM, 3, "mixed")).eval()
    positions = RotaryPositions(3, "physical", patch_size=4, reference_extent=4.0)(
        [2, 3, 2], torch.tensor([1.0, 1.0, 2.5])
    )
    x = torch.randn(2, 13, 24)
    out = attention(x, positions, num_prefix_tokens=1)
    q, k, v = attention.qkv(x).reshape(2, 13, 3, HEADS, HEAD_DIM).permute(2, 0, 3, 1, 4)
    q, k = attention.rotary(q, k, positions, 1)
    weights = F.softmax(q @ k.transpose(-1, -2) / math.sqrt(HEAD_DIM), dim=-1)
    expected = attention.out_proj((weights @ v).transpose(1, 2).reshape(2, 13, 24))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_angles_stay_float32_under_bf16_autocast():
    positions = torch.tensor([[[37.3, -12.1, 80.9]]])
    frequencies = axial_rotary_frequencies(12, 3)[None]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        angles = rotary_angles(positions, frequencies)
    assert angles.dtype == torch.float32
    torch.testing.assert_close(angles, rotary_angles(positions, frequencies))


@pytest.fixture
def vit(tiny_vit):
    """Factory of tiny two-block ``AFPEViT``s without positional embedding, in evaluation mode: ``vit(**options)``."""
    return lambda **options: tiny_vit(
        1, (16, 16, 8), (8, 8, 4), num_layers=2, num_classes=3, pos_embed="none", **options
    ).eval()


def test_vit_physical_rotary_uses_spacing_and_scripts(vit):
    net = vit(rotary_embedding="axial", rotary_embedding_kwargs={"mode": "physical", "reference_extent": 8.0})
    x = torch.randn(2, 1, 16, 16, 8)
    spacing = torch.tensor([[1.0, 1.0, 2.0], [0.6, 0.6, 5.0]])
    with torch.no_grad():
        out = net(x, spacing)
        assert not torch.allclose(out[0], net(x, spacing.flip(0))[0], atol=1e-5)
        torch.testing.assert_close(torch.jit.script(net)(x, spacing), out)
        assert net(torch.randn(1, 1, 32, 24, 16), spacing[:1]).shape == (1, 3)  # any size divisible by the patch
    # grid-mode rotary ignores spacing
    grid = vit(rotary_embedding="axial")
    with torch.no_grad():
        torch.testing.assert_close(grid(x, spacing), grid(x, spacing.flip(0)))


def test_mixed_frequencies_are_learned_per_block(vit):
    net = vit(rotary_embedding="mixed").train()
    net(torch.randn(2, 1, 16, 16, 8)).sum().backward()
    first, second = (block.attn.rotary.frequencies for block in net.blocks)
    assert first.requires_grad and first.grad.abs().sum() > 0
    assert not torch.allclose(first, second)
    assert "blocks.0.attn.rotary.frequencies" in net.state_dict()
    with pytest.raises(ValueError, match="without rotary_embedding"):
        vit(rotary_embedding_kwargs={"mode": "grid"})
