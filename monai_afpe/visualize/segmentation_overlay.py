"""A segmentation overlay: one slice of the image, the reference label on it, the prediction on it.

The figure is a :class:`matplotlib.figure.Figure` built without ``pyplot``, so making and saving it touches no
global state (no backend, no open figures): evaluation can write PNGs on a machine without a display, and a
notebook can show the figure by returning it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["as_class_map", "segmentation_overlay_figure", "select_slice", "save_segmentation_overlay"]

_AXIS_NAMES = "xyz"


def as_class_map(segmentation: Any) -> np.ndarray:
    """An integer class map ``(*spatial)`` from a class map ``(*spatial)`` / ``(1, *spatial)`` or one-hot ``(C, *spatial)``."""
    array = segmentation.detach().cpu().numpy() if isinstance(segmentation, torch.Tensor) else np.asarray(segmentation)
    if array.ndim == 4:
        array = array.argmax(0) if array.shape[0] > 1 else array[0]
    if array.ndim != 3:
        raise ValueError(
            f"expected a 3D class map, (1, H, W, D) or one-hot (C, H, W, D), got shape {tuple(array.shape)}."
        )
    return np.rint(array).astype(np.int64)


def select_slice(reference: np.ndarray, axis: int = 2) -> int:
    """The index along ``axis`` of the slice with the most foreground (class > 0) in ``reference``; the middle if none."""
    other = tuple(a for a in range(reference.ndim) if a != axis)
    counts = (reference > 0).sum(axis=other)
    return int(counts.argmax()) if counts.max() > 0 else reference.shape[axis] // 2


def segmentation_overlay_figure(
    image: Any,
    label: Any | None,
    pred: Any,
    class_names: Sequence[str] | None = None,
    axis: int = 2,
    index: int | None = None,
    title: str | None = None,
    alpha: float = 0.45,
):
    """Three panels of one slice: the image, the image with the reference label, the image with the prediction.

    Args:
        image: ``(H, W, D)`` or ``(1, H, W, D)`` intensities (a tensor or an array).
        label: the reference: a class map or one-hot ``(C, H, W, D)``; None leaves out its panel.
        pred: the prediction, as ``label``.
        class_names: one name per class, background first (for the legend); None: ``class 1``, ...
        axis: the spatial axis the slice is perpendicular to (2: an axial slice of an RAS volume).
        index: the slice index; None: the slice with the most foreground in the label (else the prediction).
        title: the figure title (e.g. the case name).
        alpha: opacity of the class colours.

    Returns:
        a ``matplotlib.figure.Figure`` (save it with ``fig.savefig(path)``).

    Raises:
        ValueError: arrays of other shapes, or an axis or index outside the volume.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    volume = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    volume = volume[0] if volume.ndim == 4 and volume.shape[0] == 1 else volume
    if volume.ndim != 3:
        raise ValueError(f"expected a 3D image, (H, W, D) or (1, H, W, D), got shape {tuple(volume.shape)}.")
    maps = {"prediction": as_class_map(pred)}
    if label is not None:
        maps = {"label": as_class_map(label), **maps}
    for name, values in maps.items():
        if values.shape != volume.shape:
            raise ValueError(f"the {name} has spatial shape {values.shape}, the image {volume.shape}.")
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis}.")
    if index is None:
        index = select_slice(next(iter(maps.values())), axis)  # the label when given, else the prediction
    if not 0 <= index < volume.shape[axis]:
        raise ValueError(f"index {index} is outside the {volume.shape[axis]} slices along axis {axis}.")

    num_classes = max(int(values.max()) for values in maps.values()) + 1
    if class_names is not None:
        num_classes = max(num_classes, len(class_names))
    names = list(class_names) if class_names is not None else ["background"]
    names += [f"class {c}" for c in range(len(names), num_classes)]
    palette = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#fabed4"]
    colours = ["#00000000"] + [palette[(c - 1) % len(palette)] for c in range(1, num_classes)]
    cmap = ListedColormap(colours)

    def plane(values: np.ndarray) -> np.ndarray:  # the first remaining array axis across, the second up
        return np.take(values, index, axis=axis).T

    backdrop = plane(volume)
    panels = [("image", None), *((name, plane(values)) for name, values in maps.items())]
    fig = Figure(figsize=(3.2 * len(panels), 3.6), constrained_layout=True)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    across, up = (_AXIS_NAMES[a] for a in range(3) if a != axis)
    for ax, (name, overlay) in zip(axes, panels):
        ax.imshow(backdrop, cmap="gray", origin="lower", interpolation="nearest")
        if overlay is not None:
            masked = np.ma.masked_where(overlay == 0, overlay)
            ax.imshow(
                masked, cmap=cmap, vmin=0, vmax=num_classes - 1, alpha=alpha, origin="lower", interpolation="nearest"
            )
        ax.set_title(name)
        ax.set_xlabel(f"array axis {across}")
        ax.set_ylabel(f"array axis {up}")
        ax.set_xticks([])
        ax.set_yticks([])
    present = sorted({int(c) for values in maps.values() for c in np.unique(plane(values)) if c > 0})
    if present:
        handles = [Patch(facecolor=colours[c], alpha=alpha, label=names[c]) for c in present]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    fig.suptitle(f"{title + ': ' if title else ''}slice {index} along array axis {_AXIS_NAMES[axis]}")
    return fig


def save_segmentation_overlay(path: str | os.PathLike, *args, dpi: int = 100, **kwargs) -> str:
    """:func:`segmentation_overlay_figure` written to ``path`` (PNG, or any format matplotlib infers from the name)."""
    fig = segmentation_overlay_figure(*args, **kwargs)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return str(path)
