"""A folder of images as MONAI items, refused with the folder's path when it holds no image.

Inference on "every image in this folder" must not end in an ``IndexError`` of an empty data loader:
:func:`load_image_folder` names the folder and what it expected when the folder is missing, empty,
or holds only files that do not match the pattern.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["load_image_folder"]


def load_image_folder(folder: os.PathLike | str, pattern: str = "*.nii*", key: str = "image") -> list[dict]:
    """Items ``{key: path}`` for the files of ``folder`` that match ``pattern``, sorted by name.

    Args:
        folder: the folder (not searched recursively unless ``pattern`` says so, e.g. ``"**/*.nii.gz"``).
        pattern: a ``glob`` pattern relative to ``folder``.
        key: the item key of each path.

    Raises:
        FileNotFoundError: ``folder`` does not exist or is not a folder.
        ValueError: ``folder`` is empty, or none of its files match ``pattern`` (the message counts and
            names a few of the other files).
    """
    path = Path(folder)
    expected = f"expected image files matching {pattern!r}"
    if not path.is_dir():
        kind = "not a folder" if path.exists() else "no such folder"
        raise FileNotFoundError(f"{path}: {kind}; {expected}.")
    entries = sorted(path.iterdir())
    if not entries:
        raise ValueError(f"{path}: empty folder; {expected}.")
    files = sorted(p for p in path.glob(pattern) if p.is_file())
    if not files:
        names = [p.name + ("/" if p.is_dir() else "") for p in entries]
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise ValueError(f"{path}: no image: no file matches {pattern!r} among its {len(names)} entries ({shown}).")
    return [{key: str(p)} for p in files]
