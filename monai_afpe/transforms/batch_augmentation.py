"""Random flips and 90-degree rotations of a whole collated batch, with each sample's spacing kept right.

MONAI's :class:`~monai.transforms.RandFlipd` and :class:`~monai.transforms.RandRotate90d` work on one
:class:`~monai.data.MetaTensor` at a time: each call copies the cached item, updates its affine and records
the operation for inversion. For a small volume that bookkeeping costs more than the network's step on it
(in the CT bundle the per-volume augmentation and cache copies took about as long as the training step).
These transforms draw the same random operations per sample, with the same probabilities, and apply them to
the collated batch of plain tensors (``(B, C, *spatial)``) after collation, for example through
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
from monai.config import KeysCollection
from monai.transforms import MapTransform, RandomizableTrait, Transform
from monai.utils import ensure_tuple

from monai_afpe.validation import check_positive_int, check_probability

__all__ = [
    "BatchRandFlip",
    "BatchRandFlipD",
    "BatchRandFlipDict",
    "BatchRandFlipd",
    "BatchRandRotate90",
    "BatchRandRotate90D",
    "BatchRandRotate90Dict",
    "BatchRandRotate90d",
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

    def randomize(self, batch_size: int) -> None:
        """Draw which of ``batch_size`` samples are flipped."""
        self.flipped = self._uniform(batch_size) < self.prob

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        _check_batch(img, self.spatial_axis, type(self).__name__)
        if randomize:
            self.randomize(img.shape[0])
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

    def randomize(self, batch_size: int) -> None:
        """Draw the quarter turns of ``batch_size`` samples (0 for a sample left as it is)."""
        rotate = self._uniform(batch_size) < self.prob
        self.turns = torch.where(rotate, self._integers(1, self.max_k + 1, batch_size), 0)

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        name = type(self).__name__
        _check_batch(img, self.spatial_axes, name)
        if randomize:
            self.randomize(img.shape[0])
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


class BatchRandFlipd(_BatchRandom, MapTransform):
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
        self.flipper = BatchRandFlip(prob, spatial_axis)

    def set_random_state(self, seed: int | None = None) -> BatchRandFlipd:
        self.flipper.set_random_state(seed)
        return self

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        keys = list(self.key_iterator(d))
        if keys:
            self.flipper.randomize(d[keys[0]].shape[0])
        for key in keys:
            d[key] = self.flipper(d[key], randomize=False)
        return d


class BatchRandRotate90d(_BatchRandom, MapTransform):
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
        self.rotator = BatchRandRotate90(prob, max_k, spatial_axes)
        self.spacing_keys = ensure_tuple(spacing_keys)

    def set_random_state(self, seed: int | None = None) -> BatchRandRotate90d:
        self.rotator.set_random_state(seed)
        return self

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        keys = list(self.key_iterator(d))
        if not keys:
            return d
        self.rotator.randomize(d[keys[0]].shape[0])
        for key in keys:
            d[key] = self.rotator(d[key], randomize=False)
        for key in self.spacing_keys:
            if key not in d:
                if self.allow_missing_keys:
                    continue
                raise KeyError(
                    f"{type(self).__name__}: no spacing key '{key}' in the batch (keys: {sorted(map(str, d))})."
                )
            d[key] = self.rotator.swap_spacing(d[key])
        return d


BatchRandFlipD = BatchRandFlipDict = BatchRandFlipd
BatchRandRotate90D = BatchRandRotate90Dict = BatchRandRotate90d
