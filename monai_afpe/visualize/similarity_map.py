"""Similarity maps: how alike the positional embedding of every token is to that of one chosen token.

This is the figure of "Anisotropic Fourier Features for Positional Encoding in Medical Imaging"
(arXiv 2509.02488): with isotropic encodings the map of an anisotropic grid is stretched along the
coarse axis; AFPE's per-axis scales shape it to the correlation length wanted along each axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from monai_afpe.networks.blocks import PositionalEmbedding, build_positional_embedding

__all__ = ["token_similarity", "plane_of", "plot_similarity_maps", "similarity_map_figure"]

AXIS_NAMES = "xyzt"


def token_similarity(
    embedding: PositionalEmbedding, token: Sequence[int], spacing: torch.Tensor | None = None
) -> torch.Tensor:
    """Cosine similarity of every token's embedding to the embedding of ``token``.

    For Fourier features every embedding has norm ``sqrt(D / 2)``, so this is the normalised dot
    product ``<PE(p), PE(q)> / (D / 2)`` whose mean is the kernel ``exp(-2π² Σ s_i² Δ_i²)``.

    Args:
        embedding: any positional embedding of the family.
        token: index of the reference token along every axis of ``embedding.grid_size``.
        spacing: voxel spacing ``(m,)`` for physical-mode embeddings.

    Returns:
        tensor shaped like the token grid.

    Raises:
        ValueError: a token index outside the grid, or an embedding without positional information.
    """
    grid = embedding.grid_size
    if len(token) != len(grid) or any(not 0 <= int(k) < n for k, n in zip(token, grid)):
        raise ValueError(f"token must index the grid {grid} on each of its {len(grid)} axes, got {list(token)}.")
    with torch.no_grad():
        table = embedding(torch.zeros(1, int(torch.tensor(grid).prod()), embedding.hidden_size), spacing=spacing)[0]
    if not bool(table.abs().sum() > 0):
        raise ValueError(f"{type(embedding).__name__} adds no positional information; there is no similarity to show.")
    table = table.reshape(*grid, -1)
    reference = table[tuple(int(k) for k in token)]
    return F.cosine_similarity(table, reference.expand_as(table), dim=-1)


def plane_of(volume: torch.Tensor, axis: int | None, index: int | None) -> torch.Tensor:
    """The 2D plane of a map through ``index`` perpendicular to ``axis`` (a 2D map is returned as is)."""
    if volume.dim() == 2:
        return volume
    if axis is None or index is None:
        raise ValueError(
            f"a {volume.dim()}D map needs the plane: an axis and an index, got axis={axis}, index={index}."
        )
    if not 0 <= axis < volume.dim():
        raise ValueError(f"plane axis must be in 0..{volume.dim() - 1}, got {axis}.")
    if not 0 <= index < volume.shape[axis]:
        raise ValueError(f"plane index along axis {axis} must be in 0..{volume.shape[axis] - 1}, got {index}.")
    plane = volume.select(axis, index)
    if plane.dim() != 2:
        raise ValueError(f"only 2D planes of 3D maps can be drawn, got a {plane.dim()}D slice.")
    return plane


def plot_similarity_maps(
    maps: dict[str, torch.Tensor],
    token: Sequence[float],
    axis_labels: Sequence[str],
    extent_mm: Sequence[float] | None = None,
    title: str = "",
):
    """One panel per encoding, shared colour scale [-1, 1], the reference token marked.

    Args:
        maps: panel title -> 2D similarity map (rows = first plotted axis).
        token: the reference token's position in the plotted plane (row, column), in the units of
            ``extent_mm`` (token indices when it is ``None``).
        axis_labels: labels of the plotted (row, column) axes.
        extent_mm: physical length of the (row, column) axes, so that panels keep physical proportions.
        title: figure title.

    Returns:
        the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps) + 0.8, 3.6), squeeze=False, constrained_layout=True)
    image = None
    for ax, (name, values) in zip(axes[0], maps.items()):
        rows, columns = values.shape
        height, width = (rows, columns) if extent_mm is None else extent_mm
        image = ax.imshow(
            values.numpy(), cmap="RdBu_r", vmin=-1.0, vmax=1.0, origin="upper", extent=(0, width, height, 0)
        )
        ax.plot(token[1] + width / columns / 2, token[0] + height / rows / 2, marker="x", color="black", markersize=8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(axis_labels[1])
        ax.set_ylabel(axis_labels[0])
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.85, label="cosine similarity to the marked token")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def similarity_map_figure(
    grid: Sequence[int],
    spacing: Sequence[float],
    patch_size: Sequence[int],
    encodings: Sequence[str] = ("sincos", "ifpe", "afpe"),
    hidden_size: int = 384,
    token: Sequence[int] | None = None,
    plane_axis: int = 1,
    plane_index: int | None = None,
    base_scale: float = 1.0,
    afpe_scales: Sequence[float] | None = None,
    seed: int = 0,
):
    """The similarity maps of several encodings of one token grid, drawn in mm (the figure of arXiv 2509.02488).

    Isotropic kinds (``ifpe``, ``lfpe``) get ``base_scale`` on every axis; anisotropic ones (``afpe``,
    ``afpe_learnable_scales``) get ``afpe_scales``, by default the physical policy
    (``s_i = s0 * extent_i / max extent``, docs/design.md §2).

    Args:
        grid, spacing, patch_size: tokens, voxel spacing (mm) and voxels per token, per axis (2 or 3 axes).
        encodings: kinds of :func:`~monai_afpe.networks.blocks.build_positional_embedding`.
        hidden_size: embedding size ``D`` (larger: smoother maps, one draw's speckle shrinks as ``1/sqrt(D)``).
        token: the reference token per axis (default: the centre token).
        plane_axis, plane_index: for 3D grids, the plane drawn (default: through the reference token).
        base_scale: ``s0``.
        afpe_scales: explicit per-axis scales of the anisotropic kinds.
        seed: seed of the Fourier draw ``G``.

    Returns:
        ``(figure, afpe_scales, token)``.

    Raises:
        ValueError: per-axis lengths that differ or are not 2 or 3, or an encoding that cannot be built (named).
    """
    from monai_afpe.transforms import compute_afpe_scales

    grid, spacing, patch = [int(n) for n in grid], [float(v) for v in spacing], [int(v) for v in patch_size]
    m = len(grid)
    if m not in (2, 3) or not len(spacing) == len(patch) == m:
        raise ValueError(
            f"grid, spacing and patch_size need 2 or 3 values each (one per axis), got {grid}, {spacing}, {patch}."
        )
    token = [n // 2 for n in grid] if token is None else [int(k) for k in token]
    if afpe_scales is None:
        image_size = [n * p for n, p in zip(grid, patch)]
        afpe_scales = compute_afpe_scales(
            torch.tensor(spacing), patch, image_size, policy="physical", base_scale=base_scale
        ).tolist()
    afpe_scales = [float(v) for v in afpe_scales]
    maps = {}
    for kind in encodings:
        options: dict = {"seed": seed}
        label = kind
        if kind in ("ifpe", "lfpe"):
            options["scales"] = base_scale
            label = f"{kind} (s={base_scale:g})"
        elif kind in ("afpe", "afpe_learnable_scales"):
            options["scales"] = afpe_scales
            label = f"{kind} (s=" + ", ".join(f"{v:.2g}" for v in afpe_scales) + ")"
        try:
            similarity = token_similarity(build_positional_embedding(kind, grid, hidden_size, **options), token)
        except ValueError as error:
            raise ValueError(f"{kind}: {error}") from None
        if m == 3:
            similarity = plane_of(similarity, plane_axis, token[plane_axis] if plane_index is None else plane_index)
        maps[label] = similarity
    shown = [a for a in range(m) if m == 2 or a != plane_axis]
    figure = plot_similarity_maps(
        maps,
        token=[token[a] * patch[a] * spacing[a] for a in shown],
        axis_labels=[f"{AXIS_NAMES[a]} (mm, token = {patch[a] * spacing[a]:g} mm)" for a in shown],
        extent_mm=[grid[a] * patch[a] * spacing[a] for a in shown],
        title=f"grid {grid} tokens, spacing {spacing} mm, patch {patch}, D = {hidden_size}",
    )
    return figure, afpe_scales, token
