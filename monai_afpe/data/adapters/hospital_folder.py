"""A hospital's own data: a folder of NIfTI files and DICOM series folders with a CSV of labels.

The layout a clinical export usually has, without any benchmark's conventions::

    root/
      labels.csv            image,label[,split]
      case_001.nii.gz       a NIfTI volume
      case_002/             a DICOM series: one folder of slice files
      case_003/IM0001 ...

Each CSV row names an image (relative to ``root``, or absolute) and its label: a class index
(``label_type="class"``), a number (``"value"``, e.g. an ejection fraction) or a label image
(``"path"``, for segmentation). Every row is checked before training starts, and a bad row raises an
error naming the CSV, the row and what is wrong — a missing file, a folder without DICOM files, a
label that is not a number, a class index outside the class set, a split name outside the shared
vocabulary (:func:`~monai_afpe.data.split_name`: ``training``/``train``, ``validation``/``val``,
``test``) — rather than failing later inside a data loader worker or dropping rows silently.

Loading is left to the readers: ``LoadImaged(keys="image", reader=...)`` with MONAI's NIfTI reader,
or :class:`~monai_afpe.data.readers.DicomSeriesReader` for series folders (slice spacing from
ImagePositionPatient, checked); :func:`~monai_afpe.data.readers.load_image` picks one per path.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

from monai.data.utils import is_supported_format
from monai.utils import look_up_option
from pydicom.misc import is_dicom

from monai_afpe.data.readers.load import NIFTI_SUFFIXES
from monai_afpe.data.splits import split_name

__all__ = ["LABEL_TYPES", "load_hospital_folder"]

#: how the label column is read: class index, real number, or path of a label image
LABEL_TYPES = ("class", "value", "path")


def _resolve(root: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else root / path


def _check_image(path: Path, where: str, column: str) -> None:
    """Raise unless ``path`` is a NIfTI file, a DICOM file or a folder holding DICOM files."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        if not any(is_dicom(p) for p in files):
            raise ValueError(f"{where}: column {column}: folder {path} holds no DICOM file ({len(files)} other files).")
    elif path.is_file():
        if not (is_supported_format(str(path), NIFTI_SUFFIXES) or is_dicom(path)):
            raise ValueError(
                f"{where}: column {column}: {path} is neither a NIfTI file (.nii, .nii.gz) "
                "nor a DICOM file nor a DICOM series folder."
            )
    else:
        raise FileNotFoundError(f"{where}: column {column}: file not found: {path}")


def load_hospital_folder(
    root: os.PathLike | str,
    csv_file: str = "labels.csv",
    image_column: str = "image",
    label_column: str = "label",
    label_type: str = "class",
    split: str | None = None,
    split_column: str = "split",
    classes: int | Sequence[int] | None = None,
) -> list[dict]:
    """Items ``{"image": path, "label": ...}`` from a folder of NIfTI files / DICOM series and a CSV.

    Args:
        root: the folder; relative paths in the CSV are relative to it.
        csv_file: the CSV (relative to ``root``, or absolute), UTF-8; a byte-order mark (Excel's
            "CSV UTF-8") is accepted.
        image_column: column with the image path (NIfTI file, DICOM file or DICOM series folder).
        label_column: column with the label.
        label_type: ``"class"`` (integer), ``"value"`` (real number) or ``"path"`` (label image,
            checked like an image).
        split: keep only the rows of this split (a name of :data:`~monai_afpe.data.SPLIT_NAMES` or an
            alias, any case: ``"val"`` and ``"validation"`` select the same rows); None keeps all.
        split_column: column with the split name (needed only with ``split``); every row's value must
            be in the same vocabulary.
        classes: with ``label_type="class"``, the class set: a number of classes ``n`` (indices
            ``0..n-1``) or the allowed indices; None does not check the range.

    Raises:
        FileNotFoundError: the CSV, or a row's image or label file (naming the CSV row and the path).
        ValueError: naming the CSV (and row): a missing column, an empty value, a label that is not
            of ``label_type``, a class index outside ``classes``, an unknown split name, a folder
            without DICOM files, a file of another format.
    """
    label_type = look_up_option(label_type, LABEL_TYPES)
    if split is not None:
        split = split_name(split, "load_hospital_folder: argument split")
    allowed = None
    if classes is not None:
        allowed = sorted(range(classes) if isinstance(classes, int) else {int(c) for c in classes})
    root = Path(root)
    csv_path = _resolve(root, csv_file)
    if not csv_path.is_file():
        raise FileNotFoundError(f"label CSV not found: {csv_path}")
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        needed = [image_column, label_column] + ([split_column] if split is not None else [])
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{csv_path}: columns {missing} are missing; found {reader.fieldnames}.")
        rows = list(enumerate(reader, start=2))
    items = []
    for line, row in rows:
        where = f"{csv_path}: row {line}"
        for column in needed:
            if not (row[column] or "").strip():
                raise ValueError(f"{where}: column {column} is empty.")
        if split is not None and split_name(row[split_column], f"{where}: column {split_column}") != split:
            continue
        image = _resolve(root, row[image_column].strip())
        _check_image(image, where, image_column)
        text = row[label_column].strip()
        if label_type == "path":
            label_path = _resolve(root, text)
            _check_image(label_path, where, label_column)
            label: int | float | str = str(label_path)
        else:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or (label_type == "class" and not number.is_integer()):
                kind = "an integer class index" if label_type == "class" else "a finite number"
                raise ValueError(f"{where}: column {label_column}: expected {kind}, got {text!r}.")
            label = int(number) if label_type == "class" else number
            if allowed is not None and label_type == "class" and label not in allowed:
                shown = ", ".join(str(c) for c in allowed)
                raise ValueError(
                    f"{where}: column {label_column}: class index {label} is outside the class set {{{shown}}}."
                )
        items.append({"image": str(image), "label": label})
    return items
