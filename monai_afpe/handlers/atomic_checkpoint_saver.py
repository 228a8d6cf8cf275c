"""MONAI's ``CheckpointSaver`` with every file written atomically (the best model ``model.pt`` included)."""

from __future__ import annotations

import os

from monai.handlers import CheckpointSaver

from monai_afpe.handlers.atomic_disk_saver import AtomicDiskSaver

__all__ = ["AtomicCheckpointSaver"]


class AtomicCheckpointSaver(CheckpointSaver):
    """``monai.handlers.CheckpointSaver`` whose files are written by :class:`AtomicDiskSaver`.

    MONAI's saver removes the previous file before it writes the next one, in place: a run killed
    during that write loses the best model (``key_metric_filename``, e.g. ``model.pt``) or leaves it
    truncated. This saver takes the same arguments and saves the same files at the same events, but
    each file is written to a temporary file and renamed over the old one when complete, and an old
    file is removed only after its successor is complete. Use it in an evaluator's handlers in place of
    ``CheckpointSaver``; :class:`~monai_afpe.handlers.ResumableCheckpoint` restores its key-metric record
    on resume like that of a ``CheckpointSaver``.

    Args:
        save_dir: folder of the checkpoint files.
        save_dict: objects to save, e.g. ``{"model": network}``.
        final_filename: fixed name of the final checkpoint (``save_final=True``).
        key_metric_filename: fixed name of the best-metric checkpoint (``save_key_metric=True``).
        kwargs: the other arguments of ``monai.handlers.CheckpointSaver`` (``save_key_metric``,
            ``save_final``, ``save_interval``, ``n_saved``, ``file_prefix``, ...).
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        save_dict: dict,
        final_filename: str | None = None,
        key_metric_filename: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(
            save_dir=str(save_dir),
            save_dict=save_dict,
            final_filename=final_filename,
            key_metric_filename=key_metric_filename,
            **kwargs,
        )
        # MONAI builds one ignite Checkpoint per kind of save; each gets an atomic save handler that keeps
        # MONAI's fixed file name for that kind.
        for checkpoint, filename in (
            (self._final_checkpoint, final_filename),
            (self._key_metric_checkpoint, key_metric_filename),
            (self._interval_checkpoint, None),
        ):
            if checkpoint is not None:
                checkpoint.save_handler = AtomicDiskSaver(save_dir, filename=filename)
