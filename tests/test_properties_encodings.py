"""Properties of the positional encodings on random token grids, spacings, scales and seeds (DESIGN.md §1).

Fourier features ``PE(p) = [sin 2πBp, cos 2πBp]`` (IFPE / AFPE / LFPE, grid and physical mode) and the
sin-cos table are bounded by 1 and pair up into unit vectors; grid mode re-evaluates exactly on a finer
grid; physical mode places tokens at their centres in mm from the centre of the field of view (so grids
that share token centres share embeddings, mirrored tokens have mirrored phases, and only
``patch * spacing / L`` matters), is evaluated per sample, and with one spacing has the Gram matrix of grid
mode with the ``physical`` scale policy. Rotary embeddings keep norms and make the query-key score a
function of the offset only. Everything is tiny: grids of 1 to 4 tokens per axis, a few channels.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from monai_afpe.networks.blocks import (
    FourierPositionalEmbedding,
    RotaryEmbedding,
    RotaryPositions,
    SinCosPositionalEmbedding,
    apply_rotary,
)
from monai_afpe.transforms import compute_afpe_scales

PROPERTY = settings(max_examples=500, deadline=None, derandomize=True)  # the same examples on every run

spacing_values = st.floats(0.1, 10.0, allow_nan=False)
scale_values = st.floats(0.1, 10.0, allow_nan=False)
seeds = st.integers(0, 2**16)


def per_axis(strategy, m):
    return st.lists(strategy, min_size=m, max_size=m)


@st.composite
def fourier_setups(draw, min_tokens=1):
    """Keyword arguments of a physical-mode :class:`FourierPositionalEmbedding`, its grid and a spacing."""
    m = draw(st.integers(1, 4))
    grid = draw(per_axis(st.integers(min_tokens, 4), m))
    patch = draw(per_axis(st.integers(1, 4), m))
    spacing = draw(per_axis(spacing_values, m))
    # L from a quarter to four times the field of view: positions within +-2, phases within a few hundred
    # radians, which float32 resolves to 1e-4
    fov = [n * p * s for n, p, s in zip(grid, patch, spacing)]
    reference_extent = [f * draw(st.floats(0.25, 4.0)) for f in fov]
    kwargs = dict(
        grid_size=grid,
        hidden_size=2 * draw(st.integers(1, 8)),
        scales=draw(per_axis(scale_values, m)),
        seed=draw(seeds),
        patch_size=patch,
        reference_extent=reference_extent,
    )
    return kwargs, grid, spacing


def tokens_of(module, grid, batch=1):
    return torch.zeros(batch, math.prod(grid), module.hidden_size)


def features(module, grid, spacing=None, batch=1):
    """The embedding of every token of ``grid``, via ``forward`` on zero tokens: ``(B, N, D)``."""
    spacing = None if spacing is None else torch.tensor(spacing, dtype=torch.float32)
    return module(tokens_of(module, grid, batch), spacing=spacing, grid_size=list(grid))


def assert_unit_pairs(table: torch.Tensor, blocks: int):
    """``table`` ``(..., D)`` is finite, within [-1, 1], and in each of ``blocks`` [sin | cos] blocks
    ``sin_k² + cos_k² = 1`` for every frequency ``k``."""
    assert torch.isfinite(table).all()
    assert table.abs().max() <= 1.0
    pairs = table.reshape(*table.shape[:-1], blocks, 2, -1)
    torch.testing.assert_close(
        pairs.square().sum(dim=-2), torch.ones(pairs.shape[:-2] + pairs.shape[-1:]), atol=1e-5, rtol=0
    )


# --- Fourier features --------------------------------------------------------------------------------


@PROPERTY
@given(
    setup=fourier_setups(),
    mode=st.sampled_from(["grid", "physical"]),
    learnable=st.sampled_from([(False, False), (True, False), (False, True)]),
    cls_coordinate=st.floats(-5.0, 5.0),
)
def test_fourier_features_are_bounded_unit_pairs(setup, mode, learnable, cls_coordinate):
    kwargs, grid, spacing = setup
    afpe = FourierPositionalEmbedding(
        mode=mode,
        learnable_frequencies=learnable[0],
        learnable_scales=learnable[1],
        cls_position="fourier",
        cls_coordinate=cls_coordinate,
        **kwargs,
    )
    table = features(afpe, grid, spacing)
    assert table.shape == (1, math.prod(grid), afpe.hidden_size)
    assert_unit_pairs(table, 1)
    assert_unit_pairs(afpe.class_embedding(2, torch.tensor(spacing)), 1)
    # the sine block is sin(2π B p) of the documented positions (grid: k / (n - 1); physical: centred, in L)
    if mode == "grid":
        axes = [torch.linspace(0, 1, n, dtype=torch.float64) for n in grid]
    else:
        axes = [
            (torch.arange(n, dtype=torch.float64) + 0.5 - n / 2) * p * s / L
            for n, p, s, L in zip(grid, kwargs["patch_size"], spacing, kwargs["reference_extent"])
        ]
    positions = torch.stack(torch.meshgrid(axes, indexing="ij"), dim=-1).reshape(-1, len(grid))
    phase = 2 * math.pi * positions @ afpe.frequencies.double().T
    torch.testing.assert_close(table[0, :, : afpe.hidden_size // 2].double(), torch.sin(phase), atol=5e-4, rtol=0)


@PROPERTY
@given(setup=fourier_setups())
def test_grid_mode_is_exact_on_a_finer_grid(setup):
    """``linspace(0, 1, n)`` is every other point of ``linspace(0, 1, 2n - 1)``: no interpolation needed."""
    kwargs, grid, _ = setup
    afpe = FourierPositionalEmbedding(mode="grid", **kwargs)
    finer = [2 * n - 1 for n in grid]
    coarse = features(afpe, grid)[0].reshape(*grid, -1)
    fine = features(afpe, finer)[0].reshape(*finer, -1)
    shared = fine[tuple(slice(None, None, 2) for _ in grid)]
    torch.testing.assert_close(shared, coarse, atol=1e-4, rtol=0)


@PROPERTY
@given(setup=fourier_setups(), data=st.data())
def test_physical_mode_grids_with_the_same_token_centres_share_embeddings(setup, data):
    """An axis of ``n + 2j`` tokens holds the ``n`` centres of an ``n``-token axis (same spacing) at ``j..j+n-1``;
    mirrored tokens (``k -> n - 1 - k`` on every axis) sit at ``-p``: same cosines, opposite sines."""
    kwargs, grid, spacing = setup
    afpe = FourierPositionalEmbedding(mode="physical", **kwargs)
    margin = data.draw(per_axis(st.integers(0, 2), len(grid)), label="margin")
    larger = [n + 2 * j for n, j in zip(grid, margin)]
    small = features(afpe, grid, spacing)[0].reshape(*grid, -1)
    big = features(afpe, larger, spacing)[0].reshape(*larger, -1)
    torch.testing.assert_close(big[tuple(slice(j, j + n) for n, j in zip(grid, margin))], small, atol=1e-5, rtol=0)
    half = afpe.hidden_size // 2
    mirrored = small.flip(list(range(len(grid))))
    torch.testing.assert_close(mirrored[..., :half], -small[..., :half], atol=1e-5, rtol=0)
    torch.testing.assert_close(mirrored[..., half:], small[..., half:], atol=1e-5, rtol=0)


@PROPERTY
@given(setup=fourier_setups(), unit=st.floats(1e-3, 1e3), data=st.data())
def test_physical_mode_depends_on_patch_times_spacing_over_reference_extent(setup, unit, data):
    """Positions are ``offset * patch * spacing / L``: a change of unit (spacing and L times ``unit``), or a
    patch folded into the spacing, leaves the embedding as it is; spacing is used per sample."""
    kwargs, grid, spacing = setup
    afpe = FourierPositionalEmbedding(mode="physical", **kwargs)
    reference = features(afpe, grid, spacing)
    in_other_unit = FourierPositionalEmbedding(
        mode="physical", **{**kwargs, "reference_extent": [unit * v for v in kwargs["reference_extent"]]}
    )
    torch.testing.assert_close(features(in_other_unit, grid, [unit * s for s in spacing]), reference, atol=1e-4, rtol=0)
    one_voxel_patches = FourierPositionalEmbedding(mode="physical", **{**kwargs, "patch_size": 1})
    folded = [p * s for p, s in zip(kwargs["patch_size"], spacing)]
    torch.testing.assert_close(features(one_voxel_patches, grid, folded), reference, atol=1e-4, rtol=0)
    other = data.draw(per_axis(spacing_values, len(grid)), label="other_spacing")
    both = features(afpe, grid, [spacing, other], batch=2)
    torch.testing.assert_close(both[:1], reference, atol=1e-6, rtol=0)
    torch.testing.assert_close(both[1:], features(afpe, grid, other), atol=1e-6, rtol=0)


@PROPERTY
@given(setup=fourier_setups(min_tokens=2), s0=st.floats(0.1, 3.0), fraction=st.floats(0.5, 4.0))
def test_physical_mode_gram_equals_grid_mode_with_physical_policy_scales(setup, s0, fraction):
    """DESIGN.md §1-2: with one spacing, physical mode (scale ``s0``, one ``L``) and grid mode with the
    ``physical`` scale policy (base ``s0 * max extent / L``) differ by a shift of positions: same Gram matrix."""
    kwargs, grid, spacing = setup
    patch = kwargs["patch_size"]
    extent = max((n - 1) * p * s for n, p, s in zip(grid, patch, spacing))
    reference_extent = fraction * extent  # one L for every axis: an isotropic kernel in mm
    kwargs = {**kwargs, "scales": s0, "reference_extent": reference_extent}
    physical = FourierPositionalEmbedding(mode="physical", **kwargs)
    scales = compute_afpe_scales(
        spacing, patch, [n * p for n, p in zip(grid, patch)], "physical", base_scale=s0 * extent / reference_extent
    )
    grid_mode = FourierPositionalEmbedding(mode="grid", **{**kwargs, "scales": scales.tolist()})
    a, b = features(physical, grid, spacing)[0], features(grid_mode, grid)[0]
    half = physical.hidden_size / 2
    torch.testing.assert_close((a @ a.T) / half, (b @ b.T) / half, atol=1e-3, rtol=0)


# --- sin-cos ------------------------------------------------------------------------------------------


@PROPERTY
@given(m=st.integers(1, 4), data=st.data(), pairs=st.integers(1, 3), temperature=st.floats(2.0, 1e5))
def test_sincos_is_bounded_and_exact_on_a_larger_grid(m, data, pairs, temperature):
    grid = data.draw(per_axis(st.integers(1, 4), m), label="grid")
    larger = [n + data.draw(st.integers(0, 2), label="extra") for n in grid]
    sincos = SinCosPositionalEmbedding(grid, 2 * m * pairs, temperature=temperature)
    table = features(sincos, grid)
    assert_unit_pairs(table, m)
    torch.testing.assert_close(table, features(sincos, grid, spacing=[2.0] * m))  # token indices: spacing unused
    big = features(sincos, larger)[0].reshape(*larger, -1)
    torch.testing.assert_close(big[tuple(slice(0, n) for n in grid)], table[0].reshape(*grid, -1), atol=1e-6, rtol=0)


# --- rotary -------------------------------------------------------------------------------------------

coordinates = st.floats(-10.0, 10.0, allow_nan=False)


@PROPERTY
@given(
    heads=st.integers(1, 2),
    tokens=st.integers(1, 4),
    pairs=st.integers(1, 6),
    seed=seeds,
    angle_range=st.floats(0.0, 100.0),
)
def test_rotation_keeps_norms_and_is_undone_by_the_opposite_angles(heads, tokens, pairs, seed, angle_range):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, heads, tokens, 2 * pairs, generator=generator)
    angles = (torch.rand(1, heads, tokens, pairs, generator=generator) * 2 - 1) * angle_range
    rotated = apply_rotary(x, angles)
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(apply_rotary(rotated, -angles), x, atol=1e-5, rtol=1e-5)


@PROPERTY
@given(
    m=st.integers(1, 4),
    pairs=st.integers(1, 2),
    kind=st.sampled_from(["axial", "mixed"]),
    theta=st.floats(2.0, 1000.0),
    seed=seeds,
    data=st.data(),
)
def test_rotary_score_depends_only_on_the_offset(m, pairs, kind, theta, seed, data):
    """``<R(p) q, R(p') k>`` is the same for ``(p, p')`` and ``(p + t, p' + t)``; at ``p = p'`` it is ``<q, k>``."""
    heads, head_dim = 2, 2 * m * pairs
    rotary = RotaryEmbedding(heads, head_dim, m, kind=kind, theta=theta, seed=seed)
    p, p2, shift = (torch.tensor(data.draw(per_axis(coordinates, m), label=name)) for name in ("p", "p2", "shift"))
    generator = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 1, heads, 1, head_dim, generator=generator)

    def score(first, second):
        positions = torch.stack([first, second])[None]  # query at token 0, key at token 1
        rq, rk = rotary(q.expand(1, heads, 2, head_dim), k.expand(1, heads, 2, head_dim), positions)
        return (rq[:, :, 0] * rk[:, :, 1]).sum(-1)

    scale = float(q.norm() * k.norm())
    torch.testing.assert_close(score(p + shift, p2 + shift), score(p, p2), atol=1e-4 * scale, rtol=0)
    torch.testing.assert_close(score(p, p), (q * k).sum(-1)[:, :, 0], atol=1e-4 * scale, rtol=0)


@PROPERTY
@given(setup=fourier_setups(), unit=st.floats(1e-3, 1e3), data=st.data())
def test_physical_rotary_positions_are_token_centres_in_reference_units(setup, unit, data):
    """Physical rotary positions follow the Fourier convention: shared token centres of a larger grid, a
    change of unit and per-sample spacing change nothing; so scores depend on offsets in mm only."""
    kwargs, grid, spacing = setup
    m = len(grid)
    positions = RotaryPositions(m, "physical", kwargs["patch_size"], kwargs["reference_extent"])
    margin = data.draw(per_axis(st.integers(0, 2), m), label="margin")
    larger = [n + 2 * j for n, j in zip(grid, margin)]
    small = positions(grid, torch.tensor(spacing))
    assert small.shape == (1, math.prod(grid), m) and torch.isfinite(small).all()
    big = positions(larger, torch.tensor(spacing))[0].reshape(*larger, m)
    torch.testing.assert_close(big[tuple(slice(j, j + n) for n, j in zip(grid, margin))], small[0].reshape(*grid, m))
    torch.testing.assert_close(small.reshape(*grid, m).flip(list(range(m))), -small.reshape(*grid, m))  # centred
    other_unit = RotaryPositions(m, "physical", kwargs["patch_size"], [unit * v for v in kwargs["reference_extent"]])
    torch.testing.assert_close(other_unit(grid, torch.tensor([unit * s for s in spacing])), small, atol=1e-5, rtol=1e-5)
    offsets = small[0, -1] - small[0, 0]  # last minus first token centre, in units of L
    expected = [
        (n - 1) * p * s / L for n, p, s, L in zip(grid, kwargs["patch_size"], spacing, kwargs["reference_extent"])
    ]
    np.testing.assert_allclose(offsets.numpy(), expected, rtol=1e-5, atol=1e-7)
