"""Properties of :func:`compute_afpe_scales` (DESIGN.md §2) on random spacings, patch sizes and image sizes.

Documented, per unit group (space; time in ``temporal_axes``) with base scale ``s0``:
``physical``: ``s_i = s0 * extent_i / max_j extent_j``, ``extent_i = (n_i - 1) * patch_i * spacing_i``,
``n_i = image_size_i // patch_i``; ``resolution``: ``s_i = s0 * min_j spacing_j / spacing_i``; ``fixed``:
the given scales; ``multipliers`` multiply any policy; a ``(B, m)`` spacing is normalised per sample.
From these follow the invariances tested here: a common factor of the spacing (a change of unit) changes
nothing, permuting the axes permutes the scales, and isotropic geometry gives equal scales.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from monai_afpe.transforms import compute_afpe_scales

PROPERTY = settings(max_examples=500, deadline=None, derandomize=True)  # the same examples on every run

spacing_values = st.floats(0.1, 10.0, allow_nan=False)
base_scales = st.floats(0.01, 100.0, allow_nan=False)
factors = st.floats(1e-3, 1e3, allow_nan=False)


@st.composite
def geometries(draw, min_axes=1, max_axes=4, min_tokens=2):
    """``(spacing, patch, image_size, tokens)`` of ``m`` axes; ``image_size // patch = tokens``."""
    m = draw(st.integers(min_axes, max_axes))
    spacing = draw(st.lists(spacing_values, min_size=m, max_size=m))
    patch = draw(st.lists(st.integers(1, 4), min_size=m, max_size=m))
    tokens = draw(st.lists(st.integers(min_tokens, 6), min_size=m, max_size=m))
    remainder = [draw(st.integers(0, p - 1)) for p in patch]
    size = [n * p + r for n, p, r in zip(tokens, patch, remainder)]
    return spacing, patch, size, tokens


def scales(spacing, patch, size, policy, **kwargs) -> np.ndarray:
    result = compute_afpe_scales(torch.tensor(spacing, dtype=torch.float64), patch, size, policy, **kwargs)
    assert result.dtype == torch.float32 and result.shape == (len(spacing),)
    values = result.numpy().astype(np.float64)
    assert np.all(np.isfinite(values)) and np.all(values > 0)
    return values


def assert_axes_permute_the_scales(s, spacing, patch, size, policy, s0, order) -> None:
    """The scales ``s`` of a geometry, permuted as its axes in a random order (drawn from ``order``), are the
    scales of the permuted geometry."""
    perm = list(range(len(spacing)))
    order.shuffle(perm)
    permuted = scales(
        [spacing[i] for i in perm], [patch[i] for i in perm], [size[i] for i in perm], policy, base_scale=s0
    )
    np.testing.assert_allclose(permuted, s[perm], rtol=1e-6)


@PROPERTY
@given(geometry=geometries(), s0=base_scales, factor=factors, order=st.randoms(use_true_random=False))
def test_physical_policy_follows_token_extents_and_is_unit_free(geometry, s0, factor, order):
    spacing, patch, size, tokens = geometry
    s = scales(spacing, patch, size, "physical", base_scale=s0)
    extent = (np.array(tokens) - 1.0) * np.array(patch) * np.array(spacing)
    np.testing.assert_allclose(s, s0 * extent / extent.max(), rtol=1e-6)
    assert np.isclose(s.max(), s0, rtol=1e-6)  # the longest axis gets the base scale
    # a common factor of the spacing (mm -> m, say) changes nothing
    rescaled = [factor * v for v in spacing]
    np.testing.assert_allclose(scales(rescaled, patch, size, "physical", base_scale=s0), s, rtol=1e-5)
    assert_axes_permute_the_scales(s, spacing, patch, size, "physical", s0, order)


@PROPERTY
@given(
    geometry=geometries(min_tokens=1),
    s0=base_scales,
    factor=factors,
    order=st.randoms(use_true_random=False),
    other_patch=st.integers(1, 4),
)
def test_resolution_policy_is_lower_along_coarser_axes_and_unit_free(geometry, s0, factor, order, other_patch):
    spacing, patch, size, _ = geometry
    s = scales(spacing, patch, size, "resolution", base_scale=s0)
    finest = int(np.argmin(spacing))
    assert np.isclose(s[finest], s0, rtol=1e-6) and np.all(s <= s0 * (1 + 1e-6))
    np.testing.assert_allclose(s * np.array(spacing), s0 * min(spacing), rtol=1e-6)  # s_i ∝ 1 / spacing_i
    np.testing.assert_allclose(
        scales([factor * v for v in spacing], patch, size, "resolution", base_scale=s0), s, rtol=1e-5
    )
    # the grid does not enter: another patch size (that still fits the image) gives the same scales
    np.testing.assert_allclose(
        scales(spacing, [min(other_patch, n) for n in size], size, "resolution", base_scale=s0), s, rtol=0
    )
    assert_axes_permute_the_scales(s, spacing, patch, size, "resolution", s0, order)


@PROPERTY
@given(
    m=st.integers(1, 4),
    token_length=st.floats(0.1, 40.0),
    tokens=st.integers(2, 6),
    s0=base_scales,
    patches=st.lists(st.integers(1, 4), min_size=4, max_size=4),
    multipliers=st.lists(st.floats(0.1, 10.0), min_size=4, max_size=4),
)
def test_isotropic_geometry_gives_equal_scales(m, token_length, tokens, s0, patches, multipliers):
    """Tokens of one physical length on every axis (anisotropic voxels, patch x spacing equal) -> all ``s0``;
    equal spacing -> all ``s0`` under ``resolution``; multipliers then shape the result axis by axis."""
    patch = patches[:m]
    spacing = [token_length / p for p in patch]  # physically isotropic tokens of anisotropic voxels
    size = [tokens * p for p in patch]
    np.testing.assert_allclose(scales(spacing, patch, size, "physical", base_scale=s0), [s0] * m, rtol=1e-5)
    iso = [token_length] * m
    np.testing.assert_allclose(scales(iso, patch, size, "resolution", base_scale=s0), [s0] * m, rtol=1e-6)
    shaped = scales(spacing, patch, size, "physical", base_scale=s0, multipliers=multipliers[:m])
    np.testing.assert_allclose(shaped, s0 * np.array(multipliers[:m]), rtol=1e-5)


@PROPERTY
@given(
    geometry=geometries(min_axes=2),
    data=st.data(),
    policy=st.sampled_from(["physical", "resolution"]),
    s0=base_scales,
    t0=base_scales,
    time_factor=factors,
)
def test_space_and_time_are_normalised_separately(geometry, data, policy, s0, t0, time_factor):
    """Each unit group is its own problem: the scales of the spatial axes are those of the spatial axes alone,
    and rescaling the time axes' spacing (s -> ms) moves nothing."""
    spacing, patch, size, _ = geometry
    m = len(spacing)
    temporal = sorted(data.draw(st.sets(st.integers(0, m - 1), min_size=1, max_size=m - 1), label="temporal_axes"))
    spatial = [a for a in range(m) if a not in temporal]
    s = scales(spacing, patch, size, policy, base_scale=s0, temporal_base_scale=t0, temporal_axes=tuple(temporal))
    for axes, base in ((spatial, s0), (temporal, t0)):
        alone = scales(
            [spacing[a] for a in axes], [patch[a] for a in axes], [size[a] for a in axes], policy, base_scale=base
        )
        np.testing.assert_allclose(s[axes], alone, rtol=1e-6)
    retimed = [v * time_factor if a in temporal else v for a, v in enumerate(spacing)]
    np.testing.assert_allclose(
        scales(retimed, patch, size, policy, base_scale=s0, temporal_base_scale=t0, temporal_axes=tuple(temporal)),
        s,
        rtol=1e-5,
    )


@PROPERTY
@given(
    m=st.integers(1, 4),
    data=st.data(),
    batch=st.integers(1, 3),
    policy=st.sampled_from(["physical", "resolution"]),
    s0=base_scales,
)
def test_batched_spacing_is_normalised_per_sample(m, data, batch, policy, s0):
    patch = data.draw(st.lists(st.integers(1, 3), min_size=m, max_size=m), label="patch")
    size = [p * data.draw(st.integers(2, 5), label="tokens") for p in patch]
    rows = data.draw(
        st.lists(st.lists(spacing_values, min_size=m, max_size=m), min_size=batch, max_size=batch), label="spacing"
    )
    together = compute_afpe_scales(torch.tensor(rows), patch, size, policy, base_scale=s0)
    assert together.shape == (batch, m) and together.dtype == torch.float32
    for row, result in zip(rows, together):
        np.testing.assert_allclose(result.numpy(), scales(row, patch, size, policy, base_scale=s0), rtol=1e-6)


@PROPERTY
@given(
    geometry=geometries(),
    fixed=st.lists(st.floats(0.01, 100.0), min_size=4, max_size=4),
    multipliers=st.lists(st.floats(0.1, 10.0), min_size=4, max_size=4),
    factor=factors,
)
def test_fixed_policy_ignores_the_geometry(geometry, fixed, multipliers, factor):
    spacing, patch, size, _ = geometry
    m = len(spacing)
    s = scales(spacing, patch, size, "fixed", scales=fixed[:m], multipliers=multipliers[:m])
    np.testing.assert_allclose(s, np.array(fixed[:m]) * np.array(multipliers[:m]), rtol=1e-6)
    other = scales(
        [factor * v for v in reversed(spacing)], patch, size, "fixed", scales=fixed[:m], multipliers=multipliers[:m]
    )
    np.testing.assert_array_equal(other, s)
