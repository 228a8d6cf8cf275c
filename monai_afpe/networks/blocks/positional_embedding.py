"""Positional embeddings for token grids: none, learnable, sin-cos and Fourier features (IFPE / AFPE / LFPE).

Every module adds its embedding to patch tokens ``(B, N, D)`` through ``forward(tokens, spacing=None,
grid_size=None)`` and says how a class token is positioned through ``class_embedding``. Fourier kinds
follow "Anisotropic Fourier Features for Positional Encoding in Medical Imaging" (arXiv 2509.02488)
and docs/design.md §1: the Gaussian draw ``G`` comes from a seeded generator and is stored with the
per-axis scales, so a checkpoint restores the encoding and the table can be evaluated exactly on any
grid; in physical mode positions are token centres in mm (or s) and spacing may differ per sample.

Precision: positions and phases are always computed in float32 and the embedding is cast to the token
dtype, so a network cast with ``.half()`` or ``.to(torch.bfloat16)`` runs; the buffers that define the
encoding (``G``, scales, patch size, reference extent, default spacing) stay float32 through such casts
(:class:`Float32Buffers`), since a phase ``2π B p`` of tens of radians loses its fraction in 16 bits.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Callable, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.utils import ensure_tuple, look_up_option

from monai_afpe.networks.blocks.position_features import (
    fourier_features,
    grid_positions,
    physical_positions,
    sincos_features,
)
from monai_afpe.validation import check_per_axis

__all__ = [
    "CLASS_TOKEN_POSITIONS",
    "POSITION_MODES",
    "Float32Buffers",
    "PositionalEmbedding",
    "NoPositionalEmbedding",
    "LearnablePositionalEmbedding",
    "SinCosPositionalEmbedding",
    "FourierPositionalEmbedding",
    "check_spacing",
    "resolve_spacing",
]

CLASS_TOKEN_POSITIONS = ("none", "learned", "fourier")
POSITION_MODES = ("grid", "physical")


def _grid(grid_size, name: str = "grid_size") -> tuple[int, ...]:
    grid = tuple(int(n) for n in ensure_tuple(grid_size))
    if not 1 <= len(grid) <= 4:
        raise ValueError(f"{name} must have 1 to 4 axes (2D, 3D, 2D+t or 3D+t), got {len(grid)}: {grid_size}.")
    if any(n < 1 for n in grid):
        raise ValueError(f"{name} must be positive on every axis, got {grid_size}.")
    return grid


def check_spacing(spacing: torch.Tensor, num_axes: int) -> torch.Tensor:
    """Validate a spacing tensor of shape ``(m,)`` or ``(B, m)`` and return it as ``(B, m)``.

    Raises:
        ValueError: wrong shape, or entries that are not finite and positive.
    """
    if spacing.dim() == 1:
        spacing = spacing[None]
    if spacing.dim() != 2 or spacing.shape[1] != num_axes:
        raise ValueError(
            f"spacing must have shape (B, {num_axes}) or ({num_axes},) (one value per token-grid axis), "
            f"got {list(spacing.shape)}."
        )
    # a value check needs the data: skipped while torch.export (ONNX) or jit.trace records a graph
    if not torch.compiler.is_compiling() and not torch.jit.is_tracing():
        if not bool(torch.isfinite(spacing).all()) or bool((spacing <= 0).any()):
            raise ValueError(f"spacing must be finite and positive, got {spacing}.")
    return spacing


def resolve_spacing(
    spacing: Optional[torch.Tensor], default: Optional[torch.Tensor], num_axes: int, user: str, device: torch.device
) -> torch.Tensor:
    """The spacing a module uses: ``spacing`` if given, else its ``default``; validated, float32, ``(B, m)``.

    Args:
        spacing: the spacing passed to ``forward``, ``(B, m)`` or ``(m,)``, or ``None``.
        default: the module's default spacing, or ``None``.
        num_axes: axes ``m``.
        user: what needs it, for the error message (e.g. ``"mode='physical'"``).
        device: device of the result.

    Raises:
        ValueError: no spacing and no default, or a spacing of the wrong shape or not finite and positive.
    """
    if spacing is None:
        spacing = default
    if spacing is None:
        raise ValueError(
            f"{user} needs spacing: pass forward(..., spacing=<(B, m) tensor>) or a default spacing at construction."
        )
    return check_spacing(spacing.to(device, torch.float32), num_axes)


class Float32Buffers(nn.Module):
    """A module whose buffers named in ``float32_buffers`` keep float32 when the module changes dtype.

    ``.half()``, ``.bfloat16()`` and ``.to(dtype)`` convert every floating-point buffer; these buffers
    hold the geometry of an encoding (frequencies, patch size, reference extent, default spacing), which
    16-bit floats would round. They still follow device moves. Parameters follow the module's dtype.
    """

    float32_buffers: tuple = ()

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True):
        kept = {name: self._buffers[name] for name in self.float32_buffers if self._buffers.get(name) is not None}
        super()._apply(fn, recurse)
        for name, original in kept.items():
            converted = self._buffers[name]
            if converted is not None and converted.dtype != original.dtype:
                self._buffers[name] = original.to(device=converted.device)
        return self


class PositionalEmbedding(Float32Buffers):
    """Base of the family: adds a ``(1 | B, N, D)`` embedding to patch tokens ``(B, N, D)``.

    Args:
        grid_size: tokens per axis of the default grid, 1 to 4 axes.
        hidden_size: token feature size ``D``.
        cls_position: how a class token is positioned: ``"none"`` (no embedding, MONAI's ViT),
            ``"learned"`` (a learned vector, EchoNet style) or ``"fourier"`` (Fourier kinds only: the
            encoding of a coordinate outside the grid, the paper's choice).
        seed: seed of the generator for every random draw of this module.
    """

    encodes_coordinates = False

    def __init__(self, grid_size: Sequence[int] | int, hidden_size: int, cls_position: str = "none", seed: int = 0):
        super().__init__()
        self.grid_size: List[int] = list(_grid(grid_size))
        self.num_axes = len(self.grid_size)
        if int(hidden_size) < 1:
            raise ValueError(f"hidden_size must be positive, got {hidden_size}.")
        self.hidden_size = int(hidden_size)
        self.cls_position = look_up_option(cls_position, CLASS_TOKEN_POSITIONS)
        if self.cls_position == "fourier" and not self.encodes_coordinates:
            raise ValueError(
                f"cls_position='fourier' needs a Fourier encoding (ifpe, afpe, lfpe, afpe_learnable_scales); "
                f"{type(self).__name__} allows cls_position 'none' or 'learned'."
            )
        self.seed = int(seed)
        self.learned_cls_embedding: Optional[nn.Parameter] = None
        if self.cls_position == "learned":
            self.learned_cls_embedding = nn.Parameter(
                nn.init.trunc_normal_(torch.empty(1, 1, self.hidden_size), std=0.02, generator=self._generator(1))
            )

    def _generator(self, stream: int) -> torch.Generator:
        """A generator for one named draw of this module, so that adding a draw never shifts another."""
        return torch.Generator().manual_seed(self.seed * 1000 + stream)

    def _resolve_grid(self, grid_size: Optional[List[int]], num_tokens: int) -> List[int]:
        grid = self.grid_size if grid_size is None else grid_size
        if len(grid) != self.num_axes:
            raise ValueError(f"grid_size must have {self.num_axes} axes, got {grid}.")
        expected = 1
        for n in grid:
            expected *= n
        if expected != num_tokens:
            raise ValueError(f"tokens hold {num_tokens} patches but grid_size {grid} has {expected}.")
        return grid

    def embedding(self, grid_size: List[int], spacing: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """The embedding for ``grid_size``: ``(1, N, D)``, or ``(B, N, D)`` when it depends on spacing."""
        raise NotImplementedError

    def forward(
        self, tokens: torch.Tensor, spacing: Optional[torch.Tensor] = None, grid_size: Optional[List[int]] = None
    ) -> torch.Tensor:
        """Add the embedding to ``tokens`` of shape ``(B, N, D)`` laid out row-major over ``grid_size``.

        Args:
            tokens: patch tokens, without a class token.
            spacing: voxel spacing ``(B, m)`` or ``(m,)``; used in physical mode, ignored otherwise.
            grid_size: tokens per axis when it differs from the default grid (another input size).
        """
        grid = self._resolve_grid(grid_size, tokens.shape[1])
        table = self.embedding(grid, spacing)
        if table is None:
            return tokens
        return tokens + table.to(tokens.dtype)

    def class_embedding(self, batch_size: int, spacing: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        """The embedding added to a class token, ``(B, 1, D)``, or ``None`` for ``cls_position="none"``."""
        if self.learned_cls_embedding is not None:
            return self.learned_cls_embedding.expand(batch_size, -1, -1)
        return None


class NoPositionalEmbedding(PositionalEmbedding):
    """No positional information (the paper's ``none`` baseline): tokens pass unchanged."""

    def embedding(self, grid_size: List[int], spacing: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        return None


class LearnablePositionalEmbedding(PositionalEmbedding):
    """A learned table, initialised truncated-normal (std 0.02) as in MONAI's ViT.

    On a grid other than the default the table is resampled by multilinear interpolation of the
    token lattice (corners aligned, matching the ``linspace`` position convention) with a warning:
    a learned table has no values between its tokens.
    """

    def __init__(self, grid_size: Sequence[int] | int, hidden_size: int, cls_position: str = "none", seed: int = 0):
        super().__init__(grid_size, hidden_size, cls_position, seed)
        num_tokens = math.prod(self.grid_size)
        self.position_embeddings = nn.Parameter(
            nn.init.trunc_normal_(torch.empty(1, num_tokens, self.hidden_size), std=0.02, generator=self._generator(0))
        )

    def embedding(self, grid_size: List[int], spacing: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if grid_size == self.grid_size:
            return self.position_embeddings
        warnings.warn(
            f"learnable positional embedding trained on grid {self.grid_size} is interpolated to {grid_size}; "
            "continuous encodings (sincos, ifpe, afpe, lfpe) are exact on any grid.",
            stacklevel=2,
        )
        table = self.position_embeddings[0].transpose(0, 1).reshape([self.hidden_size] + self.grid_size)
        for axis in range(self.num_axes):
            moved = table.movedim(axis + 1, -1)
            shape = moved.shape
            resized = F.interpolate(
                moved.reshape(1, -1, shape[-1]), size=grid_size[axis], mode="linear", align_corners=True
            )
            table = resized.reshape(list(shape[:-1]) + [grid_size[axis]]).movedim(-1, axis + 1)
        return table.reshape(self.hidden_size, -1).transpose(0, 1)[None]


class SinCosPositionalEmbedding(PositionalEmbedding):
    """Fixed per-axis sinusoidal features of integer token indices, identical to MONAI's ``sincos``.

    Args:
        temperature: base of the frequency ladder (10000 as in MONAI and Vaswani et al.).
        other arguments: see :class:`PositionalEmbedding`.

    Raises:
        ValueError: when ``hidden_size`` is not divisible by ``2 m`` (one sine and one cosine block per axis).
    """

    def __init__(
        self,
        grid_size: Sequence[int] | int,
        hidden_size: int,
        cls_position: str = "none",
        seed: int = 0,
        temperature: float = 10000.0,
    ):
        super().__init__(grid_size, hidden_size, cls_position, seed)
        if self.hidden_size % (2 * self.num_axes) != 0:
            raise ValueError(
                f"hidden_size must be divisible by 2 * {self.num_axes} = {2 * self.num_axes} for the sincos layout "
                f"(a sine and a cosine block per axis), got {hidden_size}."
            )
        if not (math.isfinite(temperature) and temperature > 1):
            raise ValueError(f"temperature must be finite and > 1, got {temperature}.")
        self.temperature = float(temperature)
        self.register_buffer(
            "table", sincos_features(self.grid_size, self.hidden_size, self.temperature)[None], persistent=False
        )

    def embedding(self, grid_size: List[int], spacing: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if grid_size == self.grid_size:
            return self.table
        return sincos_features(grid_size, self.hidden_size, self.temperature, device=self.table.device)[None]


class FourierPositionalEmbedding(PositionalEmbedding):
    """Fourier features ``[sin 2πBp, cos 2πBp]``, ``B = G diag(s)`` (IFPE, AFPE, LFPE; arXiv 2509.02488).

    ``<PE(p), PE(q)> / (D/2)`` approaches ``exp(-2π² Σ_i s_i² (p_i - q_i)²)``: ``s_i`` is the inverse
    correlation length along axis ``i``. ``G ~ N(0, 1)`` of shape ``(D/2, m)`` is drawn from a
    generator seeded by ``seed`` and stored as a persistent buffer (a parameter when
    ``learnable_frequencies``), with the scales, so checkpoints restore the encoding exactly and the
    table can be evaluated on any grid without interpolation.

    Args:
        grid_size: tokens per axis of the default grid, 1 to 4 axes.
        hidden_size: token feature size ``D`` (even).
        scales: per-axis scales ``s`` (one value for all axes, or one per axis), finite and > 0.
        cls_position: see :class:`PositionalEmbedding`; ``"fourier"`` encodes ``cls_coordinate``.
        seed: seed of the draw of ``G`` (and of a learned class vector).
        mode: ``"grid"``: positions ``k / (n_i - 1)`` on the unit cube (the paper's and MONAI's
            convention; the table of the default grid is cached, see :meth:`refresh_table`); ``"physical"``: token centres from the
            centre of the field of view, ``(k + 0.5 - n_i / 2) * patch_i * spacing_i / L_i``, evaluated
            per sample from ``spacing``.
        patch_size: voxels per token along each axis (physical mode).
        reference_extent: ``L_i`` in the spacing's unit (mm, s) per axis (physical mode); give one
            value per unit group, e.g. ``(0.5, 100, 100)`` for a (t [s], y [mm], x [mm]) video.
        spacing: spacing used when ``forward`` gets none (physical mode); ``None`` makes it required.
        learnable_frequencies: learn ``G`` (LFPE, initialised from the seeded draw).
        learnable_scales: learn ``log s`` per axis (initialised from ``scales``); ``G`` stays fixed.
        cls_coordinate: the position of a ``"fourier"`` class token, per axis, in position units;
            the default -1 lies outside the grid in grid mode (``[0, 1]``) and in physical mode when the
            field of view along the axis is shorter than twice its reference extent.

    Raises:
        ValueError: odd ``hidden_size``, wrong number of scales, scales that are not finite and
            positive, unknown ``mode``, or physical mode without ``patch_size`` / ``reference_extent``.
    """

    encodes_coordinates = True
    __jit_unused_properties__ = ["scales", "frequencies"]
    float32_buffers = ("gaussian", "log_scales", "patch_size", "reference_extent", "default_spacing", "cls_coordinate")

    def __init__(
        self,
        grid_size: Sequence[int] | int,
        hidden_size: int,
        scales: Sequence[float] | float = 1.0,
        cls_position: str = "none",
        seed: int = 0,
        mode: str = "grid",
        patch_size: Sequence[int] | int | None = None,
        reference_extent: Sequence[float] | float | None = None,
        spacing: Sequence[float] | float | None = None,
        learnable_frequencies: bool = False,
        learnable_scales: bool = False,
        cls_coordinate: Sequence[float] | float = -1.0,
    ):
        super().__init__(grid_size, hidden_size, cls_position, seed)
        if self.hidden_size % 2 != 0:
            raise ValueError(
                f"hidden_size must be even for Fourier features (a sine and a cosine per frequency), got {hidden_size}."
            )
        m = self.num_axes
        self.mode = look_up_option(mode, POSITION_MODES)
        self.learnable_frequencies = bool(learnable_frequencies)
        self.learnable_scales = bool(learnable_scales)
        gaussian = torch.randn(self.hidden_size // 2, m, generator=self._generator(0))
        scale_values = torch.tensor(check_per_axis(scales, m, "scales"))
        if self.learnable_frequencies:
            self.gaussian = nn.Parameter(gaussian)
        else:
            self.register_buffer("gaussian", gaussian)
        if self.learnable_scales:
            self.log_scales = nn.Parameter(scale_values.log())
        else:
            self.register_buffer("log_scales", scale_values.log())

        if self.mode == "physical" and (patch_size is None or reference_extent is None):
            raise ValueError(
                "mode='physical' needs patch_size (voxels per token) and reference_extent (the extent in mm or s "
                f"that maps to one position unit), got patch_size={patch_size}, reference_extent={reference_extent}."
            )
        # configuration, rebuilt from the constructor arguments; unused in grid mode
        self.register_buffer(
            "patch_size",
            torch.tensor(check_per_axis(1 if patch_size is None else patch_size, m, "patch_size")),
            persistent=False,
        )
        self.register_buffer(
            "reference_extent",
            torch.tensor(check_per_axis(1.0 if reference_extent is None else reference_extent, m, "reference_extent")),
            persistent=False,
        )
        default_spacing = None if spacing is None else torch.tensor(check_per_axis(spacing, m, "spacing"))[None]
        self.register_buffer("default_spacing", default_spacing)

        coordinate = check_per_axis(cls_coordinate, m, "cls_coordinate", positive=False, finite=False)
        self.register_buffer("cls_coordinate", torch.tensor(coordinate)[None], persistent=False)
        with torch.no_grad():
            self.register_buffer("table", self._grid_table(self.grid_size), persistent=False)
        self.register_load_state_dict_post_hook(FourierPositionalEmbedding._refresh_table)

    @property
    def scales(self) -> torch.Tensor:
        """Per-axis scales ``s``, shape ``(m,)``."""
        return self.log_scales.exp()

    @property
    def frequencies(self) -> torch.Tensor:
        """The frequency matrix ``B = G diag(s)``, shape ``(D / 2, m)``."""
        return self.frequency_matrix()

    def frequency_matrix(self) -> torch.Tensor:
        """The frequency matrix ``B = G diag(s)``, shape ``(D / 2, m)``, in float32 whatever the module's dtype."""
        return self.gaussian.float() * self.log_scales.float().exp()[None, :]

    @torch.jit.unused
    def refresh_table(self) -> None:
        """Recompute the cached table of the default grid; needed only after editing ``G`` or the scales in place
        (``load_state_dict`` calls it)."""
        with torch.no_grad():
            self.table = self._grid_table(self.grid_size)

    @staticmethod
    def _refresh_table(module: "FourierPositionalEmbedding", incompatible_keys) -> None:
        module.refresh_table()

    def _grid_table(self, grid_size: List[int]) -> torch.Tensor:
        return fourier_features(grid_positions(grid_size, device=self.gaussian.device), self.frequency_matrix())[None]

    def embedding(self, grid_size: List[int], spacing: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if self.mode == "grid":
            frozen = not (self.learnable_frequencies or self.learnable_scales)
            if frozen and grid_size == self.grid_size:
                return self.table
            return self._grid_table(grid_size)
        spacing = resolve_spacing(spacing, self.default_spacing, self.num_axes, "mode='physical'", self.gaussian.device)
        positions = physical_positions(grid_size, self.patch_size, spacing, self.reference_extent)
        return fourier_features(positions, self.frequency_matrix())

    def class_embedding(self, batch_size: int, spacing: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        if self.cls_position == "fourier":
            return fourier_features(self.cls_coordinate, self.frequency_matrix())[None].expand(batch_size, -1, -1)
        if self.learned_cls_embedding is not None:  # not super(): TorchScript cannot compile super() calls
            return self.learned_cls_embedding.expand(batch_size, -1, -1)
        return None
