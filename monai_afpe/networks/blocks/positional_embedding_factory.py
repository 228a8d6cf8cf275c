"""Build any positional embedding of the paper's comparison by name (arXiv 2509.02488, Table 1-3)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from monai.utils import ensure_tuple, look_up_option

from monai_afpe.networks.blocks.positional_embedding import (
    FourierPositionalEmbedding,
    LearnablePositionalEmbedding,
    NoPositionalEmbedding,
    PositionalEmbedding,
    SinCosPositionalEmbedding,
)

__all__ = [
    "POSITIONAL_EMBEDDING_KINDS",
    "build_positional_embedding",
    "default_afpe_scales",
    "positional_embedding_options",
]

POSITIONAL_EMBEDDING_KINDS = ("none", "learnable", "sincos", "ifpe", "afpe", "lfpe", "afpe_learnable_scales")
#: the class of each kind that is not a Fourier kind (those are FourierPositionalEmbedding, set up by the kind)
_PLAIN_CLASSES = {
    "none": NoPositionalEmbedding,
    "learnable": LearnablePositionalEmbedding,
    "sincos": SinCosPositionalEmbedding,
}
#: FourierPositionalEmbedding arguments that the kind sets
_FOURIER_KIND_ARGUMENTS = ("learnable_frequencies", "learnable_scales")


def default_afpe_scales(grid_size: Sequence[int] | int, base_scale: float = 1.0) -> tuple[float, ...]:
    """The paper's default anisotropic scales for physically isotropic tokens: ``s0 * n_i / max_j n_j``."""
    grid = ensure_tuple(grid_size)
    return tuple(base_scale * n / max(grid) for n in grid)


def build_positional_embedding(
    kind: str, grid_size: Sequence[int] | int, hidden_size: int, **kwargs
) -> PositionalEmbedding:
    """Create the positional embedding named ``kind`` for a token grid.

    Kinds:
        - ``none``: no positional information.
        - ``learnable``: a learned table (interpolated, with a warning, on another grid).
        - ``sincos``: fixed per-axis sinusoids of token indices, identical to MONAI's ``sincos``.
        - ``ifpe``: isotropic Fourier features, one scale for every axis (default 1.0).
        - ``afpe``: anisotropic Fourier features, one scale per axis (default ``n_i / max n``).
        - ``lfpe``: Fourier features whose frequency matrix is learned (initialised as ``ifpe``/``afpe``).
        - ``afpe_learnable_scales``: AFPE whose per-axis scales are learned in log space, ``G`` fixed.

    Args:
        kind: one of :data:`POSITIONAL_EMBEDDING_KINDS`.
        grid_size: tokens per axis of the default grid.
        hidden_size: token feature size.
        kwargs: options of the chosen class (``cls_position``, ``seed``; ``temperature`` for sincos;
            ``scales``, ``mode``, ``patch_size``, ``reference_extent``, ``spacing``, ``cls_coordinate``
            for the Fourier kinds). An option the kind does not take raises ``TypeError``.

    Raises:
        ValueError: unknown ``kind``, or several different scales for ``ifpe``.
    """
    kind = look_up_option(kind, POSITIONAL_EMBEDDING_KINDS)
    if kind in _PLAIN_CLASSES:
        return _PLAIN_CLASSES[kind](grid_size, hidden_size, **kwargs)
    scales = kwargs.pop("scales", None)
    if kind == "ifpe" and scales is not None and len(set(float(s) for s in ensure_tuple(scales))) > 1:
        raise ValueError(
            f"ifpe is isotropic and takes one scale, got scales={scales}; use kind='afpe' for per-axis scales."
        )
    if scales is None:
        scales = 1.0 if kind in ("ifpe", "lfpe") else default_afpe_scales(grid_size)
    return FourierPositionalEmbedding(
        grid_size,
        hidden_size,
        scales=scales,
        learnable_frequencies=kind == "lfpe",
        learnable_scales=kind == "afpe_learnable_scales",
        **kwargs,
    )


def positional_embedding_options(kind: str) -> tuple[str, ...]:
    """The options (``kwargs``) that :func:`build_positional_embedding` takes for ``kind``, in signature order.

    Raises:
        ValueError: unknown ``kind``.
    """
    kind = look_up_option(kind, POSITIONAL_EMBEDDING_KINDS)
    parameters = inspect.signature(_PLAIN_CLASSES.get(kind, FourierPositionalEmbedding)).parameters
    return tuple(name for name in parameters if name not in ("grid_size", "hidden_size", *_FOURIER_KIND_ARGUMENTS))
