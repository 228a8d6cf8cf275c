"""Chest radiograph data sets as MONAI datalists: NIH ChestX-ray14, NIH-CXR-LT, CheXpert and the synthetic layout.

Each function reads a copy the user already has (nothing is downloaded) and returns items
``{"image": path, "label": float32 0/1 vector, "pixel_spacing": (row, column) mm (when known), ...}`` with
the labels in a fixed order (the function's ``labels`` argument or constant). Missing files and columns
raise errors naming the file, the row or column and what was expected.

Pixel sizes: NIH ChestX-ray14 (and NIH-CXR-LT, its long-tail relabelling) PNG files are exports resized
from the original DICOM images (1024 x 1024 for the original sizes of about 2500-3000 pixels); its
``Data_Entry_2017.csv`` gives the original size (``OriginalImage[Width``, ``Height]``) and the original pixel
size (``OriginalImagePixelSpacing[x``, ``y]``, mm). The pixel size of the PNG is the original one scaled by
``original size / PNG size`` along each axis: the PNG size is read from the file header (Pillow, without
decoding the pixels), or given as ``image_size`` (all NIH PNGs are 1024 x 1024) so that no file is opened.
CheXpert JPEGs state no pixel size and the CSVs do not either: their items have no ``pixel_spacing``.
Load the PNG / JPEG files with :class:`~monai_afpe.data.readers.RasterImageReader` and set each item's
pixel size with :class:`~monai_afpe.transforms.SetPixelSpacingd`.

:func:`load_chest_xray_csv` reads the ``labels.csv`` layout of
:func:`~monai_afpe.data.synthetic.generate_chest_xray` (a DICOM and a PNG path per image, the split, the pixel size
of the PNG and one 0/1 column per label), which also suits a hospital's own export.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_afpe.data.splits import split_name
from monai_afpe.data.synthetic.chest_xray import CHEST_XRAY_LABELS

__all__ = [
    "CHEST_XRAY_IMAGE_COLUMNS",
    "CHESTXRAY14_LABELS",
    "CHESTXRAY14_COLUMNS",
    "CHEXPERT_LABELS",
    "UNCERTAIN_POLICIES",
    "read_chestxray14_entries",
    "load_chestxray14",
    "load_nih_cxr_lt",
    "load_chexpert",
    "load_chest_xray_csv",
]

#: the 14 findings of NIH ChestX-ray14 in label-vector order ("No Finding" is the all-zero vector)
CHESTXRAY14_LABELS = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)
#: columns of ``Data_Entry_2017.csv`` the adapter reads
CHESTXRAY14_COLUMNS = (
    "Image Index",
    "Finding Labels",
    "Patient ID",
    "OriginalImage[Width",
    "Height]",
    "OriginalImagePixelSpacing[x",
    "y]",
)
_NO_FINDING = "No Finding"
#: the 14 observations of CheXpert in its CSV order
CHEXPERT_LABELS = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)
#: how CheXpert's uncertain labels (-1) are read: as 0, as 1, or masked out (``label_mask`` 0)
UNCERTAIN_POLICIES = ("zeros", "ones", "ignore")
#: image columns of the synthetic ``labels.csv`` layout: the DICOM file (pixel size in the file) and the PNG export
#: (pixel size in the ``PixelSpacingRow`` / ``PixelSpacingColumn`` columns)
CHEST_XRAY_IMAGE_COLUMNS = ("Path", "PNG")
#: columns of NIH-CXR-LT CSVs that are not labels (image and patient identifiers)
_LT_ID_COLUMNS = ("id", "subj_id", "subject_id", "Patient ID", "Image Index", "Path", "split")


def _binary_label(row: dict, column: str, where: str) -> float:
    """The 0 / 1 label in ``row[column]``; anything else is an error naming ``where`` and the column."""
    text = (row[column] or "").strip()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if value not in (0.0, 1.0):
        raise ValueError(f"{where}: column {column}: expected a label 0 or 1, got {row[column]!r}.")
    return value


def _read_csv(csv_path: Path, needed: Sequence[str], what: str) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and ``(line, row)`` pairs of a UTF-8 CSV (byte-order mark accepted), after checking ``needed``."""
    if not csv_path.is_file():
        raise FileNotFoundError(f"{what} not found: {csv_path}")
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        missing = [c for c in needed if c not in header]
        if missing:
            raise ValueError(f"{csv_path}: columns {missing} are missing ({what}); found {header}.")
        return header, list(enumerate(reader, start=2))


def _number(where: str, column: str, text: str | None, positive: bool = True) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(
            f"{where}: column {column}: expected a finite number{' > 0' if positive else ''}, got {text!r}."
        )
    return value


def _png_index(root: Path, image_dir: os.PathLike | str | None) -> dict[str, Path]:
    """File name -> path of the images under ``root/images*/`` and ``root/images*/images/`` (NIH's archives)."""
    folders = [root / image_dir] if image_dir is not None else sorted(p for p in root.glob("images*") if p.is_dir())
    index: dict[str, Path] = {}
    for folder in folders:
        for sub in (folder, folder / "images"):
            if sub.is_dir():
                for entry in os.scandir(sub):
                    if entry.is_file():
                        index.setdefault(entry.name, Path(entry.path))
    return index


def _image_size(path: Path, image_size: Sequence[int] | int | None) -> tuple[int, int]:
    """``(width, height)`` of the PNG from its header, or ``image_size`` (one value or ``(width, height)``)."""
    if image_size is not None:
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        return int(size[0]), int(size[1])
    from PIL import Image

    with Image.open(path) as image:  # reads the header only
        return image.size


def read_chestxray14_entries(csv_path: os.PathLike | str) -> dict[str, dict]:
    """Rows of NIH ChestX-ray14's ``Data_Entry_2017.csv`` by image name, validated and typed.

    Each value: ``{"line", "labels": tuple of findings, "patient_id", "original_size": (width, height),
    "original_spacing": (x, y) mm, "view"}``.

    Raises:
        FileNotFoundError: the CSV does not exist.
        ValueError: naming the CSV, the row and the column: a missing column (:data:`CHESTXRAY14_COLUMNS`), an
            empty image name, a finding outside :data:`CHESTXRAY14_LABELS` / ``No Finding``, a size or spacing
            that is not a number > 0.
    """
    csv_path = Path(csv_path)
    _, rows = _read_csv(csv_path, CHESTXRAY14_COLUMNS, "NIH ChestX-ray14 Data_Entry_2017.csv")
    entries = {}
    for line, row in rows:
        name = (row["Image Index"] or "").strip()
        where = f"{csv_path}: row {line}"
        if not name:
            raise ValueError(f"{where}: column Image Index is empty.")
        where = f"{where} (Image Index {name!r})"
        findings = tuple(f.strip() for f in (row["Finding Labels"] or "").split("|") if f.strip())
        unknown = [f for f in findings if f not in CHESTXRAY14_LABELS and f != _NO_FINDING]
        if not findings or unknown:
            raise ValueError(
                f"{where}: column Finding Labels: expected findings of {CHESTXRAY14_LABELS} or {_NO_FINDING!r} "
                f"separated by '|', got {row['Finding Labels']!r}."
            )
        entries[name] = {
            "line": line,
            "labels": findings,
            "patient_id": (row["Patient ID"] or "").strip(),
            "view": (row.get("View Position") or "").strip(),
            "original_size": (
                _number(where, "OriginalImage[Width", row["OriginalImage[Width"]),
                _number(where, "Height]", row["Height]"]),
            ),
            "original_spacing": (
                _number(where, "OriginalImagePixelSpacing[x", row["OriginalImagePixelSpacing[x"]),
                _number(where, "y]", row["y]"]),
            ),
        }
    return entries


def _nih_spacing(entry: dict, path: Path, image_size) -> tuple[float, float]:
    """``(row, column)`` pixel size of the exported PNG: the original one times original size / PNG size."""
    width, height = _image_size(path, image_size)
    (original_width, original_height), (sx, sy) = entry["original_size"], entry["original_spacing"]
    return sy * original_height / height, sx * original_width / width


def _split_list(root: Path, name: str) -> list[str]:
    path = root / name
    if not path.is_file():
        raise FileNotFoundError(f"NIH ChestX-ray14 split list not found: {path} (expected one image name per line).")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def load_chestxray14(
    root: os.PathLike | str,
    split: str = "training",
    data_entry: str = "Data_Entry_2017.csv",
    image_dir: os.PathLike | str | None = None,
    image_size: Sequence[int] | int | None = None,
    check_files: bool = True,
) -> list[dict]:
    """MONAI items of NIH ChestX-ray14 (Wang et al., CVPR 2017) from the folder a user downloaded.

    Each item: ``{"image": path, "label": float32 (14,) in the order of CHESTXRAY14_LABELS, "pixel_spacing":
    (row, column) mm of the PNG, "image_id", "patient_id", "view"}``.

    Args:
        root: folder with ``data_entry``, ``train_val_list.txt``, ``test_list.txt`` and the images in
            ``images*/`` (or ``images*/images/``, as the archives unpack).
        split: ``"training"`` (or ``"train"``): the rows of ``train_val_list.txt`` (the official list has no
            separate validation list: split it by patient yourself), ``"test"``: ``test_list.txt``, ``"all"``:
            every row of ``data_entry``.
        data_entry: the CSV inside ``root``.
        image_dir: folder of the PNG files inside ``root`` instead of ``images*/``.
        image_size: PNG size ``(width, height)`` (or one value) instead of reading each PNG header; needed with
            ``check_files=False`` when the files are absent.
        check_files: raise if a listed image is missing.

    Raises:
        FileNotFoundError: the CSV or a split list is missing; an image is missing (naming it and its CSV row).
        ValueError: see :func:`read_chestxray14_entries`; ``split="validation"``; a split list names an image that
            is not in the CSV.
    """
    root = Path(root)
    csv_path = root / data_entry
    entries = read_chestxray14_entries(csv_path)
    if str(split).strip().lower() == "all":
        names = list(entries)
    else:
        canonical = split_name(split, "load_chestxray14: argument split")
        if canonical == "validation":
            raise ValueError(
                "load_chestxray14: argument split: NIH ChestX-ray14 has no validation list, only train_val_list.txt "
                "and test_list.txt; got 'validation': load split='training' and hold out patients (patient_id)."
            )
        list_name = "train_val_list.txt" if canonical == "training" else "test_list.txt"
        names = _split_list(root, list_name)
        unknown = [n for n in names if n not in entries]
        if unknown:
            raise ValueError(f"{root / list_name}: {len(unknown)} images are not in {csv_path}, e.g. {unknown[:3]}.")
    files = _png_index(root, image_dir)
    items = []
    for name in names:
        entry = entries[name]
        path = files.get(name)
        if path is None:
            if check_files or image_size is None:
                raise FileNotFoundError(
                    f"{csv_path}: row {entry['line']} (Image Index {name!r}): image not found in "
                    f"{root / image_dir if image_dir is not None else str(root / 'images*') + '/[images/]'}"
                    + ("" if check_files else "; give image_size to list absent files")
                )
            path = root / (image_dir if image_dir is not None else "images") / name
        label = np.array([f in entry["labels"] for f in CHESTXRAY14_LABELS], dtype=np.float32)
        items.append(
            {
                "image": str(path),
                "label": label,
                "pixel_spacing": _nih_spacing(entry, path, image_size),
                "image_id": name,
                "patient_id": entry["patient_id"],
                "view": entry["view"],
            }
        )
    return items


def load_nih_cxr_lt(
    root: os.PathLike | str,
    csv_file: str,
    labels: Sequence[str] | None = None,
    image_column: str = "id",
    data_entry: str | None = "Data_Entry_2017.csv",
    image_dir: os.PathLike | str | None = None,
    image_size: Sequence[int] | int | None = None,
    check_files: bool = True,
) -> tuple[list[dict], tuple[str, ...]]:
    """MONAI items of NIH-CXR-LT (Holste et al., 2022; the long-tail relabelling of NIH ChestX-ray14).

    NIH-CXR-LT ships one CSV per split (e.g. ``nih-cxr-lt_single-label_train.csv``,
    ``miccai2023_nih-cxr-lt_labels_val.csv``) with an image column (``id``), one 0/1 column per label and
    identifiers (``subj_id``); its images are those of NIH ChestX-ray14. The labels are read from the CSV
    header: every column except the image column and the identifiers (``id``, ``subj_id``, ``subject_id``,
    ``Patient ID``, ``Image Index``, ``Path``, ``split``), in the header's order, unless ``labels`` names them.

    Each item: ``{"image": path, "label": float32 0/1 vector in the order returned, "image_id"}`` and
    ``"pixel_spacing"`` (row, column) mm when ``data_entry`` (NIH's ``Data_Entry_2017.csv``, scaled to the PNG
    size as in :func:`load_chestxray14`) is found in ``root`` and lists the image.

    Args:
        root: folder with ``csv_file``, the images (``images*/``) and optionally ``data_entry``.
        csv_file: the split's CSV, relative to ``root`` or absolute.
        labels: label columns to read, in this order; None reads them from the header.
        image_column: column with the image file name.
        data_entry: NIH's CSV inside ``root`` for the pixel sizes; None (or absent) gives items without.
        image_dir, image_size, check_files: as in :func:`load_chestxray14`.

    Returns:
        The items and the label names (the order of every ``label`` vector).

    Raises:
        FileNotFoundError: a CSV or an image is missing (naming it and its CSV row).
        ValueError: naming the CSV, the row and the column: a missing column, no label column, a label value
            other than 0 / 1.
    """
    root = Path(root)
    csv_path = Path(csv_file) if Path(csv_file).is_absolute() else root / csv_file
    needed = [image_column, *(labels or ())]
    header, rows = _read_csv(csv_path, needed, "NIH-CXR-LT label CSV")
    if labels is None:
        labels = tuple(c for c in header if c != image_column and c not in _LT_ID_COLUMNS)
    labels = tuple(labels)
    if not labels:
        raise ValueError(f"{csv_path}: no label column: the header {header} holds only identifiers.")
    entries = {}
    if data_entry is not None and (root / data_entry).is_file():
        entries = read_chestxray14_entries(root / data_entry)
    files = _png_index(root, image_dir)
    items = []
    for line, row in rows:
        where = f"{csv_path}: row {line}"
        name = (row[image_column] or "").strip()
        if not name:
            raise ValueError(f"{where}: column {image_column} is empty.")
        where = f"{where} ({image_column} {name!r})"
        values = [_binary_label(row, column, where) for column in labels]
        path = files.get(name)
        if path is None:
            if check_files:
                raise FileNotFoundError(f"{where}: image not found under {root}/images*/ (or image_dir).")
            path = root / (image_dir if image_dir is not None else "images") / name
        item = {"image": str(path), "label": np.asarray(values, dtype=np.float32), "image_id": name}
        if name in entries and (path.is_file() or image_size is not None):
            item["pixel_spacing"] = _nih_spacing(entries[name], path, image_size)
        items.append(item)
    return items, labels


def _chexpert_path(root: Path, value: str) -> Path:
    """The file a CheXpert ``Path`` names: relative to the folder above ``root`` (``CheXpert-v1.0-small/train/...``),
    to ``root`` itself, or to ``root`` without its first component; the first that exists, else the first."""
    relative = Path(value)
    candidates = [root.parent / relative, root / relative]
    if len(relative.parts) > 1:
        candidates.append(root / Path(*relative.parts[1:]))
    if relative.parts and relative.parts[0] != root.name:
        candidates.insert(0, candidates.pop(1))
    return next((c for c in candidates if c.is_file()), candidates[0])


def load_chexpert(
    root: os.PathLike | str,
    split: str = "training",
    uncertain: str = "zeros",
    labels: Sequence[str] = CHEXPERT_LABELS,
    csv_file: str | None = None,
    check_files: bool = True,
) -> list[dict]:
    """MONAI items of CheXpert (Irvin et al., AAAI 2019) from the folder a user downloaded.

    CheXpert's ``train.csv`` / ``valid.csv`` have a ``Path`` column (e.g.
    ``CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg``, relative to the folder above the data
    set folder) and one column per observation: ``1`` positive, ``0`` negative, ``-1`` uncertain, blank not
    mentioned. Blank is read as 0 (negative: the labeler found no mention), as in CheXpert's own baselines;
    uncertain as ``uncertain`` says.

    Each item: ``{"image": path, "label": float32 0/1 vector in the order of labels, "label_mask": float32 vector,
    1 where the label is known, 0 where it is ignored, "image_id": the Path value}`` plus ``"sex"``, ``"age"``,
    ``"view"`` (Frontal/Lateral) and ``"projection"`` (AP/PA) when the CSV has them. No ``pixel_spacing``: the
    JPEGs and the CSVs do not state it.

    Args:
        root: the data set folder (holding ``train.csv``, ``valid.csv``, ``train/``, ``valid/``).
        split: ``"training"`` (or ``"train"``): ``train.csv``; ``"validation"`` (or ``"val"``, ``"valid"``):
            ``valid.csv``; ignored when ``csv_file`` is given.
        uncertain: ``"zeros"`` (default, U-Zeros: uncertain is negative, so ``label`` alone suits a plain BCE
            loss), ``"ones"`` (U-Ones: uncertain is positive) or ``"ignore"`` (U-Ignore: ``label`` 0 and
            ``label_mask`` 0, for a masked loss).
        labels: observation columns to read, in this order (default all 14 of :data:`CHEXPERT_LABELS`).
        csv_file: another CSV (relative to ``root`` or absolute) with the same columns, e.g. a test set's.
        check_files: raise if an image is missing.

    Raises:
        FileNotFoundError: the CSV or an image is missing (naming it and its CSV row).
        ValueError: naming the CSV, the row and the column: a missing column, an empty Path, a label value other
            than 1, 0, -1 or blank; an unknown ``split`` or ``uncertain``.
    """
    if uncertain not in UNCERTAIN_POLICIES:
        raise ValueError(f"load_chexpert: argument uncertain must be one of {UNCERTAIN_POLICIES}, got {uncertain!r}.")
    root = Path(root)
    if csv_file is None:
        text = str(split).strip().lower()
        canonical = "validation" if text == "valid" else split_name(split, "load_chexpert: argument split")
        if canonical == "test":
            raise ValueError(
                "load_chexpert: argument split: CheXpert's train.csv and valid.csv hold training and validation; "
                "got 'test': give the test set's CSV as csv_file."
            )
        csv_file = "train.csv" if canonical == "training" else "valid.csv"
    csv_path = Path(csv_file) if Path(csv_file).is_absolute() else root / csv_file
    labels = tuple(labels)
    _, rows = _read_csv(csv_path, ["Path", *labels], "CheXpert label CSV")
    uncertain_value = 1.0 if uncertain == "ones" else 0.0
    extras = {"Sex": "sex", "Age": "age", "Frontal/Lateral": "view", "AP/PA": "projection"}
    items = []
    for line, row in rows:
        where = f"{csv_path}: row {line}"
        value = (row["Path"] or "").strip()
        if not value:
            raise ValueError(f"{where}: column Path is empty.")
        where = f"{where} (Path {value!r})"
        path = _chexpert_path(root, value)
        if check_files and not path.is_file():
            raise FileNotFoundError(f"{where}: image not found: {path}")
        label = np.zeros(len(labels), dtype=np.float32)
        mask = np.ones(len(labels), dtype=np.float32)
        for i, column in enumerate(labels):
            text = (row[column] or "").strip()
            try:
                number = float(text) if text else 0.0
            except ValueError:
                number = math.nan
            if number not in (1.0, 0.0, -1.0):
                raise ValueError(
                    f"{where}: column {column}: expected 1, 0, -1 (uncertain) or blank, got {row[column]!r}."
                )
            if number == -1.0:
                label[i] = uncertain_value
                mask[i] = 0.0 if uncertain == "ignore" else 1.0
            else:
                label[i] = number
        item = {"image": str(path), "label": label, "label_mask": mask, "image_id": value}
        item.update({key: (row[column] or "").strip() for column, key in extras.items() if column in row})
        items.append(item)
    return items


def load_chest_xray_csv(
    csv_path: os.PathLike | str,
    split: str = "training",
    image_column: str = "Path",
    labels: Sequence[str] = CHEST_XRAY_LABELS,
    check_files: bool = True,
) -> list[dict]:
    """MONAI items of one split of a ``labels.csv`` in the layout of the synthetic chest radiographs.

    The layout is that of :func:`~monai_afpe.data.synthetic.generate_chest_xray`. The CSV has the columns ``Image``,
    ``Path`` (DICOM file), ``PNG`` (PNG export), ``Split``, ``PixelSpacingRow``
    and ``PixelSpacingColumn`` (mm, the pixel size of the PNG) and one 0/1 column per label; paths are relative to
    the CSV's folder (or absolute). Each item: ``{"image": path, "label": float32 0/1 vector in the order of
    labels, "image_id": the Image value}``, and for ``image_column="PNG"`` also ``"pixel_spacing"``: ``(row,
    column)`` mm from the CSV. DICOM items carry no ``pixel_spacing``: the reader takes it from the file
    (:func:`~monai_afpe.data.readers.projection_pixel_spacing`).

    Args:
        csv_path: the ``labels.csv``.
        split: ``"training"``, ``"validation"`` or ``"test"`` (or ``"train"``, ``"val"``; any case); the ``Split``
            column uses the same names.
        image_column: ``"Path"`` (DICOM) or ``"PNG"`` (:data:`CHEST_XRAY_IMAGE_COLUMNS`).
        labels: label columns to read, in this order (default :data:`~monai_afpe.data.synthetic.CHEST_XRAY_LABELS`).
        check_files: raise if an image is missing.

    Raises:
        FileNotFoundError: the CSV or an image is missing (naming the CSV row).
        ValueError: naming the CSV, the row and the column: a missing column, an empty image path, an unknown split
            name, a label value other than 0 / 1, a pixel size that is not a number > 0; an unknown ``image_column``.

    Example::

        items = load_chest_xray_csv("data/labels.csv", split="validation", image_column="PNG")
    """
    if image_column not in CHEST_XRAY_IMAGE_COLUMNS:
        raise ValueError(
            f"load_chest_xray_csv: argument image_column must be one of {CHEST_XRAY_IMAGE_COLUMNS}, "
            f"got {image_column!r}."
        )
    canonical = split_name(split, "load_chest_xray_csv: argument split")
    csv_path = Path(csv_path)
    labels = tuple(labels)
    spacing_columns = ("PixelSpacingRow", "PixelSpacingColumn") if image_column == "PNG" else ()
    needed = ["Image", image_column, "Split", *spacing_columns, *labels]
    _, rows = _read_csv(csv_path, needed, "chest X-ray label CSV")
    items = []
    for line, row in rows:
        where = f"{csv_path}: row {line}"
        row_split = split_name(row["Split"], f"{where}: column Split")
        if row_split != canonical:
            continue
        value = (row[image_column] or "").strip()
        if not value:
            raise ValueError(f"{where}: column {image_column} is empty.")
        where = f"{where} ({image_column} {value!r})"
        path = Path(value) if Path(value).is_absolute() else csv_path.parent / value
        if check_files and not path.is_file():
            raise FileNotFoundError(f"{where}: image not found: {path}")
        label = np.array([_binary_label(row, column, where) for column in labels], dtype=np.float32)
        item = {"image": str(path), "label": label, "image_id": (row["Image"] or "").strip()}
        if spacing_columns:
            item["pixel_spacing"] = tuple(_number(where, column, row[column]) for column in spacing_columns)
        items.append(item)
    return items
