"""Checkpoint files written atomically, so that a run killed while saving never leaves a truncated file.

``torch.save`` writes into a temporary file in the target folder; the file is flushed and fsynced, then
``os.replace`` renames it over the target in one step. A reader therefore sees the old complete file or
the new complete file, never a part of one. ignite's ``Checkpoint`` asks its save handler to remove the
oldest file *before* it writes the newest; :class:`AtomicDiskSaver` defers that removal until the new
file is complete, so a kill at any moment leaves at least one complete checkpoint on disk.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import torch
from ignite import distributed as idist
from ignite.handlers.checkpoint import BaseSaveHandler

__all__ = ["TEMPORARY_SUFFIX", "AtomicDiskSaver", "atomic_torch_save", "atomic_write"]

TEMPORARY_SUFFIX = ".tmp"
"""Suffix of the temporary file ``.<name>.<random>.tmp`` that :func:`atomic_torch_save` renames to ``<name>``."""


def _fsync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows has no directory handles to fsync)."""
    if os.name == "nt":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically: the previous file at ``path`` stays until the new one is complete.

    The object is written to ``.<name>.<random>.tmp`` in the same folder (same file system, so the rename
    is atomic), flushed and fsynced, then renamed over ``path`` with ``os.replace`` and the folder is
    fsynced. The temporary file is created with the process umask, like a file ``torch.save`` creates.
    If writing fails the temporary file is removed and the error is raised; if the process is killed
    while writing, the temporary file is left behind and ``path`` is untouched.

    Args:
        obj: what to save; for files read with ``torch.load(weights_only=True)`` only tensors, numbers,
            strings and plain containers.
        path: the file to write; its folder must exist.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> Path:
    """Write a file atomically: ``write(f)`` fills ``.<name>.<random>.tmp`` in the same folder, which is then
    flushed, fsynced and renamed over ``path`` (the folder fsynced too). See :func:`atomic_torch_save`.

    Raises:
        FileNotFoundError: the folder of ``path`` does not exist.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist.")
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}{TEMPORARY_SUFFIX}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(descriptor, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    _fsync_directory(path.parent)
    return path


class AtomicDiskSaver(BaseSaveHandler):
    """ignite save handler that writes with :func:`atomic_torch_save` and removes old files only after a save.

    A drop-in replacement for ``ignite.handlers.DiskSaver`` as the ``save_handler`` of
    ``ignite.handlers.Checkpoint``. ignite calls :meth:`remove` for the oldest checkpoint before it calls
    the handler to write the newest; here the removal waits until the newest file is complete. A kill
    while writing therefore leaves the previous checkpoint intact (and, at worst, a stray temporary file
    named ``.<name>.<random>.tmp``).

    Args:
        dirname: folder of the checkpoint files.
        filename: a fixed file name that replaces the one ignite proposes (MONAI's ``final_filename`` /
            ``key_metric_filename``); None keeps ignite's name.
        create_dir: create ``dirname`` if it does not exist.
        save_on_rank: in a distributed run, the only rank that writes and removes files.
    """

    def __init__(
        self, dirname: str | os.PathLike, filename: str | None = None, create_dir: bool = True, save_on_rank: int = 0
    ) -> None:
        if filename is not None and (not filename or Path(filename).name != filename):
            raise ValueError(f"filename must be a bare file name without folders, got {filename!r}.")
        self.dirname = Path(dirname).expanduser()
        self.filename = filename
        self.save_on_rank = save_on_rank
        self._pending_removal: list[str] = []
        if create_dir and idist.get_rank() == save_on_rank:
            self.dirname.mkdir(parents=True, exist_ok=True)

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        """Write ``checkpoint`` to ``dirname/filename`` atomically, then remove the files queued by :meth:`remove`."""
        if idist.get_rank() != self.save_on_rank:
            return
        filename = self.filename or filename
        atomic_torch_save(checkpoint, self.dirname / filename)
        pending, self._pending_removal = self._pending_removal, []
        for name in pending:
            if name != filename:  # the file just written replaced it
                (self.dirname / name).unlink(missing_ok=True)

    def remove(self, filename: str) -> None:
        """Queue ``filename`` for removal once the next checkpoint has been written completely."""
        if idist.get_rank() != self.save_on_rank:
            return
        name = self.filename or filename
        if name not in self._pending_removal:
            self._pending_removal.append(name)
