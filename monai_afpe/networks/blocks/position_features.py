"""Pure functions that turn a token grid into positions and positions into positional features.

The mathematics follows docs/design.md §1 and "Anisotropic Fourier Features for Positional Encoding in
Medical Imaging" (arXiv 2509.02488): ``PE(p) = [sin(2π B p), cos(2π B p)]`` with ``B = G diag(s)``.
The modules in :mod:`monai_afpe.networks.blocks.positional_embedding` cache or re-evaluate these.
"""

from __future__ import annotations

import math
from typing import List, Optional

import torch

__all__ = [
    "grid_positions",
    "physical_positions",
    "fourier_features",
    "sincos_features",
    "sincos_axis_order",
]


def grid_positions(grid_size: List[int], device: Optional[torch.device] = None) -> torch.Tensor:
    """Token positions on the unit cube, ``p_i = k / (n_i - 1)`` (``linspace(0, 1, n_i)``), row-major.

    This is the paper's and MONAI's convention (``build_fourier_position_embedding``); an axis with a
    single token sits at 0.

    Args:
        grid_size: tokens per axis ``(n_1, ..., n_m)``.
        device: device of the result.

    Returns:
        float32 tensor of shape ``(prod(n), m)``, the last axis varying fastest.
    """
    axes = [torch.linspace(0.0, 1.0, n, dtype=torch.float32, device=device) for n in grid_size]
    return torch.stack(torch.meshgrid(axes, indexing="ij"), dim=-1).reshape(-1, len(axes))


def physical_positions(
    grid_size: List[int], patch_size: torch.Tensor, spacing: torch.Tensor, reference_extent: torch.Tensor
) -> torch.Tensor:
    """Token centres in physical units, measured from the centre of the field of view.

    ``p_i = (k + 0.5 - n_i / 2) * patch_i * spacing_i / L_i`` (docs/design.md §1.3): the same anatomy keeps
    the same coordinate whatever the sample's spacing, which is what makes a spacing-conditioned
    encoding useful on mixed-spacing data.

    Args:
        grid_size: tokens per axis ``(n_1, ..., n_m)``.
        patch_size: voxels per token along each axis, shape ``(m,)``.
        spacing: voxel spacing (mm or s) per sample, shape ``(B, m)``.
        reference_extent: the extent ``L_i`` (same unit as the spacing) that maps to one unit of
            position, shape ``(m,)``.

    Returns:
        tensor of shape ``(B, prod(n), m)`` in the dtype and on the device of ``spacing``.
    """
    axes = [torch.arange(n, dtype=spacing.dtype, device=spacing.device) + 0.5 - n / 2 for n in grid_size]
    token_offsets = torch.stack(torch.meshgrid(axes, indexing="ij"), dim=-1).reshape(-1, len(axes))
    step = patch_size.to(spacing) * spacing / reference_extent.to(spacing)
    return token_offsets[None] * step[:, None, :]


def _autocast_enabled(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` (TorchScript programs run without autocast)."""
    if torch.jit.is_scripting():
        return False
    return torch.is_autocast_enabled(device_type)


def fourier_features(positions: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """``[sin(2π B p), cos(2π B p)]`` for every position ``p``: sine block first, then cosine block.

    Computed in the dtype of the inputs (float32) even under autocast.

    Args:
        positions: shape ``(..., m)``.
        frequencies: the matrix ``B = G diag(s)``, shape ``(D / 2, m)``.

    Returns:
        tensor of shape ``(..., D)``.
    """
    angular = (2.0 * math.pi) * positions
    if _autocast_enabled(positions.device.type):
        # autocast would run a matmul in bf16, where phases of several radians lose their fraction:
        # a sum of m <= 4 products stays in float32
        projection = (angular.unsqueeze(-2) * frequencies).sum(dim=-1)
    else:
        projection = angular @ frequencies.transpose(0, 1)
    return torch.cat([torch.sin(projection), torch.cos(projection)], dim=-1)


def sincos_axis_order(num_axes: int) -> List[int]:
    """Order of the per-axis blocks of the sin-cos table: the second axis first, then the first, then the rest.

    MONAI's table is laid out ``[w, h]`` in 2D and ``[w, h, d]`` in 3D; following it lets a network
    trained with MONAI's ``sincos`` embedding load unchanged.
    """
    return [0] if num_axes == 1 else [1, 0] + list(range(2, num_axes))


def sincos_features(
    grid_size: List[int], hidden_size: int, temperature: float = 10000.0, device: Optional[torch.device] = None
) -> torch.Tensor:
    """Per-axis sinusoidal features of integer token indices (Vaswani et al., one block per axis).

    Each axis gets ``hidden_size / m`` channels, ``[sin(k ω), cos(k ω)]`` with
    ``ω_j = temperature^(-j / (hidden_size / 2m))``; blocks follow :func:`sincos_axis_order`, which
    reproduces MONAI's ``build_sincos_position_embedding`` exactly for 2D and 3D.

    Args:
        grid_size: tokens per axis ``(n_1, ..., n_m)``.
        hidden_size: feature size ``D``; must be divisible by ``2 m`` (checked by the caller).
        temperature: the base of the frequency ladder.
        device: device of the result.

    Returns:
        float32 tensor of shape ``(prod(n), D)``.
    """
    m = len(grid_size)
    per_axis = hidden_size // (2 * m)
    omega = 1.0 / temperature ** (torch.arange(per_axis, dtype=torch.float32, device=device) / per_axis)
    axes = [torch.arange(n, dtype=torch.float32, device=device) for n in grid_size]
    indices = torch.stack(torch.meshgrid(axes, indexing="ij"), dim=-1).reshape(-1, m)
    blocks: List[torch.Tensor] = []
    for axis in sincos_axis_order(m):
        angle = indices[:, axis, None] * omega[None, :]
        blocks += [torch.sin(angle), torch.cos(angle)]
    return torch.cat(blocks, dim=-1)
