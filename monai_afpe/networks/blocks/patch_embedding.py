"""Non-overlapping patch (2D, 3D) and tubelet (video) projection of an image to a sequence of tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import List, Tuple

import torch
import torch.nn as nn
from monai.networks.layers import Conv
from monai.utils import ensure_tuple_rep

__all__ = ["PatchEmbedding", "check_patch_grid"]


def check_patch_grid(spatial_size: List[int], patch_size: List[int], name: str = "input") -> List[int]:
    """Tokens per axis of ``spatial_size`` cut into ``patch_size`` patches; every axis must divide exactly.

    Args:
        spatial_size: size of each spatial axis (channel-first layout without batch and channel).
        patch_size: patch size along each axis.
        name: what ``spatial_size`` is, for the error message (``"input"``, ``"img_size"``).

    Raises:
        ValueError: when the number of axes differs, or an axis is not a positive multiple of its patch
            size; the message names the axis and the nearest sizes that work.
    """
    if len(spatial_size) != len(patch_size):
        raise ValueError(
            f"{name} has {len(spatial_size)} spatial axes {spatial_size}, "
            f"but patch_size {patch_size} has {len(patch_size)}."
        )
    grid: List[int] = []
    for axis in range(len(patch_size)):
        size = spatial_size[axis]
        patch = patch_size[axis]
        if size < patch or size % patch != 0:
            lower = (size // patch) * patch
            works = f"{lower} or {lower + patch}" if lower > 0 else f"{patch}, {2 * patch}, ..."
            raise ValueError(
                f"{name} size {size} along spatial axis {axis} is not a multiple of patch_size {patch} "
                f"(full size {spatial_size}, patch_size {patch_size}); sizes that work along that axis: {works} "
                f"(crop or pad, e.g. monai.transforms.DivisiblePad(k={patch_size}))."
            )
        grid.append(size // patch)
    return grid


class PatchEmbedding(nn.Module):
    """Cut an image into non-overlapping patches and project each to a token: a strided convolution.

    Images ``(B, C, H, W)`` use ``spatial_dims=2``; volumes ``(B, C, X, Y, Z)`` and videos
    ``(B, C, T, H, W)`` use ``spatial_dims=3`` (a video patch ``(t, h, w)`` is a tubelet). The
    convolution is stored as ``patch_embeddings`` like MONAI's ``PatchEmbeddingBlock`` (``proj_type="conv"``),
    so its weights load unchanged. The positional embedding is a separate module
    (:mod:`monai_afpe.networks.blocks.positional_embedding`).

    Args:
        in_channels: input channels.
        patch_size: patch (tubelet) size, one value for all axes or one per axis.
        hidden_size: token feature size.
        spatial_dims: number of spatial axes, 1, 2 or 3.

    Raises:
        ValueError: ``spatial_dims`` outside 1-3, or a non-positive channel count, patch or hidden size.
    """

    def __init__(self, in_channels: int, patch_size: Sequence[int] | int, hidden_size: int, spatial_dims: int = 3):
        super().__init__()
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3 (a video (C, T, H, W) is 3), got {spatial_dims}.")
        patch = [int(p) for p in ensure_tuple_rep(patch_size, spatial_dims)]
        if any(p < 1 for p in patch):
            raise ValueError(f"patch_size must be positive on every axis, got {patch_size}.")
        if in_channels < 1 or hidden_size < 1:
            raise ValueError(f"in_channels and hidden_size must be positive, got {in_channels} and {hidden_size}.")
        self.in_channels = int(in_channels)
        self.spatial_dims = int(spatial_dims)
        self.patch_size: List[int] = patch
        self.patch_embeddings = Conv[Conv.CONV, spatial_dims](
            in_channels=in_channels, out_channels=hidden_size, kernel_size=patch, stride=patch
        )

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[int]]:
        """Tokens ``(B, N, hidden_size)``, row-major over the patch grid, and the grid ``(n_1, ..., n_m)``.

        Raises:
            ValueError: wrong number of axes or channels, or a spatial size that is not a multiple of the
                patch size (see :func:`check_patch_grid`).
        """
        if x.dim() != self.spatial_dims + 2:
            raise ValueError(
                f"input must have shape (B, C, *spatial) with {self.spatial_dims} spatial axes, got {list(x.shape)}."
            )
        if x.shape[1] != self.in_channels:
            raise ValueError(f"input has {x.shape[1]} channels (shape {list(x.shape)}), expected {self.in_channels}.")
        grid = check_patch_grid(list(x.shape[2:]), self.patch_size)
        tokens = self.patch_embeddings(x)
        return tokens.flatten(2).transpose(1, 2), grid
