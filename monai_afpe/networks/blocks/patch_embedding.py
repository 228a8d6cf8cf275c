"""Patch (2D, 3D) and tubelet (video) projection of an image to a sequence of tokens: a strided
convolution, or a convolutional stem with the same token grid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import List, Tuple

import torch
import torch.nn as nn
from monai.networks.blocks import Convolution
from monai.networks.layers import Conv
from monai.utils import ensure_tuple, ensure_tuple_rep

__all__ = ["PatchEmbedding", "check_patch_grid", "stem_strides"]


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


def stem_strides(patch_size: Sequence[int], num_layers: int) -> List[List[int]]:
    """Per-layer strides of a convolutional stem that downsamples by ``patch_size`` in ``num_layers`` layers.

    Each axis is halved (stride 2) by the first ``log2(patch)`` layers and kept (stride 1) by the rest,
    so the stem's output grid equals the patch grid.

    Raises:
        ValueError: a patch size that is not a power of two, or more halvings than ``num_layers``.
    """
    halvings = []
    for axis, patch in enumerate(patch_size):
        if patch < 1 or patch & (patch - 1):
            raise ValueError(
                f"a convolutional stem halves each axis per layer, so patch_size must be a power of two on every "
                f"axis; got {list(patch_size)} (axis {axis}: {patch})."
            )
        halvings.append(patch.bit_length() - 1)
    if max(halvings) > num_layers:
        raise ValueError(
            f"patch_size {list(patch_size)} needs {max(halvings)} stride-2 stem layers, but stem_channels has "
            f"{num_layers} entries; give at least {max(halvings)} channel counts."
        )
    return [[2 if layer < h else 1 for h in halvings] for layer in range(num_layers)]


class PatchEmbedding(nn.Module):
    """Turn an image into one token per patch: a strided convolution or a convolutional stem.

    Images ``(B, C, H, W)`` use ``spatial_dims=2``; volumes ``(B, C, X, Y, Z)`` and videos
    ``(B, C, T, H, W)`` use ``spatial_dims=3`` (a video patch ``(t, h, w)`` is a tubelet). By default
    each non-overlapping patch is projected by one convolution with kernel and stride ``patch_size``,
    stored as ``patch_embeddings`` like MONAI's ``PatchEmbeddingBlock`` (``proj_type="conv"``), so its
    weights load unchanged.

    With ``stem_channels`` the projection is a convolutional stem ("Early Convolutions Help
    Transformers See Better", Xiao et al., NeurIPS 2021): convolution - norm - activation layers with
    ``stem_channels[k]`` outputs, each halving the axes whose patch size is not yet reached (kernel 4,
    stride 2, padding 1: the receptive field of every output is centred on its 2-voxel patch; axes
    already at their patch size get kernel 3, stride 1), then a 1 x 1 convolution to ``hidden_size``
    (``patch_embeddings``). The token grid and the token centres are those of the patch projection,
    so positional embeddings in physical mode place the tokens where they are, and the stem sees
    across patch borders (``bundles/afpe_ct_classification/docs/README.md`` measures what that gains
    over a linear patch projection). A 3D stem keeps its weights and activations channels-last
    (``torch.channels_last_3d``): oneDNN's backward pass of its stride-2 convolutions is slow in the default
    layout (the CT bundle's float32 train step on 2 AVX2 cores, ``benchmarks/bench_stem_layout.py``, two runs:
    1.09-1.24x faster channels-last on the best step, 1.13-1.14x on the median; an earlier trial in bfloat16 on
    AVX512-BF16 cores found no gain within noise). The values are those of the default layout, and weights load from either layout.
    The positional embedding is a separate module
    (:mod:`monai_afpe.networks.blocks.positional_embedding`).

    Args:
        in_channels: input channels.
        patch_size: patch (tubelet) size, one value for all axes or one per axis; with a stem a power
            of two on every axis.
        hidden_size: token feature size.
        spatial_dims: number of spatial axes, 1, 2 or 3.
        stem_channels: output channels of the stem layers, at least ``log2(max(patch_size))`` of them;
            None (default) for the single patch convolution.
        stem_norm: normalisation of the stem layers, a MONAI norm name or ``(name, kwargs)``.
        stem_act: activation of the stem layers, a MONAI activation name or ``(name, kwargs)``.

    Raises:
        ValueError: ``spatial_dims`` outside 1-3, a non-positive channel count, patch or hidden size, or
            stem channels that cannot reach ``patch_size`` (see :func:`stem_strides`).
    """

    def __init__(
        self,
        in_channels: int,
        patch_size: Sequence[int] | int,
        hidden_size: int,
        spatial_dims: int = 3,
        stem_channels: Sequence[int] | int | None = None,
        stem_norm: tuple | str = "batch",
        stem_act: tuple | str = "gelu",
    ):
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
        self.stem = nn.Sequential()
        self.channels_last = stem_channels is not None and self.spatial_dims == 3
        if stem_channels is None:
            self.patch_embeddings = Conv[Conv.CONV, spatial_dims](
                in_channels=in_channels, out_channels=hidden_size, kernel_size=patch, stride=patch
            )
            return
        channels = [int(c) for c in ensure_tuple(stem_channels)]
        if not channels or any(c < 1 for c in channels):
            raise ValueError(f"stem_channels must be positive channel counts, got {stem_channels}.")
        previous = self.in_channels
        for strides, out_channels in zip(stem_strides(patch, len(channels)), channels):
            self.stem.append(
                Convolution(
                    spatial_dims,
                    previous,
                    out_channels,
                    strides=strides,
                    kernel_size=[4 if s == 2 else 3 for s in strides],
                    padding=1,
                    act=stem_act,
                    norm=stem_norm,
                )
            )
            previous = out_channels
        self.patch_embeddings = Conv[Conv.CONV, spatial_dims](
            in_channels=previous, out_channels=hidden_size, kernel_size=1
        )
        if self.channels_last:
            self.to(memory_format=torch.channels_last_3d)

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
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        tokens = self.patch_embeddings(self.stem(x))
        return tokens.flatten(2).transpose(1, 2), grid
