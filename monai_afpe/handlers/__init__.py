"""ignite / MONAI handlers: checkpoints written atomically, and a training checkpoint that resumes after a kill.

:class:`ResumableCheckpoint` saves every epoch and on SIGTERM / SIGINT and resumes from the newest complete
file; :class:`AtomicCheckpointSaver` is MONAI's ``CheckpointSaver`` (e.g. the best ``model.pt``) with
atomic writes; both write through :class:`AtomicDiskSaver`. :class:`SpacingRangeRecorder` saves the
spacing range of the training batches as the model's spacing contract (``spacing_contract.json``).
:class:`MetricNotes` explains metric values that follow from the data (a NaN AUROC, a hugely negative R²);
:func:`per_label_metrics` gives a multi-label classifier's AUROC and AUPRC label by label;
:class:`SegmentationOverlaySaver` writes PNGs of image, label and prediction at evaluation.
"""

from monai_afpe.handlers.atomic_checkpoint_saver import AtomicCheckpointSaver
from monai_afpe.handlers.atomic_disk_saver import TEMPORARY_SUFFIX, AtomicDiskSaver, atomic_torch_save
from monai_afpe.handlers.checkpoint_files import (
    CHECKPOINT_EXTENSION,
    CheckpointFile,
    checkpoint_filename,
    checkpoint_pattern,
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint_keys,
)
from monai_afpe.handlers.metric_notes import R2_NOTE_BELOW, MetricNotes, metric_notes
from monai_afpe.handlers.multilabel_metrics import PER_LABEL_SCORES, per_label_metrics
from monai_afpe.handlers.resumable_checkpoint import RESERVED_KEYS, ResumableCheckpoint
from monai_afpe.handlers.segmentation_overlay_saver import SegmentationOverlaySaver
from monai_afpe.handlers.spacing_range_recorder import SpacingRangeRecorder

__all__ = [
    "CHECKPOINT_EXTENSION",
    "PER_LABEL_SCORES",
    "R2_NOTE_BELOW",
    "RESERVED_KEYS",
    "TEMPORARY_SUFFIX",
    "AtomicCheckpointSaver",
    "AtomicDiskSaver",
    "CheckpointFile",
    "MetricNotes",
    "ResumableCheckpoint",
    "SegmentationOverlaySaver",
    "SpacingRangeRecorder",
    "atomic_torch_save",
    "checkpoint_filename",
    "checkpoint_pattern",
    "latest_checkpoint",
    "list_checkpoints",
    "metric_notes",
    "per_label_metrics",
    "read_checkpoint_keys",
]
