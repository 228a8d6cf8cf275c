"""Transforms of a whole collated batch: random flips, quarter turns and translations, and intensity
normalisation, with each sample's spacing kept right.

MONAI's :class:`~monai.transforms.RandFlipd`, :class:`~monai.transforms.RandRotate90d` and
:class:`~monai.transforms.RandAffined` work on one :class:`~monai.data.MetaTensor` at a time: each call copies
the cached item, updates its affine, records the operation for inversion and (for an affine) builds a
sampling grid. For small volumes and clips that bookkeeping costs as much as the network's step (in the CT
bundle the per-volume flips, turns and cache copies; in the echo bundle the per-clip translation). These
transforms draw the same random operations per sample, with the same distributions, and apply them to the
collated batch of plain tensors (``(B, C, *spatial)``) after collation, for example through
:class:`~monai_afpe.data.BatchTransformCollate`. A rotation by an odd multiple of 90 degrees exchanges two
axes, so :class:`BatchRandRotate90d` exchanges the same two entries of each rotated sample's spacing
(``(B, spatial_dims)``), which MONAI does through the affine.

Random draws come from ``torch``'s default generator (seeded by :func:`monai.utils.set_determinism`, saved
and restored by :class:`~monai_afpe.handlers.ResumableCheckpoint`) unless :meth:`set_random_state` gives
the transform a generator of its own. A data loader's worker processes have their own torch seeds.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import MapTransform, NormalizeIntensity, RandomizableTrait, Transform
from monai.utils import ensure_tuple, ensure_tuple_rep

from monai_afpe.validation import check_positive_int, check_probability

__all__ = [
    "BatchNormalizeIntensity",
    "BatchNormalizeIntensityD",
    "BatchNormalizeIntensityDict",
    "BatchNormalizeIntensityd",
    "BatchRandFlip",
    "BatchRandFlipD",
    "BatchRandFlipDict",
    "BatchRandFlipd",
    "BatchRandRotate90",
    "BatchRandRotate90D",
    "BatchRandRotate90Dict",
    "BatchRandRotate90d",
    "BatchRandTranslate",
    "BatchRandTranslateD",
    "BatchRandTranslateDict",
    "BatchRandTranslated",
]


class _BatchRandom(RandomizableTrait):
    """Per-sample random draws from torch's default generator or from one set by :meth:`set_random_state`."""

    generator: torch.Generator | None = None

    def set_random_state(self, seed: int | None = None) -> _BatchRandom:
        """Draw from a generator seeded with ``seed`` (None: back to torch's default generator)."""
        self.generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        return self

    def _uniform(self, size: int) -> torch.Tensor:
        return torch.rand(size, generator=self.generator)

    def _integers(self, low: int, high: int, size: int) -> torch.Tensor:
        return torch.randint(low, high, (size,), generator=self.generator)


def _check_batch(img: torch.Tensor, spatial_axes: Sequence[int], name: str) -> None:
    if img.ndim < 3:
        raise ValueError(f"{name} expects a batch (B, C, *spatial), got shape {tuple(img.shape)}.")
    if max(spatial_axes) >= img.ndim - 2:
        raise ValueError(
            f"{name}: spatial axes {tuple(spatial_axes)} do not exist in a batch of shape {tuple(img.shape)} "
            f"({img.ndim - 2} spatial dimensions)."
        )


def _check_axes(spatial_axis: Sequence[int] | int, name: str, count: int | None = None) -> tuple[int, ...]:
    axes = tuple(int(a) for a in ensure_tuple(spatial_axis))
    if not axes or any(a < 0 for a in axes) or len(set(axes)) != len(axes) or (count and len(axes) != count):
        need = f"{count} distinct" if count else "distinct"
        raise ValueError(f"{name} must be {need} non-negative spatial axes, got {spatial_axis}.")
    return axes


class BatchRandFlip(_BatchRandom, Transform):
    """Flip each sample of a batch ``(B, C, *spatial)`` along ``spatial_axis`` with probability ``prob``.

    The batch counterpart of MONAI's :class:`~monai.transforms.RandFlip`: one draw per sample, and a flipped
    sample equals ``monai.transforms.Flip(spatial_axis)`` of it. Spacing is unchanged by a flip.

    Args:
        prob: probability of flipping each sample.
        spatial_axis: spatial axis or axes to flip (0 is the first axis after the channel).
    """

    def __init__(self, prob: float = 0.1, spatial_axis: Sequence[int] | int = 0) -> None:
        self.prob = check_probability(prob, "prob")
        self.spatial_axis = _check_axes(spatial_axis, "spatial_axis")
        self.flipped = torch.zeros(0, dtype=torch.bool)

    def randomize(self, img: torch.Tensor) -> None:
        """Draw which samples of the batch ``img`` are flipped."""
        self.flipped = self._uniform(img.shape[0]) < self.prob

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        _check_batch(img, self.spatial_axis, type(self).__name__)
        if randomize:
            self.randomize(img)
        if len(self.flipped) != img.shape[0]:
            raise ValueError(f"{type(self).__name__}: drawn for {len(self.flipped)} samples, got {img.shape[0]}.")
        dims = [axis + 2 for axis in self.spatial_axis]
        out = img.clone()
        out[self.flipped] = torch.flip(img[self.flipped], dims)
        return out


class BatchRandRotate90(_BatchRandom, Transform):
    """Rotate each sample of a batch ``(B, C, *spatial)`` by ``k`` x 90 degrees in ``spatial_axes`` with
    probability ``prob``, ``k`` drawn uniformly from 1 to ``max_k``.

    The batch counterpart of MONAI's :class:`~monai.transforms.RandRotate90` (the same draws per sample; a
    rotated sample equals ``monai.transforms.Rotate90(k, spatial_axes)`` of it). A batch keeps one shape, so
    the two axes must have the same size when a rotation by an odd ``k`` can occur.

    Args:
        prob: probability of rotating each sample.
        max_k: largest number of quarter turns.
        spatial_axes: the two spatial axes of the plane of rotation.
    """

    def __init__(self, prob: float = 0.1, max_k: int = 3, spatial_axes: Sequence[int] = (0, 1)) -> None:
        self.prob = check_probability(prob, "prob")
        self.max_k = check_positive_int(max_k, "max_k")
        self.spatial_axes = _check_axes(spatial_axes, "spatial_axes", count=2)
        self.turns = torch.zeros(0, dtype=torch.long)

    def randomize(self, img: torch.Tensor) -> None:
        """Draw the quarter turns of each sample of the batch ``img`` (0 for a sample left as it is)."""
        rotate = self._uniform(img.shape[0]) < self.prob
        self.turns = torch.where(rotate, self._integers(1, self.max_k + 1, img.shape[0]), 0)

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        name = type(self).__name__
        _check_batch(img, self.spatial_axes, name)
        if randomize:
            self.randomize(img)
        if len(self.turns) != img.shape[0]:
            raise ValueError(f"{name}: drawn for {len(self.turns)} samples, got {img.shape[0]}.")
        dims = [axis + 2 for axis in self.spatial_axes]
        if img.shape[dims[0]] != img.shape[dims[1]] and bool((self.turns % 2).any()):
            raise ValueError(
                f"{name}: a quarter turn in spatial axes {self.spatial_axes} of a batch of shape "
                f"{tuple(img.shape)} would change the sample's shape; the two axes need the same size."
            )
        out = img.clone()
        for k in range(1, self.max_k + 1):
            chosen = self.turns == k
            if chosen.any():
                out[chosen] = torch.rot90(img[chosen], k, dims)
        return out

    def swap_spacing(self, spacing: torch.Tensor) -> torch.Tensor:
        """``spacing`` ``(B, spatial_dims)`` with the two rotated axes exchanged for the samples turned by odd ``k``."""
        spacing = torch.as_tensor(spacing)
        if spacing.ndim != 2 or spacing.shape[0] != len(self.turns) or max(self.spatial_axes) >= spacing.shape[1]:
            raise ValueError(
                f"{type(self).__name__}: spacing must be (batch {len(self.turns)}, spatial dims > "
                f"{max(self.spatial_axes)}), got shape {tuple(spacing.shape)}."
            )
        odd = (self.turns % 2).bool()
        out = spacing.clone()
        first, second = self.spatial_axes
        out[odd, first], out[odd, second] = spacing[odd, second], spacing[odd, first]
        return out


class BatchRandTranslate(_BatchRandom, Transform):
    """Translate each sample of a batch ``(B, C, *spatial)`` by a random shift, drawn uniformly from
    ``[-r, r]`` voxels per spatial axis, with (bi/tri)linear interpolation and zeros outside.

    The batch counterpart of MONAI's :class:`~monai.transforms.RandAffine` with ``prob=1.0`` and only
    ``translate_range`` (the same draw per sample; a shifted sample equals
    ``monai.transforms.Affine(translate_params=shift, mode="bilinear", padding_mode="zeros")`` of it: output
    voxel ``i`` reads input position ``i + shift``). Spacing is unchanged by a translation.

    Args:
        translate_range: largest shift in voxels per spatial axis (one number for every axis); 0 keeps an axis.
    """

    def __init__(self, translate_range: Sequence[float] | float = 0.0) -> None:
        self.translate_range = tuple(float(r) for r in ensure_tuple(translate_range))
        if any(not r >= 0 for r in self.translate_range):
            raise ValueError(f"translate_range must be non-negative voxel shifts, got {translate_range}.")
        self.shifts = torch.zeros(0, len(self.translate_range))

    def randomize(self, img: torch.Tensor) -> None:
        """Draw the shifts ``(B, spatial_dims)`` in voxels of the samples of the batch ``img``."""
        batch_size, spatial_dims = img.shape[0], img.ndim - 2
        ranges = self.translate_range * spatial_dims if len(self.translate_range) == 1 else self.translate_range
        ranges = torch.tensor(ensure_tuple_rep(ranges, spatial_dims), dtype=torch.float32)
        self.shifts = (2 * self._uniform(batch_size * spatial_dims).reshape(batch_size, spatial_dims) - 1) * ranges

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        name = type(self).__name__
        spatial_dims = img.ndim - 2
        if spatial_dims not in (2, 3):
            raise ValueError(
                f"{name} expects a batch (B, C, *spatial) with 2 or 3 spatial dims, got {tuple(img.shape)}."
            )
        if len(self.translate_range) not in (1, spatial_dims):
            raise ValueError(
                f"{name}: translate_range {self.translate_range} has {len(self.translate_range)} entries for "
                f"{spatial_dims} spatial dims."
            )
        if randomize:
            self.randomize(img)
        if tuple(self.shifts.shape) != (img.shape[0], spatial_dims):
            raise ValueError(f"{name}: drawn shifts {tuple(self.shifts.shape)} do not fit a batch {tuple(img.shape)}.")
        # leading axes without shifts (a video's time axis) go into the channels: a cheaper 2D resampling
        still = 1 if spatial_dims == 3 and not bool(self.shifts[:, 0].any()) else 0
        moving = img.reshape(img.shape[0], -1, *img.shape[2 + still :]) if still else img
        shifts, dims = self.shifts[:, still:], spatial_dims - still
        theta = torch.zeros(img.shape[0], dims, dims + 1)
        theta[:, :, :dims] = torch.eye(dims)
        # affine_grid orders coordinates (x, y, z) = last spatial axis first; normalised units are 2 / size
        theta[:, :, -1] = (2 * shifts / torch.tensor(moving.shape[2:], dtype=torch.float32)).flip(-1)
        grid = F.affine_grid(theta.to(img.device, torch.float32), list(moving.shape), align_corners=False)
        out = F.grid_sample(moving.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return out.reshape(img.shape).to(img.dtype)


class BatchNormalizeIntensity(Transform):
    """MONAI's :class:`~monai.transforms.NormalizeIntensity` applied to each sample of a batch ``(B, C, *spatial)``.

    Each sample (with ``channel_wise``: each sample's channel) is normalised on its own, as the per-item
    transform does, so a batch transform that must run before the normalisation (a translation that pads
    with zeros) can stay batched. Arguments are those of ``NormalizeIntensity``.
    """

    def __init__(self, nonzero: bool = False, channel_wise: bool = False, dtype: torch.dtype = torch.float32) -> None:
        self.channel_wise = bool(channel_wise)
        self.normalizer = NormalizeIntensity(nonzero=nonzero, channel_wise=True, dtype=dtype)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        if img.ndim < 3:
            raise ValueError(f"{type(self).__name__} expects a batch (B, C, *spatial), got shape {tuple(img.shape)}.")
        # NormalizeIntensity(channel_wise=True) normalises each entry of the first axis on its own
        groups = img.reshape(img.shape[0] * img.shape[1], *img.shape[2:]) if self.channel_wise else img
        return torch.as_tensor(self.normalizer(groups)).reshape(img.shape)


class _BatchRandomd(RandomizableTrait, MapTransform):
    """Dictionary wrapper of a batch random transform: one draw per batch, applied to every key."""

    batch_transform: BatchRandFlip | BatchRandRotate90 | BatchRandTranslate

    def set_random_state(self, seed: int | None = None) -> _BatchRandomd:
        self.batch_transform.set_random_state(seed)
        return self

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        keys = list(self.key_iterator(d))
        if keys:
            self.batch_transform.randomize(d[keys[0]])
        for key in keys:
            d[key] = self.batch_transform(d[key], randomize=False)
        return d


class BatchRandFlipd(_BatchRandomd):
    """Dictionary wrapper of :class:`BatchRandFlip`: the same samples flipped in every key.

    Args:
        keys: batch keys to flip (images and label maps of the same samples).
        prob, spatial_axis: see :class:`BatchRandFlip`.
        allow_missing_keys: don't raise for a missing key.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.1,
        spatial_axis: Sequence[int] | int = 0,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.batch_transform = BatchRandFlip(prob, spatial_axis)


class BatchRandRotate90d(_BatchRandomd):
    """Dictionary wrapper of :class:`BatchRandRotate90`: the same quarter turns in every key, and the two
    rotated entries of each turned sample's spacing exchanged in ``spacing_keys``.

    Args:
        keys: batch keys to rotate (images and label maps of the same samples).
        prob, max_k, spatial_axes: see :class:`BatchRandRotate90`.
        spacing_keys: batch keys of per-sample spacings ``(B, spatial_dims)`` (e.g. the ``image_spacing`` of
            :class:`~monai_afpe.transforms.ExtractSpacingd`).
        allow_missing_keys: don't raise for a missing key.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.1,
        max_k: int = 3,
        spatial_axes: Sequence[int] = (0, 1),
        spacing_keys: KeysCollection = (),
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.batch_transform = BatchRandRotate90(prob, max_k, spatial_axes)
        self.spacing_keys = ensure_tuple(spacing_keys)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = super().__call__(data)
        if not any(key in d for key in self.keys):
            return d  # nothing turned (allow_missing_keys): the spacings stay
        for key in self.spacing_keys:
            if key not in d:
                if self.allow_missing_keys:
                    continue
                raise KeyError(
                    f"{type(self).__name__}: no spacing key '{key}' in the batch (keys: {sorted(map(str, d))})."
                )
            d[key] = self.batch_transform.swap_spacing(d[key])
        return d


class BatchRandTranslated(_BatchRandomd):
    """Dictionary wrapper of :class:`BatchRandTranslate`: the same shifts in every key.

    Args:
        keys: batch keys to translate.
        translate_range: see :class:`BatchRandTranslate`.
        allow_missing_keys: don't raise for a missing key.
    """

    def __init__(
        self, keys: KeysCollection, translate_range: Sequence[float] | float = 0.0, allow_missing_keys: bool = False
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.batch_transform = BatchRandTranslate(translate_range)


class BatchNormalizeIntensityd(MapTransform):
    """Dictionary wrapper of :class:`BatchNormalizeIntensity`.

    Args:
        keys: batch keys to normalise.
        nonzero, channel_wise, dtype: see MONAI's :class:`~monai.transforms.NormalizeIntensity`.
        allow_missing_keys: don't raise for a missing key.
    """

    def __init__(
        self,
        keys: KeysCollection,
        nonzero: bool = False,
        channel_wise: bool = False,
        dtype: torch.dtype = torch.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.normalizer = BatchNormalizeIntensity(nonzero, channel_wise, dtype)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.normalizer(d[key])
        return d


BatchNormalizeIntensityD = BatchNormalizeIntensityDict = BatchNormalizeIntensityd
BatchRandFlipD = BatchRandFlipDict = BatchRandFlipd
BatchRandRotate90D = BatchRandRotate90Dict = BatchRandRotate90d
BatchRandTranslateD = BatchRandTranslateDict = BatchRandTranslated
