"""Data: MONAI readers that carry true physical spacing, synthetic data sets and adapters for public data."""

from monai_afpe.data.default_dataset import SYNTHETIC_DATASETS, ensure_dataset

__all__ = ["SYNTHETIC_DATASETS", "ensure_dataset"]
