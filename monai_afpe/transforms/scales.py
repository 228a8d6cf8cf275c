"""Per-axis AFPE scales from physical spacing, patch size and image size, by a named policy.

AFPE (arXiv 2509.02488) draws Fourier frequencies ``B = G diag(s)``; ``s_i`` is the inverse correlation
length of the positional encoding along axis ``i``. The policies below (docs/design.md §2) derive ``s`` from
the data's geometry instead of a hand-typed list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from monai.config import NdarrayOrTensor
from monai.utils import ensure_tuple, ensure_tuple_rep, look_up_option

from monai_afpe.validation import check_positive_values

__all__ = ["SCALE_POLICIES", "ScalePolicy", "check_patch_size", "compute_afpe_scales"]

SCALE_POLICIES = ("physical", "resolution", "fixed")


def _per_axis(name: str, value, m: int) -> tuple:
    try:
        return ensure_tuple_rep(value, m)
    except ValueError:
        raise ValueError(f"{name} must be one value or {m} values (one per spatial axis), got {value!r}.") from None


def _per_axis_sizes(name: str, value, m: int) -> tuple[int, ...]:
    sizes = _per_axis(name, value, m)
    if not all(int(v) == v and v >= 1 for v in sizes):
        raise ValueError(f"{name} must hold integers >= 1, got {value!r}.")
    return tuple(int(v) for v in sizes)


def check_patch_size(patch_size: Sequence[int] | int) -> Sequence[int] | int:
    """``patch_size`` as given, after checking it holds integers >= 1 (one, or one per axis).

    Raises:
        ValueError: naming the value.
    """
    _per_axis_sizes("patch_size", patch_size, len(ensure_tuple(patch_size)))
    return patch_size


@dataclass(frozen=True)
class ScalePolicy:
    """How per-axis AFPE scales are derived: the one owner of the scale options and their validation.

    The function :func:`compute_afpe_scales`, the transforms :class:`~monai_afpe.transforms.ComputeAFPEScales`
    and ``ComputeAFPEScalesd``, ``monai-afpe info`` and the experiment harness all build one; options are checked
    once, at construction (per-axis lengths need the number of axes and are checked when it is called).

    Args:
        policy: ``"physical"``, ``"resolution"`` or ``"fixed"`` (see :func:`compute_afpe_scales`).
        base_scale: ``s0`` of the spatial axes.
        temporal_base_scale: ``s0`` of the temporal axes; required when ``temporal_axes`` is not empty
            (except for ``"fixed"``).
        temporal_axes: indices of the time axes among the spatial array axes, e.g. ``(0,)`` for a
            ``(C, T, H, W)`` video; stored as a tuple.
        multipliers: one or ``m`` positive factors applied after the policy.
        scales: one or ``m`` positive scales, for (and only for) ``"fixed"``.

    Raises:
        ValueError: naming the argument, its value and what is allowed.
    """

    policy: str = "physical"
    base_scale: float = 1.0
    temporal_base_scale: float | None = None
    temporal_axes: Sequence[int] | int = ()
    multipliers: Sequence[float] | float | None = None
    scales: Sequence[float] | float | None = None

    def __post_init__(self) -> None:
        try:
            policy = look_up_option(self.policy, SCALE_POLICIES)
        except ValueError as e:
            raise ValueError(f"policy: {e}".strip()) from None
        check_positive_values(self.base_scale, "base_scale")
        temporal_axes = ensure_tuple(self.temporal_axes)
        if not all(isinstance(a, int) and a >= 0 for a in temporal_axes) or len(set(temporal_axes)) != len(
            temporal_axes
        ):
            raise ValueError(f"temporal_axes must be distinct spatial axis indices >= 0, got {temporal_axes!r}.")
        if self.temporal_base_scale is not None:
            check_positive_values(self.temporal_base_scale, "temporal_base_scale")
            if not temporal_axes:
                raise ValueError(
                    f"temporal_base_scale={self.temporal_base_scale!r} is given but temporal_axes is empty."
                )
        elif temporal_axes and policy != "fixed":
            raise ValueError(
                f"temporal_axes={temporal_axes!r} needs temporal_base_scale: space and time have different units "
                f"and the {policy!r} policy gives each its own base scale."
            )
        if (policy == "fixed") != (self.scales is not None):
            raise ValueError(
                f"scales must be given with policy 'fixed' and only then; got policy {policy!r}, "
                f"scales {self.scales!r}."
            )
        if self.scales is not None:
            check_positive_values(self.scales, "scales")
        if self.multipliers is not None:
            check_positive_values(self.multipliers, "multipliers")
        object.__setattr__(self, "policy", policy)
        object.__setattr__(self, "temporal_axes", temporal_axes)

    def __call__(
        self,
        spacing: NdarrayOrTensor | Sequence[float],
        patch_size: Sequence[int] | int,
        image_size: Sequence[int] | int,
        units: Sequence[str] | None = None,
    ) -> torch.Tensor:
        """The scales of a token grid (see :func:`compute_afpe_scales` for the formulas).

        Args:
            spacing: ``(m,)`` spacing per spatial array axis, or ``(B, m)`` per sample.
            patch_size: patch (tubelet) size, one or ``m`` integers.
            image_size: spatial shape of the image (channel excluded), one or ``m`` integers.
            units: optional unit per axis; axes normalised together must share one unit.

        Returns:
            float32 tensor with the shape of ``spacing``, on its device.
        """
        policy, temporal_axes = self.policy, self.temporal_axes
        base_scale, temporal_base_scale, multipliers, scales = (
            self.base_scale,
            self.temporal_base_scale,
            self.multipliers,
            self.scales,
        )
        spacing = torch.as_tensor(spacing, dtype=torch.float64)
        if spacing.ndim not in (1, 2) or spacing.shape[-1] == 0:
            raise ValueError(f"spacing must have shape (m,) or (B, m), got shape {tuple(spacing.shape)}.")
        check_positive_values(spacing.tolist(), "spacing")
        m = spacing.shape[-1]
        patch = _per_axis_sizes("patch_size", patch_size, m)
        size = _per_axis_sizes("image_size", image_size, m)
        for axis, (n, p) in enumerate(zip(size, patch)):
            if n < p:
                raise ValueError(
                    f"image_size {size} is smaller than patch_size {patch} along axis {axis} ({n} < {p}): "
                    "the axis holds no patch."
                )
        grid = [n // p for n, p in zip(size, patch)]
        if any(a >= m for a in temporal_axes):
            raise ValueError(f"temporal_axes {temporal_axes} must index the {m} spatial axes (0..{m - 1}).")
        groups = [
            ([a for a in range(m) if a not in temporal_axes], base_scale),
            (list(temporal_axes), temporal_base_scale),
        ]
        if units is not None and policy != "fixed":
            units = _per_axis("units", units, m)
            for axes, _ in groups:
                if len({units[a] for a in axes}) > 1:
                    raise ValueError(
                        f"axes {tuple(axes)} have units {tuple(units[a] for a in axes)} but are normalised together; "
                        "put the time axes in temporal_axes."
                    )

        def new(values) -> torch.Tensor:
            return torch.as_tensor(values, dtype=torch.float64, device=spacing.device)

        if policy == "fixed":
            result = new(_per_axis("scales", scales, m)).expand_as(spacing)
        else:
            if policy == "physical":
                for axis, n in enumerate(grid):
                    if n == 1:
                        raise ValueError(
                            f"axis {axis} holds a single token (image_size {size[axis]} // patch_size {patch[axis]} = 1); "
                            "the 'physical' policy needs at least 2 tokens per axis to measure an extent. "
                            "Use a smaller patch, or policy 'resolution' or 'fixed'."
                        )
                extent = (new(grid) - 1) * new(patch) * spacing
            result = torch.empty_like(spacing)
            for axes, s0 in groups:
                if not axes:
                    continue
                if policy == "physical":
                    group = extent[..., axes]
                    result[..., axes] = s0 * group / group.amax(dim=-1, keepdim=True)
                else:
                    group = spacing[..., axes]
                    result[..., axes] = s0 * group.amin(dim=-1, keepdim=True) / group
        if multipliers is not None:
            result = result * new(_per_axis("multipliers", multipliers, m))
        return result.to(torch.float32)


def compute_afpe_scales(
    spacing: NdarrayOrTensor | Sequence[float],
    patch_size: Sequence[int] | int,
    image_size: Sequence[int] | int,
    policy: str = "physical",
    base_scale: float = 1.0,
    temporal_base_scale: float | None = None,
    temporal_axes: Sequence[int] | int = (),
    multipliers: Sequence[float] | float | None = None,
    scales: Sequence[float] | float | None = None,
    units: Sequence[str] | None = None,
) -> torch.Tensor:
    """Per-axis AFPE scales (arXiv 2509.02488) for a token grid, by policy.

    Axes fall into two unit groups, normalised separately: space (millimetres; base scale
    ``base_scale``) and time (``temporal_axes``, seconds; base scale ``temporal_base_scale``). Within
    a group with base scale ``s0``:

    - ``"physical"``: an isotropic kernel in physical space,
      ``s_i = s0 * extent_i / max_j extent_j`` with ``extent_i = (n_i - 1) * patch_i * spacing_i``, the
      distance between the first and last token centres, ``n_i = image_size_i // patch_i``. Needs at
      least two tokens per axis (a single token has no extent).
    - ``"resolution"``: the paper's OrganMNIST3D heuristic, lower frequency along coarser axes,
      ``s_i = s0 * min_j spacing_j / spacing_i``.
    - ``"fixed"``: ``s_i = scales_i``; base scales are not used.

    ``multipliers`` (a per-axis shape prior) then multiply the result of any policy.

    Args:
        spacing: ``(m,)`` spacing per spatial array axis, or ``(B, m)`` per sample.
        patch_size: patch (tubelet) size, one or ``m`` integers.
        image_size: spatial shape of the image (channel excluded), one or ``m`` integers.
        policy: one of ``"physical"``, ``"resolution"``, ``"fixed"``.
        base_scale: ``s0`` of the spatial axes.
        temporal_base_scale: ``s0`` of the temporal axes; required when ``temporal_axes`` is not empty
            (except for ``"fixed"``).
        temporal_axes: indices of the time axes among the spatial array axes, e.g. ``(0,)`` for a
            ``(C, T, H, W)`` video.
        multipliers: one or ``m`` positive factors applied after the policy.
        scales: one or ``m`` positive scales, for (and only for) ``"fixed"``.
        units: optional unit per axis (see :func:`~monai_afpe.transforms.spacing_units`); when given,
            axes normalised together must share one unit, which catches a forgotten ``temporal_axes``.

    Returns:
        float32 tensor with the shape of ``spacing`` (``(m,)`` or ``(B, m)``), on its device.

    Raises:
        ValueError: unknown policy, wrong lengths, spacing that is not finite and > 0, an image smaller
            than one patch along an axis, a single token along an axis under ``"physical"``, or mixed
            units within a group.
    """
    return ScalePolicy(policy, base_scale, temporal_base_scale, temporal_axes, multipliers, scales)(
        spacing, patch_size, image_size, units
    )
