"""What a bundle infers on when the user gives images rather than a labelled data set, and the table it writes.

A bundle's ``inference.json`` falls back on its default data (a generated test split, a data list) unless the
user gives ``--image_dir`` (every file of a folder that matches a pattern) or ``--image_csv`` (a CSV whose only
required column is ``image``): :func:`inference_items` turns either into MONAI items without any label.
MONAI's ``ClassificationSaver`` writes rows without a header; :func:`label_prediction_csv` gives that file a
header with the class names (and the predicted class), so the table reads on its own.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from monai_afpe.data.image_folder import load_image_folder

__all__ = ["load_image_csv", "inference_items", "label_prediction_csv"]


def load_image_csv(path: os.PathLike | str, column: str = "image", key: str = "image") -> list[dict]:
    """Items ``{key: file}`` from the ``column`` of a CSV with a header (other columns are kept as they are).

    Relative paths are read against the CSV's folder. A UTF-8 byte-order mark (Excel's "CSV UTF-8") is accepted.

    Raises:
        FileNotFoundError: the CSV, or a file one of its rows names (with the row number).
        ValueError: no ``column`` in the header (naming the columns found), an empty cell, or no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image CSV not found")
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.DictReader(stream)
        if reader.fieldnames is None or column not in reader.fieldnames:
            found = ", ".join(reader.fieldnames or []) or "none"
            raise ValueError(
                f"{path}: no {column!r} column in the header (columns: {found}); expected one file per row."
            )
        items = []
        for row_number, row in enumerate(reader, start=2):
            value = (row[column] or "").strip()
            if not value:
                raise ValueError(f"{path}, row {row_number}: empty {column!r} cell; expected an image file.")
            file = Path(value) if Path(value).is_absolute() else path.parent / value
            if not file.exists():
                raise FileNotFoundError(f"{path}, row {row_number}: {column} {value!r}: no such file ({file}).")
            items.append({**{k: v for k, v in row.items() if k != column and k is not None}, key: str(file)})
    if not items:
        raise ValueError(f"{path}: no rows under the header; expected one image file per row.")
    return items


def inference_items(
    image_dir: os.PathLike | str | None = None,
    image_csv: os.PathLike | str | None = None,
    pattern: str = "*.nii*",
    key: str = "image",
    name_key: str | None = None,
) -> list[dict] | None:
    """The unlabelled items a user asked for, or ``None`` when neither ``image_dir`` nor ``image_csv`` is given.

    Args:
        image_dir: infer on every file of this folder that matches ``pattern``.
        image_csv: infer on the files of this CSV's ``image`` column.
        pattern: ``glob`` pattern of ``image_dir``.
        key: the item key of each file.
        name_key: also store each file's name under this key (the echo bundle names its predictions by it).

    Raises:
        ValueError: both given; see :func:`load_image_folder` and :func:`load_image_csv` for the rest.
    """
    if image_dir and image_csv:
        raise ValueError(f"give image_dir ({image_dir}) or image_csv ({image_csv}), not both.")
    if image_dir:
        items = load_image_folder(image_dir, pattern, key)
    elif image_csv:
        items = load_image_csv(image_csv, key=key)
    else:
        return None
    if name_key:
        items = [{**item, name_key: os.path.basename(item[key])} for item in items]
    return items


def label_prediction_csv(
    path: os.PathLike | str,
    value_names: Sequence[str],
    predicted_column: str | None = "predicted",
    threshold: float | None = None,
) -> Path:
    """Give the header-less table of MONAI's ``ClassificationSaver`` a header, in place.

    Args:
        path: the CSV (``file,value_0,...``).
        value_names: one name per value column, e.g. a classifier's class names (written ``p_<name>``
            when ``predicted_column`` is set) or ``["ejection_fraction"]``.
        predicted_column: a column with the name of the largest value (a classifier's predicted class),
            or ``None``.
        threshold: multi-label: the predicted column instead lists, joined by ``;``, the name of every value at
            or above this probability (empty when none is); None: the largest value's name.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a row whose number of values is not ``len(value_names)`` (naming the row), or a file that
            already has a header.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no prediction table (did inference write any prediction?)")
    with open(path, newline="", encoding="utf-8-sig") as stream:
        rows = [row for row in csv.reader(stream) if row]
    names = list(value_names)
    value_columns = [f"p_{n}" for n in names] if predicted_column else names
    if rows and rows[0][0] == "image":
        raise ValueError(f"{path}: already has a header ({', '.join(rows[0])}).")
    table = [["image", *value_columns, *([predicted_column] if predicted_column else [])]]
    for number, row in enumerate(rows, start=1):
        if len(row) != 1 + len(names):
            raise ValueError(
                f"{path}, row {number}: {len(row) - 1} values, expected {len(names)} ({', '.join(names)})."
            )
        values = [float(v) for v in row[1:]]
        if not predicted_column:
            extra = []
        elif threshold is None:
            extra = [names[max(range(len(values)), key=values.__getitem__)]]
        else:
            extra = [";".join(n for n, v in zip(names, values) if v >= threshold)]
        table.append([row[0], *row[1:], *extra])
    with open(path, "w", newline="") as stream:
        csv.writer(stream).writerows(table)
    return path
