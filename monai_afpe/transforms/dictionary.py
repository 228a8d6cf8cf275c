"""Dictionary wrappers of :mod:`monai_afpe.transforms.array`: spacing and AFPE scales under ``<key>_<postfix>``."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from monai_afpe.transforms.array import ComputeAFPEScales, ExtractSpacing
from monai_afpe.transforms.spacing import DEFAULT_SPACING_UNIT, spacing_units
from monai_afpe.validation import check_nonempty_string

__all__ = [
    "ExtractSpacingd",
    "ExtractSpacingD",
    "ExtractSpacingDict",
    "ComputeAFPEScalesd",
    "ComputeAFPEScalesD",
    "ComputeAFPEScalesDict",
]


class _AffineDerivedTensor(torch.Tensor):
    """The tensor that :class:`ExtractSpacingd` and :class:`ComputeAFPEScalesd` write: a plain tensor with one error.

    torch functions on it return plain tensors (``__torch_function__`` is disabled), so a batch of them collates
    into a ``torch.Tensor`` and the network never sees this class. It exists for the error message: MONAI's
    ``Spacingd``, run after these transforms on a NIfTI image, treats every ``<key>_*`` entry of the dictionary
    as a metadata dictionary and calls ``.update(meta)`` on it, which on a plain tensor fails with the opaque
    ``AttributeError: 'Tensor' object has no attribute 'update'``. Here ``update`` says what is wrong instead.
    """

    __torch_function__ = torch._C._disabled_torch_function_impl

    @classmethod
    def of(cls, values: torch.Tensor, key: str, transform: str) -> _AffineDerivedTensor:
        """``values`` as this class, remembering the dictionary key and the transform that wrote it."""
        derived = values.as_subclass(cls)
        derived.written_as = (key, transform)
        return derived

    def update(self, *args, **kwargs):
        key, transform = getattr(self, "written_as", ("<key>_spacing", "ExtractSpacingd"))
        raise ValueError(
            f"{key!r} was written by monai_afpe's {transform} before a spatial transform that rewrites every "
            "'<key>_*' entry as metadata (MONAI's Spacingd, on a NIfTI image). Place ExtractSpacingd / "
            "ComputeAFPEScalesd after every spatial transform (Spacingd, Orientationd, resizing, cropping): the "
            "spacing must be read from the image as the network gets it; read before resampling it is the "
            "spacing of the original file."
        )

    def __deepcopy__(self, memo):  # torch's default needs new_empty() to return this class
        copied = self.detach().clone().as_subclass(type(self))
        copied.__dict__.update(self.__dict__)
        memo[id(self)] = copied
        return copied

    def __repr__(self, **kwargs) -> str:
        return repr(self.as_subclass(torch.Tensor))


class ExtractSpacingd(MapTransform):
    """Dictionary-based :class:`~monai_afpe.transforms.ExtractSpacing`.

    For each key, writes ``<key>_<spacing_key_postfix>`` (float tensor ``(m,)``, collates to ``(B, m)``)
    and, unless ``units_key_postfix`` is None, ``<key>_<units_key_postfix>`` (tuple of unit strings, e.g.
    ``("mm", "mm", "mm")``, or ``("s", "mm", "mm")`` for a video whose reader set
    ``meta["spacing_units"]``). Place it after the spatial transforms: spacing is read from the
    image's current affine. (Placed before MONAI's ``Spacingd`` it would give the spacing of the file, not
    of the resampled image; on a NIfTI image ``Spacingd`` then stops with a ``ValueError`` saying so, as it
    rewrites every ``<key>_*`` entry as metadata. On other formats nothing stops it: mind the order.)

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
        self.spacing_key_postfix = check_nonempty_string(spacing_key_postfix, "spacing_key_postfix")
        self.units_key_postfix = check_nonempty_string(units_key_postfix, "units_key_postfix", allow_none=True)
        self.units = units
        self.extractor = ExtractSpacing(dtype=dtype)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            name = f"{key}_{self.spacing_key_postfix}"
            d[name] = _AffineDerivedTensor.of(self.extractor(d[key]), name, "ExtractSpacingd")
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
        self.scales_key_postfix = check_nonempty_string(scales_key_postfix, "scales_key_postfix")
        self.computer = ComputeAFPEScales(
            patch_size, policy, base_scale, temporal_base_scale, temporal_axes, multipliers, scales
        )

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            name = f"{key}_{self.scales_key_postfix}"
            d[name] = _AffineDerivedTensor.of(self.computer(d[key]), name, "ComputeAFPEScalesd")
        return d


ExtractSpacingD = ExtractSpacingDict = ExtractSpacingd
ComputeAFPEScalesD = ComputeAFPEScalesDict = ComputeAFPEScalesd
