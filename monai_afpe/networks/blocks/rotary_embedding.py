"""Rotary position embeddings (RoPE) for token grids, with positions in token units or in millimetres.

A rotary embedding rotates each pair of query and key channels by an angle ``ω · p`` proportional to the
token's position ``p``, so that the attention score of two tokens depends on their positions only
through the offset ``p_q - p_k`` (Su et al., RoFormer, 2021). Two frequency layouts:

- ``axial``: each channel pair follows one axis, with a geometric ladder of frequencies per axis
  (the 2D / 3D axial RoPE of Heo et al., ECCV 2024, and of Primus);
- ``mixed``: each channel pair has a learned frequency vector over all axes, per head and per block,
  initialised as an axial ladder in a randomly rotated frame per head (RoPE-Mixed, Heo et al., ECCV
  2024), so heads can attend along oblique directions.

Positions follow the physical-mode convention of the Fourier embeddings: ``grid`` mode uses token
offsets from the centre of the grid (token units); ``physical`` mode uses token centres in mm (or s)
from the centre of the field of view,
``(k + 0.5 - n_i / 2) * patch_i * spacing_i / L_i``, per sample. In physical mode the score of two
tokens is a function of their offset in millimetres, whatever the spacing of the image and whatever
its size, which is what no token-index encoding can give on mixed-spacing data.

Positions and angles are computed in float32 and rotated queries and keys returned in their own dtype,
so a network cast to float16 or bfloat16 runs; the position and frequency buffers stay float32 through
such casts (:class:`~monai_afpe.networks.blocks.positional_embedding.Float32Buffers`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from monai.utils import look_up_option

from monai_afpe.networks.blocks.position_features import physical_positions
from monai_afpe.networks.blocks.positional_embedding import (
    POSITION_MODES,
    Float32Buffers,
    resolve_spacing,
)
from monai_afpe.validation import check_per_axis

__all__ = [
    "ROTARY_KINDS",
    "ROTARY_DEFAULT_THETA",
    "axial_rotary_frequencies",
    "mixed_rotary_frequencies",
    "rotary_angles",
    "apply_rotary",
    "RotaryPositions",
    "RotaryEmbedding",
]

ROTARY_KINDS = ("axial", "mixed")
#: base of the frequency ladder per kind (the values of Heo et al., ECCV 2024, for ViTs)
ROTARY_DEFAULT_THETA = {"axial": 100.0, "mixed": 10.0}


def _check_head_dim(head_dim: int, num_axes: int) -> int:
    if head_dim % (2 * num_axes) != 0:
        raise ValueError(
            f"a rotary embedding over {num_axes} axes needs a head size divisible by 2 * {num_axes} = {2 * num_axes} "
            f"(one channel pair per frequency, the same number of pairs per axis), got head size {head_dim}; "
            "change hidden_size or num_heads."
        )
    return head_dim // (2 * num_axes)


def _ladder(pairs_per_axis: int, theta: float) -> torch.Tensor:
    """``theta^(-j / J)`` for ``j = 0 .. J-1``: from 1 down towards ``1 / theta`` radians per position unit."""
    return theta ** -(torch.arange(pairs_per_axis, dtype=torch.float64) / pairs_per_axis)


def axial_rotary_frequencies(head_dim: int, num_axes: int, theta: float = 100.0) -> torch.Tensor:
    """Axial RoPE frequencies: pair ``a * J + j`` turns with axis ``a`` at ``theta^(-j / J)`` rad per position unit.

    Args:
        head_dim: channels per head ``d``, divisible by ``2 m``.
        num_axes: axes ``m`` of the token grid.
        theta: base of the geometric frequency ladder.

    Returns:
        float32 matrix ``(d / 2, m)`` with one non-zero entry per row.
    """
    pairs = _check_head_dim(head_dim, num_axes)
    ladder = _ladder(pairs, theta)
    frequencies = torch.zeros(pairs * num_axes, num_axes, dtype=torch.float64)
    for axis in range(num_axes):
        frequencies[axis * pairs : (axis + 1) * pairs, axis] = ladder
    return frequencies.float()


def mixed_rotary_frequencies(
    num_heads: int, head_dim: int, num_axes: int, theta: float = 10.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Initial RoPE-Mixed frequencies: an axial ladder in a random orthonormal frame per head.

    In 2D this is the initialisation of Heo et al. (ECCV 2024): the two axes' ladders point along
    ``φ`` and ``φ + π/2`` for a random angle ``φ`` per head; in 3D and 4D the frame is a random rotation
    (QR of a Gaussian matrix).

    Returns:
        float32 tensor ``(num_heads, d / 2, m)``.
    """
    axial = axial_rotary_frequencies(head_dim, num_axes, theta).double()
    frames = []
    for _ in range(num_heads):
        q, r = torch.linalg.qr(torch.randn(num_axes, num_axes, dtype=torch.float64, generator=generator))
        frames.append(q * torch.sign(torch.diagonal(r))[None, :])
    return torch.stack([axial @ frame.T for frame in frames]).float()


def rotary_angles(positions: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """Rotation angles ``ω · p`` per head, token and channel pair, in float32.

    A sum of ``m <= 4`` products instead of a matmul, so that autocast never computes phases of many
    radians in bf16.

    Args:
        positions: ``(B, N, m)``.
        frequencies: ``(H, d / 2, m)`` (``H = 1`` when every head shares them).

    Returns:
        ``(B, H, N, d / 2)``.
    """
    return (positions.float()[:, None, :, None, :] * frequencies.float()[None, :, None, :, :]).sum(dim=-1)


def apply_rotary(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs ``(x_j, x_{j + d/2})`` of ``x`` ``(B, H, N, d)`` by ``angles`` ``(B | 1, H | 1, N, d / 2)``.

    Computed in float32 and returned in the dtype of ``x``.
    """
    half = x.shape[-1] // 2
    first, second = x.float()[..., :half], x.float()[..., half:]
    cos, sin = torch.cos(angles), torch.sin(angles)
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1).to(x.dtype)


class RotaryPositions(Float32Buffers):
    """Token positions for rotary embeddings: grid offsets in tokens, or physical offsets in mm / ``L``.

    Args:
        num_axes: axes ``m`` of the token grid.
        mode: ``"grid"``: ``k + 0.5 - n_i / 2`` (token units from the grid centre); ``"physical"``:
            ``(k + 0.5 - n_i / 2) * patch_i * spacing_i / L_i`` from each sample's spacing.
        patch_size: voxels per token along each axis (physical mode).
        reference_extent: ``L_i``, the length in the spacing's unit (mm, s) that counts as one position
            unit (physical mode); the token length of typical data (patch x spacing) gives physical
            positions the scale of grid positions, so the same ``theta`` suits both.
        spacing: spacing used when ``forward`` gets none (physical mode); ``None`` makes it required.

    Raises:
        ValueError: unknown ``mode``, physical mode without ``reference_extent``, or values that are not
            finite and positive.
    """

    float32_buffers = ("patch_size", "reference_extent", "default_spacing")

    def __init__(
        self,
        num_axes: int,
        mode: str = "grid",
        patch_size: Sequence[int] | int = 1,
        reference_extent: Sequence[float] | float | None = None,
        spacing: Sequence[float] | float | None = None,
    ) -> None:
        super().__init__()
        self.num_axes = int(num_axes)
        self.mode = look_up_option(mode, POSITION_MODES)
        if self.mode == "physical" and reference_extent is None:
            raise ValueError(
                "a physical-mode rotary embedding needs reference_extent: the length in mm (or s) that counts as one "
                "position unit, e.g. the token length patch_size x spacing of typical data."
            )

        def per_axis(value, name: str) -> torch.Tensor:
            return torch.tensor(check_per_axis(value, self.num_axes, name), dtype=torch.float32)

        self.register_buffer("patch_size", per_axis(patch_size, "patch_size"), persistent=False)
        extent = per_axis(1.0 if reference_extent is None else reference_extent, "reference_extent")
        self.register_buffer("reference_extent", extent, persistent=False)
        default = None if spacing is None else per_axis(spacing, "spacing")[None]
        self.register_buffer("default_spacing", default, persistent=False)

    def forward(self, grid_size: List[int], spacing: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Positions ``(1, N, m)`` in grid mode, ``(B, N, m)`` in physical mode, row-major over ``grid_size``."""
        if self.mode == "grid":
            ones = torch.ones(1, self.num_axes, device=self.patch_size.device)
            return physical_positions(
                grid_size, torch.ones_like(self.patch_size), ones, torch.ones_like(self.patch_size)
            )
        spacing = resolve_spacing(
            spacing, self.default_spacing, self.num_axes, "a physical-mode rotary embedding", self.patch_size.device
        )
        return physical_positions(grid_size, self.patch_size, spacing, self.reference_extent)


class RotaryEmbedding(Float32Buffers):
    """The rotary embedding of one attention block: rotates queries and keys by their token positions.

    Args:
        num_heads: attention heads.
        head_dim: channels per head, divisible by ``2 m``.
        num_axes: axes ``m`` of the token grid.
        kind: ``"axial"`` (fixed ladder per axis, shared by the heads) or ``"mixed"`` (learned frequency
            vectors per head, RoPE-Mixed).
        theta: base of the frequency ladder; default :data:`ROTARY_DEFAULT_THETA` of the kind.
        seed: seed of the random frames of ``"mixed"``.

    Raises:
        ValueError: unknown ``kind``, a head size not divisible by ``2 m``, or ``theta <= 1``.
    """

    float32_buffers = ("frequencies",)

    def __init__(
        self,
        num_heads: int,
        head_dim: int,
        num_axes: int,
        kind: str = "axial",
        theta: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.kind = look_up_option(kind, ROTARY_KINDS)
        theta = ROTARY_DEFAULT_THETA[self.kind] if theta is None else float(theta)
        if not (math.isfinite(theta) and theta > 1.0):
            raise ValueError(f"rotary theta must be finite and > 1, got {theta}.")
        self.theta = theta
        if self.kind == "axial":
            self.register_buffer(
                "frequencies", axial_rotary_frequencies(head_dim, num_axes, theta)[None], persistent=False
            )
        else:
            generator = torch.Generator().manual_seed(int(seed))
            self.frequencies = nn.Parameter(mixed_rotary_frequencies(num_heads, head_dim, num_axes, theta, generator))

    def forward(
        self, query: torch.Tensor, key: torch.Tensor, positions: torch.Tensor, num_prefix_tokens: int = 0
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Rotate ``query`` and ``key`` ``(B, H, N, d)``; the first ``num_prefix_tokens`` (class token) stay as they are.

        Args:
            query, key: per-head projections.
            positions: ``(B | 1, N - num_prefix_tokens, m)`` from :class:`RotaryPositions`.
            num_prefix_tokens: tokens before the patch tokens, which carry no position.
        """
        angles = rotary_angles(positions, self.frequencies)
        if num_prefix_tokens == 0:
            return apply_rotary(query, angles), apply_rotary(key, angles)
        rotated_query = apply_rotary(query[:, :, num_prefix_tokens:], angles)
        rotated_key = apply_rotary(key[:, :, num_prefix_tokens:], angles)
        return (
            torch.cat([query[:, :, :num_prefix_tokens], rotated_query], dim=2),
            torch.cat([key[:, :, :num_prefix_tokens], rotated_key], dim=2),
        )
