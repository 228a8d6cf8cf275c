"""Collation followed by a transform of the whole batch: per-batch augmentation in a MONAI data loader."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from monai.data import list_data_collate

__all__ = ["BatchTransformCollate"]


class BatchTransformCollate:
    """A data loader's ``collate_fn`` that collates the items, then applies ``transform`` to the batch.

    Random augmentation of a collated batch of plain tensors (for example
    :class:`~monai_afpe.transforms.BatchRandFlipd` and :class:`~monai_afpe.transforms.BatchRandRotate90d`)
    costs a few tensor operations per batch, where MONAI's per-item transforms copy each cached item and
    update its metadata. Being the ``collate_fn``, it runs in the data loader's workers when there are any.

    Args:
        transform: applied to the collated batch (e.g. a :class:`~monai.transforms.Compose` of batch
            transforms); None only collates.
        collate_fn: how the items are collated (default: MONAI's :func:`~monai.data.list_data_collate`).

    Example (a bundle's training data loader)::

        "collate_fn": {
            "_target_": "monai_afpe.data.BatchTransformCollate",
            "transform": {"_target_": "Compose", "transforms": "@train#augmentation"}
        }
    """

    def __init__(self, transform: Callable[[Any], Any] | None = None, collate_fn: Callable | None = None) -> None:
        for name, value in (("transform", transform), ("collate_fn", collate_fn)):
            if value is not None and not callable(value):
                raise ValueError(f"{name} must be callable, got {type(value).__name__}.")
        self.transform = transform
        self.collate_fn = list_data_collate if collate_fn is None else collate_fn

    def __call__(self, items: Sequence[Any]) -> Any:
        batch = self.collate_fn(items)
        return batch if self.transform is None else self.transform(batch)
