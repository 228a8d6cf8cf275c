"""Array transforms that read spacing from a MetaTensor and derive AFPE scales (arXiv 2509.02488).

Neither transform changes the image; both read its current geometry. They are not lazy transforms, so
``Compose(lazy=True)`` applies pending operations before calling them; outside ``Compose`` they read
the geometry the image will have once its pending operations are applied.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.data import MetaTensor
from monai.transforms import Transform
from monai.utils import TransformBackends

from monai_afpe.transforms.scales import ScalePolicy, check_patch_size
from monai_afpe.transforms.spacing import _filename, image_spacing, image_spatial_shape, spacing_units

__all__ = ["ExtractSpacing", "ComputeAFPEScales"]


class ExtractSpacing(Transform):
    """Physical spacing per spatial array axis of a channel-first MetaTensor, from its current affine.

    The result follows the array axes after any MONAI spatial transform (e.g. ``(3, 1, 2)`` after
    rotating a ``(1, 3, 2)`` mm volume by 90 degrees in axes ``(0, 1)``) and collates into ``(B, m)``.
    Units (mm, or what a reader stated in ``meta["spacing_units"]``) are given by
    :func:`~monai_afpe.transforms.spacing_units`.

    Args:
        dtype: dtype of the output.
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        self.dtype = dtype

    def __call__(self, img: MetaTensor) -> torch.Tensor:
        """
        Returns:
            tensor ``(m,)`` of spacing, ``m`` the number of spatial axes.

        Raises:
            ValueError: see :func:`~monai_afpe.transforms.image_spacing`.
        """
        return image_spacing(img).to(self.dtype)


class ComputeAFPEScales(Transform):
    """Per-axis AFPE scales of a channel-first MetaTensor from its current spacing and shape, by policy.

    See :func:`~monai_afpe.transforms.compute_afpe_scales` for the policies (``physical``,
    ``resolution``, ``fixed``) and the arguments; they form a :class:`~monai_afpe.transforms.ScalePolicy`
    (``self.scale_policy``), validated here, at construction. The
    image's units (``meta["spacing_units"]``, else mm) are checked against ``temporal_axes``.

    Args:
        patch_size: patch (tubelet) size of the network, one or ``m`` integers.
        policy: ``"physical"``, ``"resolution"`` or ``"fixed"``.
        base_scale: base scale of the spatial axes.
        temporal_base_scale: base scale of the temporal axes.
        temporal_axes: time axes among the spatial array axes, e.g. ``(0,)`` for ``(C, T, H, W)`` video.
        multipliers: per-axis factors applied after the policy.
        scales: per-axis scales for the ``fixed`` policy.
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        patch_size: Sequence[int] | int,
        policy: str = "physical",
        base_scale: float = 1.0,
        temporal_base_scale: float | None = None,
        temporal_axes: Sequence[int] | int = (),
        multipliers: Sequence[float] | float | None = None,
        scales: Sequence[float] | float | None = None,
    ) -> None:
        self.patch_size = check_patch_size(patch_size)
        self.scale_policy = ScalePolicy(policy, base_scale, temporal_base_scale, temporal_axes, multipliers, scales)

    def __call__(self, img: MetaTensor) -> torch.Tensor:
        """
        Returns:
            float32 tensor ``(m,)`` of scales.

        Raises:
            ValueError: see :func:`~monai_afpe.transforms.image_spacing` and
                :func:`~monai_afpe.transforms.compute_afpe_scales`; prefixed with the file name.
        """
        spacing, units = image_spacing(img), spacing_units(img)
        try:
            return self.scale_policy(spacing, self.patch_size, image_spatial_shape(img), units)
        except ValueError as e:
            raise ValueError(f"{_filename(img)}: {e}") from e
