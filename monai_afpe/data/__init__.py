"""Data: MONAI readers that carry true physical spacing, synthetic data sets and adapters for public data.

Before training or inference the bundles check their data with :func:`check_dataset` (every file
readable, labels in the class set), read split names with :func:`split_name` (one vocabulary for all
bundles) and list image folders with :func:`load_image_folder`. A bundle's configs get their data source from one
component, :class:`BundleData` (the generated default, a data list, a public layout or a hospital folder).
"""

from monai_afpe.data.batch_collate import BatchTransformCollate
from monai_afpe.data.bundle_data import BUNDLE_TASKS, BundleData
from monai_afpe.data.dataset_checks import (
    DATA_POLICIES,
    LABEL_KINDS,
    REPORT_COLUMNS,
    DatasetCheckError,
    DatasetCheckWarning,
    SkippedItem,
    check_dataset,
    data_report_path,
)
from monai_afpe.data.default_dataset import SYNTHETIC_DATASETS, ensure_dataset
from monai_afpe.data.image_folder import load_image_folder
from monai_afpe.data.inference_inputs import inference_items, label_prediction_csv, load_image_csv
from monai_afpe.data.splits import SPLIT_ALIASES, SPLIT_NAMES, allowed_split_names, split_name

__all__ = [
    "BUNDLE_TASKS",
    "DATA_POLICIES",
    "LABEL_KINDS",
    "REPORT_COLUMNS",
    "SPLIT_ALIASES",
    "SPLIT_NAMES",
    "SYNTHETIC_DATASETS",
    "BatchTransformCollate",
    "BundleData",
    "DatasetCheckError",
    "DatasetCheckWarning",
    "SkippedItem",
    "allowed_split_names",
    "check_dataset",
    "data_report_path",
    "ensure_dataset",
    "load_image_folder",
    "load_image_csv",
    "inference_items",
    "label_prediction_csv",
    "split_name",
]
