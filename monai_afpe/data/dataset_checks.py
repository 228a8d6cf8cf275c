"""Check a data set's items before training or inference: every file readable, every label in the class set.

Without a check, one truncated ``.nii.gz`` among thousands stops a training run at its first batch
with a gzip ``EOFError`` that names no file, a class index out of range fails inside the loss, and an
inference run writes no prediction at all. :func:`check_dataset` reads every item once, with the
readers the pipeline will use (MONAI's ``LoadImage`` choice of reader), before anything is trained,
and names the file or list entry, the field and what was expected when something is wrong.

Two kinds of problems are told apart:

- the *list* is wrong (an item without its image key, a file that does not exist, a class index
  outside the class set): always an error, whatever the policy, because it means the data list or CSV
  must be fixed;
- a *file* cannot be used (it cannot be read or decoded, a label image holds values outside the class
  set, a video decodes to another number of frames than the data list says): the ``policy`` decides.
  ``"fail"`` (the default) raises at the first such file; ``"skip"`` leaves the item out, writes every
  skipped item and its reason to ``data_report_<name>.csv`` in ``report_dir`` and warns with a
  :class:`DatasetCheckWarning`.

An empty list, or one whose items were all skipped, is an error: a run without training or validation
data ends without a model, and an inference run without input writes nothing.

Example (the bundles call it through :meth:`monai_afpe.data.BundleData.split`)::

    items = check_dataset(load_hospital_folder("my_ct", split="training", classes=6), "training",
        reader=NiftiReader, label_key="label", label_type="class", classes=6, policy="fail",
        report_dir="eval", source="my_ct/labels.csv")
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch.distributed as dist
from monai.data import ImageReader
from monai.transforms import LoadImage
from monai.utils import MetaKeys, ensure_tuple, look_up_option

from monai_afpe.data.readers.validation import SourceFieldError
from monai_afpe.data.readers.video import FRAME_COUNT_MISMATCH
from monai_afpe.data.splits import SPLIT_NAMES, allowed_split_names

__all__ = [
    "DATA_POLICIES",
    "LABEL_KINDS",
    "REPORT_COLUMNS",
    "DatasetCheckError",
    "DatasetCheckWarning",
    "SkippedItem",
    "check_dataset",
    "data_report_path",
]

DATA_POLICIES = ("fail", "skip")
"""What :func:`check_dataset` does with an item whose file cannot be used: raise, or leave it out and report it."""

LABEL_KINDS = ("class", "value", "path", "multilabel")
"""What an item's label is: class index (or indices), a number (not checked), the path of a label image, or a 0/1
vector with one entry per label (multi-label classification)."""

REPORT_COLUMNS = ("split", "index", "key", "file", "problem")
"""Columns of the skip report: the checked list's name, the item's index in it, the item key, the file, the reason."""


class DatasetCheckError(SourceFieldError):
    """An item of a data set that cannot be used, or a data list that cannot be trained or inferred on:
    ``"<source>: <field>: <problem>"`` with the file (or the list and item), the item key or field, and what
    is wrong and what was expected."""


class DatasetCheckWarning(UserWarning):
    """Items were skipped (``policy="skip"``), or a video's frame count differs from its data list's (``"warn"``)."""


@dataclass(frozen=True)
class SkippedItem:
    """One row of the skip report.

    Args:
        index: the item's position in the checked list.
        key: the item key whose file could not be used.
        file: that file.
        problem: why, with the field (``"cannot be read: EOFError: ..."``).
    """

    index: int
    key: str
    file: str
    problem: str


def data_report_path(report_dir: os.PathLike | str, name: str) -> Path:
    """``<report_dir>/data_report_<name>.csv``: where :func:`check_dataset` lists the items it skipped."""
    return Path(report_dir) / f"data_report_{name}.csv"


def _format_set(values: Sequence[int]) -> str:
    values = sorted(values)
    if len(values) > 12 and values == list(range(values[0], values[-1] + 1)):
        return f"{{{values[0]}, {values[1]}, ..., {values[-1]}}}"
    return "{" + ", ".join(str(v) for v in values) + "}"


def _format_numbers(values: Sequence[float], limit: int = 10) -> str:
    text = ", ".join(f"{v:g}" for v in values[:limit])
    return text + (f", ... ({len(values)} values)" if len(values) > limit else "")


def _outside(values: np.ndarray, allowed: frozenset[int]) -> list[float]:
    """The distinct values of ``values`` that are not one of the ``allowed`` integers."""
    distinct = np.unique(np.asarray(values).reshape(-1))
    return [float(v) for v in distinct if not (np.isfinite(v) and float(v).is_integer() and int(v) in allowed)]


def _first_line(error: BaseException, path: str) -> str:
    """``"EOFError: Compressed file ended ..."``: the error's type and first line, without a leading ``"<path>: "``."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else "(no message)"
    if text.startswith(f"{path}: "):
        text = text[len(path) + 2 :]
    return f"{type(error).__name__}: {text}"


class _FileReader:
    """Decode a file as ``LoadImage(reader=...)`` would: the same readers, tried in the same order."""

    def __init__(self, reader: ImageReader | str | type | Sequence | None):
        self.loader = LoadImage(reader=reader, image_only=True)

    def __call__(self, path: str) -> tuple[np.ndarray, dict]:
        readers = self.loader.readers[::-1]
        matching = [r for r in readers if r.verify_suffix(path)]
        order = matching[:1] if self.loader.auto_select else matching + [r for r in readers if r not in matching]
        if not order:
            names = ", ".join(type(r).__name__ for r in readers)
            raise ValueError(f"no reader for this file type (readers: {names})")
        first_error: Exception | None = None
        for reader in order:
            try:
                data = reader.read(path)
            except Exception as error:  # noqa: BLE001 - as LoadImage, try the next reader
                first_error = first_error or error
                continue
            array, meta = reader.get_data(data)
            return np.asarray(array), meta
        raise first_error  # type: ignore[misc]


def _frame_count(array: np.ndarray, meta: Mapping) -> int:
    """Length of the first spatial axis (time, for a ``(C, T, H, W)`` video), after dropping the channel axis."""
    shape = list(np.shape(array))
    channel = meta.get(MetaKeys.ORIGINAL_CHANNEL_DIM)
    if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool) and len(shape) > 1:
        del shape[int(channel)]
    return int(shape[0]) if shape else 0


def _paths(value: object) -> list[str]:
    return [str(v) for v in ensure_tuple(value)] if isinstance(value, (list, tuple)) else [str(value)]


def _is_rank_zero() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _check_listing(
    item: Mapping,
    where: str,
    file_keys: Sequence[str],
    label_key: str | None,
    label_type: str,
    allowed: frozenset[int] | None,
) -> None:
    """Raise if the item lacks a key, names a missing file, or has a class label outside ``allowed``."""
    for key in file_keys:
        if item.get(key) in (None, ""):
            raise DatasetCheckError(where, key, f"missing; the item has {sorted(item)}")
        for path in _paths(item[key]):
            if not os.path.exists(path):
                raise DatasetCheckError(path, f"{key} ({where})", "file not found")
    if label_key is None or label_type not in ("class", "multilabel"):
        return
    if label_key not in item:
        raise DatasetCheckError(where, label_key, f"missing; the item has {sorted(item)}")
    if allowed is None:
        return
    named = f"{where} ({item.get(file_keys[0])})"
    if label_type == "multilabel":
        try:
            vector = np.asarray(item[label_key], dtype=np.float64).ravel()
        except (TypeError, ValueError):
            vector = None
        if vector is None or vector.size != len(allowed) or not np.isin(vector, (0.0, 1.0)).all():
            problem = f"expected {len(allowed)} labels of 0 or 1 (one per label name), got {item[label_key]!r}"
            raise DatasetCheckError(named, label_key, problem)
        return
    try:
        values = np.asarray(item[label_key], dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetCheckError(named, label_key, f"expected a class index, got {item[label_key]!r}") from None
    outside = _outside(values, allowed)
    if outside:
        problem = f"class index {_format_numbers(outside)} is outside the class set {_format_set(allowed)}"
        raise DatasetCheckError(named, label_key, problem)


def _check_files(
    item: Mapping,
    where: str,
    read: _FileReader,
    file_keys: Sequence[str],
    label_key: str | None,
    allowed: frozenset[int] | None,
    frames_key: str | None,
    frame_count_mismatch: str,
) -> tuple[str, DatasetCheckError] | None:
    """Decode the item's files; the first problem as ``(key, error)``, or None when every file can be used."""
    for key in file_keys:
        for path in _paths(item[key]):
            field = f"{key} ({where})"
            try:
                array, meta = read(path)
            except Exception as error:  # noqa: BLE001 - any reader failure makes the item unusable
                return key, DatasetCheckError(path, field, f"cannot be read: {_first_line(error, path)}")
            if key == label_key and allowed is not None:
                outside = _outside(array, allowed)
                if outside:
                    problem = f"values {_format_numbers(outside)} are outside the class set {_format_set(allowed)}"
                    return key, DatasetCheckError(path, field, problem)
            if frames_key is None or key != file_keys[0] or item.get(frames_key) is None:
                continue
            decoded, listed = _frame_count(array, meta), int(item[frames_key])
            if decoded != listed:
                text = f"frames: decoded {decoded}, data list {listed} ({frames_key})"
                if frame_count_mismatch == "error":
                    return key, DatasetCheckError(path, field, f"{text}: the file is truncated or the list is wrong")
                warnings.warn(f"{path}: {field}: {text}; using the decoded frames", DatasetCheckWarning, stacklevel=3)
    return None


def check_dataset(
    items: Sequence[Mapping],
    name: str = "data",
    reader: ImageReader | str | type | Sequence | None = None,
    image_keys: Sequence[str] | str = "image",
    label_key: str | None = None,
    label_type: str = "class",
    classes: int | Sequence[int] | None = None,
    frames_key: str | None = None,
    frame_count_mismatch: str = "error",
    policy: str = "fail",
    report_dir: os.PathLike | str | None = None,
    source: os.PathLike | str | None = None,
) -> list[dict]:
    """Read every item of a data list once and return the items that can be used.

    For each item, in order: each of ``image_keys`` (and the label, for ``label_type="path"``) must be
    present and name existing files, a class label must lie in ``classes`` (list problems: always an
    error); then each file is decoded with ``reader`` (as ``LoadImage(reader=reader)`` does), a label
    image's values must lie in ``classes``, and a video's decoded frame count must equal
    ``item[frames_key]`` (file problems: ``policy``).

    Args:
        items: the data list (dicts; paths absolute or relative to the working folder).
        name: the list's name (``"training"``, ``"validation"``, ``"test"``, ``"inference"``), for the
            messages and the report's file name.
        reader: the reader(s) the pipeline's ``LoadImage`` uses (instances, classes or names); None:
            MONAI's choice by suffix.
        image_keys: item keys holding an image path (or a list of paths, one per channel).
        label_key: item key of the label; None: no label check.
        label_type: ``"class"`` (a class index, or several, checked against ``classes``), ``"value"``
            (a number, not checked), ``"path"`` (a label image, read and its values checked) or
            ``"multilabel"`` (a 0/1 vector of ``classes`` entries, one per label).
        classes: the class set: a number of classes ``n`` (indices ``0..n-1``) or the allowed values;
            for ``"multilabel"`` the number of labels; None: labels are not checked.
        frames_key: item key of the frame count the data list gives (EchoNet's ``NumberOfFrames``);
            None: not checked. The container's own declared count is checked by
            :class:`~monai_afpe.data.readers.VideoReader`.
        frame_count_mismatch: ``"error"`` (a file problem, see ``policy``) or ``"warn"`` (a
            :class:`DatasetCheckWarning`; the item is kept) for a decoded frame count that differs from
            ``item[frames_key]``.
        policy: ``"fail"``: raise at the first file that cannot be used; ``"skip"``: leave such items
            out, list them in ``data_report_<name>.csv`` in ``report_dir`` and warn.
        report_dir: folder of the skip report (created if needed; only rank 0 writes it under
            ``torch.distributed``). Required with ``policy="skip"``.
        source: the data list's file (datalist, ``dataset.json``, CSV), for the messages.

    Returns:
        The items that passed, in their order (the same dict objects).

    Raises:
        DatasetCheckError: the list is empty; an item lacks a key or names a missing file; a class
            label is outside ``classes``; a multi-label vector has another length or a value other than
            0 / 1; with ``policy="fail"``, a file cannot be read or decoded, a
            label image holds values outside ``classes``, or a frame count differs; with
            ``policy="skip"``, every item was skipped.
        ValueError: an unknown ``policy``, ``label_type`` or ``frame_count_mismatch``, or
            ``policy="skip"`` without ``report_dir``.
    """
    policy = look_up_option(policy, DATA_POLICIES)
    label_type = look_up_option(label_type, LABEL_KINDS)
    frame_count_mismatch = look_up_option(frame_count_mismatch, FRAME_COUNT_MISMATCH)
    if policy == "skip" and report_dir is None:
        raise ValueError("check_dataset: policy='skip' needs report_dir, the folder of the skip report.")
    image_keys = list(ensure_tuple(image_keys))
    allowed = None
    if classes is not None:
        allowed = frozenset(range(classes)) if isinstance(classes, (int, np.integer)) else frozenset(map(int, classes))
    of_source = f" of {source}" if source is not None else ""
    items = list(items)
    if not items:
        hint = f" (split names: {allowed_split_names()})" if name in SPLIT_NAMES else ""
        where = source if source is not None else f"{name} data list"
        raise DatasetCheckError(where, f"{name} split", f"empty; expected at least one item{hint}")
    file_keys = image_keys + ([label_key] if label_key is not None and label_type == "path" else [])

    # list problems: always errors, and found before any file is decoded
    for index, item in enumerate(items):
        _check_listing(item, f"{name} item {index}{of_source}", file_keys, label_key, label_type, allowed)

    # file problems: the policy decides
    read = _FileReader(reader)
    kept: list[dict] = []
    skipped: list[SkippedItem] = []
    for index, item in enumerate(items):
        where = f"{name} item {index}{of_source}"
        found = _check_files(item, where, read, file_keys, label_key, allowed, frames_key, frame_count_mismatch)
        if found is None:
            kept.append(item)  # type: ignore[arg-type]
        elif policy == "fail":
            raise found[1]
        else:
            key, problem = found
            skipped.append(SkippedItem(index, key, problem.source, problem.problem))

    if policy == "skip":
        report = data_report_path(report_dir, name)  # type: ignore[arg-type]
        if _is_rank_zero():
            report.parent.mkdir(parents=True, exist_ok=True)
            with open(report, "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(REPORT_COLUMNS)
                writer.writerows([name, s.index, s.key, s.file, s.problem] for s in skipped)
        if skipped:
            first = skipped[0]
            message = (
                f"{name}: skipped {len(skipped)} of {len(items)} items whose files cannot be used "
                f"(first: {first.file}: {first.problem}); all are listed in {report}"
            )
            if not kept:
                where = source if source is not None else f"{name} data list"
                raise DatasetCheckError(where, f"{name} split", message)
            warnings.warn(message, DatasetCheckWarning, stacklevel=2)
    return kept
