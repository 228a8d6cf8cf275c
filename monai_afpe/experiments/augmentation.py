"""Spacing augmentation of in-memory training volumes, redrawn every epoch, for harness arms with ``augment``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from monai_afpe.experiments.config import AugmentConfig
from monai_afpe.experiments.data import Split

__all__ = ["spacing_augmentation"]


def spacing_augmentation(options: AugmentConfig, input_size: Sequence[int]) -> Callable[[Split, int], Split]:
    """A function ``(split, seed) -> split`` that resamples every training volume to a random spacing.

    Each volume becomes a MetaTensor with the affine ``diag(spacing)`` and passes through
    :class:`~monai_afpe.transforms.RandSpacing` (its draw seeded per epoch and volume), which resamples
    it with MONAI's ``Spacing`` and crops or pads it back to ``input_size`` (edge padding, so the
    normalised background continues); the new spacing is read from the updated affine. Positions in mm
    and a spacing embedding then see the drawn spacing; index-based encodings see only the resampled
    voxels.

    Args:
        options: the arm's ``augment`` section: ``spacing_range``, ``tie_axes``, ``prob``, ``log_uniform``.
        input_size: spatial size of the network input.
    """
    from monai.data import MetaTensor

    from monai_afpe.transforms import RandSpacing, image_spacing

    transform = RandSpacing(
        options.spacing_range,
        tie_axes=options.tie_axes,
        log_uniform=options.log_uniform,
        prob=options.prob,
        spatial_size=tuple(int(s) for s in input_size),
        mode="bilinear",
        padding_mode="border",
        dtype=torch.float32,
        pad_mode="edge",
    )

    def augment(split: Split, seed: int) -> Split:
        transform.set_random_state(seed)
        images, spacing = [], []
        for image, voxel_spacing in zip(split.images, split.spacing):
            volume = MetaTensor(
                image, affine=torch.diag(torch.cat([voxel_spacing.double(), torch.ones(1, dtype=torch.float64)]))
            )
            resampled = transform(volume)
            images.append(resampled.as_tensor().float())
            spacing.append(image_spacing(resampled).float())
        return Split(torch.stack(images), split.targets, torch.stack(spacing), split.clips)

    return augment
