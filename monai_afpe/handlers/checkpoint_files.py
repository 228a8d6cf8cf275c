"""Names of resumable checkpoint files, and finding the newest complete one in a folder.

:class:`~monai_afpe.handlers.ResumableCheckpoint` names its files ``<prefix>_epoch=<E>.pt`` when it saves
at the end of epoch ``E`` and ``<prefix>_epoch=<E>_iteration=<I>.pt`` when a signal stops the run at
global iteration ``I`` inside epoch ``E``. The names alone order the files in time.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = [
    "CHECKPOINT_EXTENSION",
    "CheckpointFile",
    "checkpoint_filename",
    "checkpoint_pattern",
    "latest_checkpoint",
    "list_checkpoints",
    "read_checkpoint_keys",
]

CHECKPOINT_EXTENSION = "pt"


@dataclass(frozen=True)
class CheckpointFile:
    """A resumable checkpoint file and where in training it was written.

    Attributes:
        path: the file.
        epoch: the epoch it was written in (``<E>`` in its name).
        iteration: the global iteration when a signal stopped the run inside ``epoch``; None when the file
            was written at the end of ``epoch``.
    """

    path: Path
    epoch: int
    iteration: int | None = None

    @property
    def order(self) -> tuple[int, int]:
        """Sort key in training time: (completed epochs, iteration inside the next epoch or -1)."""
        return (self.epoch, -1) if self.iteration is None else (self.epoch - 1, self.iteration)


def _check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix or Path(prefix).name != prefix or prefix.startswith("."):
        raise ValueError(
            f"file_prefix must be a non-empty file name part without folders or a leading dot, got {prefix!r}."
        )
    return prefix


def checkpoint_filename(prefix: str, epoch: int, iteration: int | None = None) -> str:
    """``<prefix>_epoch=<epoch>.pt``, or ``<prefix>_epoch=<epoch>_iteration=<iteration>.pt`` inside an epoch."""
    _check_prefix(prefix)
    middle = f"epoch={int(epoch)}" if iteration is None else f"epoch={int(epoch)}_iteration={int(iteration)}"
    return f"{prefix}_{middle}.{CHECKPOINT_EXTENSION}"


def checkpoint_pattern(directory: str | os.PathLike, prefix: str = "checkpoint") -> str:
    """The glob pattern of the checkpoint files of ``prefix`` in ``directory`` (for messages and shells)."""
    return os.path.join(str(directory), f"{_check_prefix(prefix)}_epoch=*.{CHECKPOINT_EXTENSION}")


def list_checkpoints(directory: str | os.PathLike, prefix: str = "checkpoint") -> list[CheckpointFile]:
    """The checkpoint files of ``prefix`` in ``directory``, oldest first (by the epoch and iteration in their names).

    Other files (the best model, temporary files of an interrupted save) are ignored. A missing folder
    has no checkpoints.
    """
    name = re.compile(rf"^{re.escape(_check_prefix(prefix))}_epoch=(\d+)(?:_iteration=(\d+))?\.{CHECKPOINT_EXTENSION}$")
    directory = Path(directory)
    if not directory.is_dir():
        return []
    files = []
    for entry in directory.iterdir():
        match = name.match(entry.name)
        if match and entry.is_file():
            iteration = None if match.group(2) is None else int(match.group(2))
            files.append(CheckpointFile(entry, int(match.group(1)), iteration))
    return sorted(files, key=lambda file: file.order)


def read_checkpoint_keys(path: str | os.PathLike) -> list[str]:
    """The top-level keys of a checkpoint file, read with ``torch.load(weights_only=True, mmap=True)``.

    Memory-mapping reads the file's index and object structure without loading tensor data, so this is
    a cheap completeness check: a truncated file has no index and fails here.

    Raises:
        RuntimeError: naming ``path``, when the file is truncated, corrupt or not a dictionary of tensors
            and plain containers.
    """
    path = Path(path)
    try:
        content = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:
        raise RuntimeError(
            f"checkpoint file {path} cannot be read: it is truncated or corrupt, or holds objects other than "
            f"tensors and plain containers (torch.load with weights_only=True refuses those). "
            f"{type(error).__name__}: {error}"
        ) from error
    if not isinstance(content, dict):
        raise RuntimeError(
            f"checkpoint file {path} holds a {type(content).__name__}, expected a dictionary of state dicts."
        )
    keys = [str(key) for key in content]
    del content
    return keys


def _newest_readable(directory: str | os.PathLike, prefix: str) -> tuple[CheckpointFile, list[str]]:
    files = list_checkpoints(directory, prefix)
    if not files:
        raise FileNotFoundError(
            f"no checkpoint to resume from: nothing matches {checkpoint_pattern(directory, prefix)}. "
            "Train without resume first, or point load_path at a checkpoint file."
        )
    failures: list[str] = []
    for file in reversed(files):
        try:
            keys = read_checkpoint_keys(file.path)
        except RuntimeError as error:
            failures.append(str(error))
            continue
        if failures:
            warnings.warn(
                f"skipping {len(failures)} newer unreadable checkpoint(s) and resuming from {file.path}:\n"
                + "\n".join(failures),
                stacklevel=3,
            )
        return file, keys
    raise RuntimeError(f"no readable checkpoint in {directory}:\n" + "\n".join(failures))


def latest_checkpoint(directory: str | os.PathLike, prefix: str = "checkpoint") -> Path:
    """The newest complete checkpoint file of ``prefix`` in ``directory``.

    Files are tried newest first. A file that cannot be read (see :func:`read_checkpoint_keys`) is skipped
    with a warning naming it when an older readable one exists; files written by
    :class:`~monai_afpe.handlers.AtomicDiskSaver` are complete unless damaged after writing.

    Raises:
        FileNotFoundError: naming the pattern, when there is no checkpoint file.
        RuntimeError: naming every file, when none can be read.
    """
    return _newest_readable(directory, prefix)[0].path
