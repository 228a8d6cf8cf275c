"""Dictionary wrappers of :mod:`monai_afpe.transforms.array`: spacing and AFPE scales under ``<key>_<postfix>``."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from monai_afpe.transforms.array import ComputeAFPEScales, ExtractSpacing
from monai_afpe.transforms.spacing import DEFAULT_SPACING_UNIT, spacing_units

__all__ = [
    "ExtractSpacingd",
    "ExtractSpacingD",
    "ExtractSpacingDict",
    "ComputeAFPEScalesd",
    "ComputeAFPEScalesD",
    "ComputeAFPEScalesDict",
]


def _check_postfix(name: str, value: str | None, optional: bool = False) -> None:
    if not (isinstance(value, str) and value) and not (optional and value is None):
        allowed = "a non-empty string or None" if optional else "a non-empty string"
        raise ValueError(f"{name} must be {allowed}, got {value!r}.")


class ExtractSpacingd(MapTransform):
    """Dictionary-based :class:`~monai_afpe.transforms.ExtractSpacing`.

    For each key, writes ``<key>_<spacing_key_postfix>`` (float tensor ``(m,)``, collates to ``(B, m)``)
    and, unless ``units_key_postfix`` is None, ``<key>_<units_key_postfix>`` (tuple of unit strings, e.g.
    ``("mm", "mm", "mm")``, or ``("s", "mm", "mm")`` for a video whose reader set
    ``meta["spacing_units"]``). Place it after the spatial transforms: spacing is read from the
    image's current affine. (MONAI 1.6's ``Spacingd`` also treats every ``<key>_*`` entry of a NIfTI
    image as a metadata dictionary and fails on these outputs if it runs after this transform.)

    Args:
        keys: keys of the MetaTensors to read.
        spacing_key_postfix: postfix of the spacing key.
        units_key_postfix: postfix of the units key; None to skip units.
        units: unit, or one per axis, for images whose metadata states none (default millimetres).
        dtype: dtype of the spacing tensor.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = ExtractSpacing.backend

    def __init__(
        self,
        keys: KeysCollection,
        spacing_key_postfix: str = "spacing",
        units_key_postfix: str | None = "units",
        units: Sequence[str] | str = DEFAULT_SPACING_UNIT,
        dtype: torch.dtype = torch.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        _check_postfix("spacing_key_postfix", spacing_key_postfix)
        _check_postfix("units_key_postfix", units_key_postfix, optional=True)
        self.spacing_key_postfix = spacing_key_postfix
        self.units_key_postfix = units_key_postfix
        self.units = units
        self.extractor = ExtractSpacing(dtype=dtype)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[f"{key}_{self.spacing_key_postfix}"] = self.extractor(d[key])
            if self.units_key_postfix is not None:
                d[f"{key}_{self.units_key_postfix}"] = spacing_units(d[key], self.units)
        return d


class ComputeAFPEScalesd(MapTransform):
    """Dictionary-based :class:`~monai_afpe.transforms.ComputeAFPEScales`.

    For each key, writes ``<key>_<scales_key_postfix>`` (float32 tensor ``(m,)``, collates to
    ``(B, m)``), computed from the image's current spacing and shape. Place it after the spatial
    transforms, as :class:`ExtractSpacingd`.

    Args:
        keys: keys of the MetaTensors to read.
        patch_size, policy, base_scale, temporal_base_scale, temporal_axes, multipliers, scales: see
            :func:`~monai_afpe.transforms.compute_afpe_scales`.
        scales_key_postfix: postfix of the scales key.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = ComputeAFPEScales.backend

    def __init__(
        self,
        keys: KeysCollection,
        patch_size: Sequence[int] | int,
        policy: str = "physical",
        base_scale: float = 1.0,
        temporal_base_scale: float | None = None,
        temporal_axes: Sequence[int] | int = (),
        multipliers: Sequence[float] | float | None = None,
        scales: Sequence[float] | float | None = None,
        scales_key_postfix: str = "scales",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        _check_postfix("scales_key_postfix", scales_key_postfix)
        self.scales_key_postfix = scales_key_postfix
        self.computer = ComputeAFPEScales(
            patch_size, policy, base_scale, temporal_base_scale, temporal_axes, multipliers, scales
        )

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[f"{key}_{self.scales_key_postfix}"] = self.computer(d[key])
        return d


ExtractSpacingD = ExtractSpacingDict = ExtractSpacingd
ComputeAFPEScalesD = ComputeAFPEScalesDict = ComputeAFPEScalesd
