"""The mathematics of the positional-encoding library (docs/design.md §1, arXiv 2509.02488)."""

import math

import pytest
import torch
from monai.networks.blocks.pos_embed_utils import build_fourier_position_embedding, build_sincos_position_embedding

from monai_afpe.networks.blocks import (
    FourierPositionalEmbedding,
    build_positional_embedding,
    fourier_features,
    grid_positions,
    physical_positions,
)


def table(embedding, grid, spacing=None):
    """The embedding of every token of ``grid`` (batch of one unless spacing has several rows)."""
    tokens = torch.zeros(1, math.prod(grid), embedding.hidden_size)
    return embedding(tokens, spacing=spacing, grid_size=list(grid))


@pytest.mark.parametrize(
    "grid, scales", [((7, 5), [0.7, 1.9]), ((6, 5, 4), [1.0, 0.5, 2.0]), ((4, 4, 4), [1.5, 1.5, 1.5])]
)
def test_afpe_equals_monai_fourier_embedding_with_the_same_gaussian(grid, scales):
    hidden = 48
    torch.manual_seed(123)
    reference = build_fourier_position_embedding(list(grid), hidden, spatial_dims=len(grid), scales=scales)
    torch.manual_seed(123)
    monai_gaussian = torch.randn(hidden // 2, len(grid))
    afpe = build_positional_embedding("afpe", grid, hidden, scales=scales)
    afpe.load_state_dict({"gaussian": monai_gaussian, "log_scales": afpe.log_scales})
    torch.testing.assert_close(table(afpe, grid), reference.data, atol=1e-6, rtol=0)


@pytest.mark.parametrize("grid, hidden", [((7, 5), 32), ((6, 5, 4), 48), ((3, 8, 2), 96)])
def test_sincos_equals_monai_sincos_embedding(grid, hidden):
    reference = build_sincos_position_embedding(list(grid), hidden, spatial_dims=len(grid))
    sincos = build_positional_embedding("sincos", grid, hidden)
    torch.testing.assert_close(table(sincos, grid), reference.data, atol=1e-6, rtol=0)


@pytest.mark.parametrize("scales", [[1.0, 1.0, 1.0], [2.0, 0.5, 1.0], [0.3, 1.2, 3.0]])
def test_mean_similarity_follows_the_gaussian_kernel(scales):
    """<PE(p), PE(q)> / (D/2) -> exp(-2π² Σ s_i² Δ_i²); with D/2 = 2^16 draws the sampling error is ~0.004."""
    half = 2**16
    frequencies = torch.randn(half, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    frequencies = frequencies * torch.tensor(scales, dtype=torch.float64)
    anchor = torch.tensor([[0.5, 0.5, 0.5]], dtype=torch.float64)
    offsets = torch.tensor(
        [[0.0, 0.0, 0.0], [0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1], [0.05, 0.1, 0.15], [0.3, 0.0, 0.2], [0.2, 0.2, 0.2]],
        dtype=torch.float64,
    )
    similarity = fourier_features(anchor + offsets, frequencies) @ fourier_features(anchor, frequencies)[0] / half
    kernel = torch.exp(-2 * math.pi**2 * ((torch.tensor(scales, dtype=torch.float64) * offsets) ** 2).sum(dim=1))
    torch.testing.assert_close(similarity, kernel, atol=0.02, rtol=0)
    assert similarity[0] == pytest.approx(1.0)


def gram(features):
    return features @ features.transpose(-1, -2)


@pytest.mark.parametrize(
    "grid, patch, spacing", [((6, 5, 4), (4, 4, 2), (0.7, 0.9, 5.0)), ((8, 8), (16, 16), (0.5, 2.0))]
)
def test_physical_mode_gram_equals_grid_mode_with_physically_derived_scales(grid, patch, spacing):
    """With one spacing, physical positions are grid positions shifted and rescaled by extent_i / L per axis,
    so physical mode with scale s0 and L = max extent equals grid mode with s_i = s0 * extent_i / max extent."""
    hidden, s0 = 64, 1.3
    extent = [(n - 1) * p * s for n, p, s in zip(grid, patch, spacing)]
    reference_extent = max(extent)
    physical = build_positional_embedding(
        "ifpe", grid, hidden, scales=s0, mode="physical", patch_size=patch, reference_extent=reference_extent, seed=4
    )
    grid_mode = build_positional_embedding(
        "afpe", grid, hidden, scales=[s0 * e / reference_extent for e in extent], seed=4
    )
    torch.testing.assert_close(physical.gaussian, grid_mode.gaussian)
    physical_table = table(physical, grid, torch.tensor(spacing))
    grid_table = table(grid_mode, grid)
    assert not torch.allclose(physical_table, grid_table, atol=1e-3)  # the tables differ (shift) ...
    torch.testing.assert_close(gram(physical_table), gram(grid_table), atol=2e-4, rtol=0)  # ... their Gram does not


def test_grid_mode_on_a_finer_grid_reproduces_the_table_on_shared_positions():
    """linspace(0, 1, n) positions are the even-index positions of linspace(0, 1, 2n - 1)."""
    grid, finer = (5, 4, 3), (9, 7, 5)
    afpe = build_positional_embedding("afpe", grid, 32, scales=[1.0, 0.4, 2.0])
    coarse = table(afpe, grid)[0].reshape(*grid, -1)
    fine = table(afpe, finer)[0].reshape(*finer, -1)
    torch.testing.assert_close(fine[::2, ::2, ::2], coarse, atol=1e-5, rtol=0)


def test_physical_mode_on_a_larger_field_reproduces_the_table_on_shared_tokens():
    """Centred token positions of an n-token axis are the inner n positions of an (n + 2k)-token axis."""
    grid, larger = (4, 6), (8, 10)
    kwargs = dict(scales=[0.8, 1.5], mode="physical", patch_size=(2, 4), reference_extent=50.0)
    afpe = build_positional_embedding("afpe", grid, 32, **kwargs)
    spacing = torch.tensor([1.5, 0.75])
    small = table(afpe, grid, spacing)[0].reshape(*grid, -1)
    big = table(afpe, larger, spacing)[0].reshape(*larger, -1)
    torch.testing.assert_close(big[2:6, 2:8], small, atol=1e-5, rtol=0)


def test_sincos_is_exact_on_a_larger_grid():
    sincos = build_positional_embedding("sincos", (4, 5), 32)
    big = table(sincos, (6, 7))[0].reshape(6, 7, -1)
    torch.testing.assert_close(big[:4, :5], table(sincos, (4, 5))[0].reshape(4, 5, -1), atol=1e-6, rtol=0)


def test_physical_mode_is_evaluated_per_sample():
    grid = (3, 4, 2)
    afpe = build_positional_embedding(
        "afpe", grid, 16, scales=[1.0, 1.0, 0.5], mode="physical", patch_size=(4, 4, 2), reference_extent=64.0
    )
    spacing = torch.tensor([[0.7, 0.7, 5.0], [1.2, 1.0, 1.5]])
    batch = table(afpe, grid, spacing)
    assert batch.shape == (2, 24, 16)
    for row in range(2):
        torch.testing.assert_close(batch[row], table(afpe, grid, spacing[row])[0])
    assert not torch.allclose(batch[0], batch[1], atol=1e-3)


def test_physical_positions_are_token_centres_from_the_field_centre():
    positions = physical_positions(
        [3, 2], torch.tensor([4.0, 2.0]), torch.tensor([[0.5, 3.0]]), torch.tensor([10.0, 6.0])
    )
    # axis 0: token centres at -2, 0, 2 voxels*mm / 10; axis 1: -3, 3 mm / 6
    expected = torch.tensor([[-0.2, -0.5], [-0.2, 0.5], [0.0, -0.5], [0.0, 0.5], [0.2, -0.5], [0.2, 0.5]])
    torch.testing.assert_close(positions[0], expected)
    torch.testing.assert_close(
        grid_positions([3, 2]), torch.tensor([[0, 0], [0, 1], [0.5, 0], [0.5, 1], [1, 0], [1, 1.0]])
    )


def test_fourier_class_token_is_the_encoding_of_a_coordinate_outside_the_grid():
    afpe = build_positional_embedding("afpe", (4, 4), 32, scales=[1.0, 2.0], cls_position="fourier")
    expected = fourier_features(torch.tensor([[-1.0, -1.0]]), afpe.frequencies)
    torch.testing.assert_close(afpe.class_embedding(3), expected.expand(3, 1, 32))
    assert afpe.class_embedding(1).norm() ** 2 == pytest.approx(16.0)


def test_refresh_table_after_editing_the_gaussian_in_place():
    afpe = build_positional_embedding("afpe", (3, 4), 16)
    with torch.no_grad():
        afpe.gaussian.mul_(2.0)
    afpe.refresh_table()
    torch.testing.assert_close(table(afpe, (3, 4))[0], fourier_features(grid_positions([3, 4]), afpe.frequencies))


def test_state_dict_round_trip_keeps_gaussian_scales_and_table():
    source = build_positional_embedding("afpe", (4, 5), 32, scales=[0.5, 2.0], seed=7)
    target = build_positional_embedding("afpe", (4, 5), 32, scales=[1.0, 1.0], seed=8)
    assert set(source.state_dict()) == {"gaussian", "log_scales"}
    target.load_state_dict(source.state_dict())
    torch.testing.assert_close(target.gaussian, source.gaussian)
    torch.testing.assert_close(target.scales, torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(table(target, (4, 5)), table(source, (4, 5)))


@pytest.mark.parametrize("kind", ["learnable", "ifpe", "afpe", "lfpe", "afpe_learnable_scales"])
def test_same_seed_gives_identical_modules_and_different_seeds_differ(kind):
    first, second, other = (build_positional_embedding(kind, (3, 4, 5), 24, seed=s) for s in (11, 11, 12))
    torch.testing.assert_close(table(first, (3, 4, 5)), table(second, (3, 4, 5)))
    assert not torch.allclose(table(first, (3, 4, 5)), table(other, (3, 4, 5)))


def test_learned_class_vector_is_seeded():
    first, second = (build_positional_embedding("sincos", (4, 4), 16, cls_position="learned", seed=3) for _ in range(2))
    torch.testing.assert_close(first.class_embedding(2), second.class_embedding(2))
    assert first.class_embedding(2).shape == (2, 1, 16)


def test_learnable_table_is_interpolated_on_another_grid_with_a_warning():
    learnable = build_positional_embedding("learnable", (3, 5), 8)
    with pytest.warns(UserWarning, match="interpolated"):
        finer = table(learnable, (5, 9))[0].reshape(5, 9, 8)
    original = learnable.position_embeddings[0].detach().reshape(3, 5, 8)
    torch.testing.assert_close(finer[::2, ::2].detach(), original)  # corners aligned: shared lattice points kept
    torch.testing.assert_close(finer[1, 0].detach(), (original[0, 0] + original[1, 0]) / 2)


def test_learnable_parts_receive_gradients():
    for kind, name in [
        ("lfpe", "gaussian"),
        ("afpe_learnable_scales", "log_scales"),
        ("learnable", "position_embeddings"),
    ]:
        embedding = build_positional_embedding(kind, (3, 4), 16)
        weights = torch.randn(1, 12, 16, generator=torch.Generator().manual_seed(0))
        (table(embedding, (3, 4)) * weights).sum().backward()  # not |PE|², which is constant for Fourier features
        gradient = getattr(embedding, name).grad
        assert gradient is not None and gradient.abs().sum() > 0, kind
    afpe = build_positional_embedding("afpe", (3, 4), 16)
    assert list(afpe.parameters()) == []


def test_learnable_scales_are_log_parameterised_and_initialised_from_scales():
    embedding = build_positional_embedding("afpe_learnable_scales", (3, 4), 16, scales=[0.25, 4.0])
    torch.testing.assert_close(embedding.log_scales.data, torch.tensor([0.25, 4.0]).log())
    assert isinstance(embedding, FourierPositionalEmbedding) and embedding.log_scales.requires_grad


def test_physical_mode_is_exact_under_bf16_autocast():
    afpe = build_positional_embedding(
        "lfpe", (4, 5, 3), 64, scales=4.0, mode="physical", patch_size=(4, 4, 2), reference_extent=20.0
    )
    spacing = torch.tensor([[0.7, 0.7, 5.0], [1.1, 0.9, 2.0]])
    reference = table(afpe, (4, 5, 3), spacing)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = table(afpe, (4, 5, 3), spacing)
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, reference, atol=1e-5, rtol=0)
