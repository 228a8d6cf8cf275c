"""EchoNet-Dynamic: ``FileList.csv`` + ``Videos/`` as MONAI items (test-time averaging: ``ClipAveragingInferer``).

EchoNet-Dynamic (and :func:`~monai_afpe.data.synthetic.generate_echo`) stores one AVI per echo in
``Videos/`` and one row per video in ``FileList.csv`` (``FileName``, ``EF``, ``ESV``, ``EDV``,
``FrameHeight``, ``FrameWidth``, ``FPS``, ``NumberOfFrames``, ``Split``). A pipeline for the video
ViT of arXiv 2509.02488 (16 frames at period 4)::

    items = load_echonet_datalist(root, split="train")
    train = Compose([
        LoadImaged("image", reader=VideoReader(pixel_spacing=..., grayscale=True)),
        ScaleIntensityRanged("image", 0, 255, 0, 1),
        SampleClipd("image", frames=16, period=4),                 # one random clip
    ])
    test = ... SampleClipd("image", frames=16, period=4, mode="all")  # every clip
    evaluator = SupervisedEvaluator(..., inferer=monai_afpe.inferers.ClipAveragingInferer(clip_batch_size=32))

Test predictions are the mean over all clips of a video (EchoNet-Dynamic's protocol), not one
random clip. AVI files carry the frame rate but no pixel size; the synthetic data adds a
``PixelSpacing`` column (mm), passed on as ``"pixel_spacing"`` in the items.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from monai.utils import look_up_option

from monai_afpe.data.splits import split_name

__all__ = [
    "ECHONET_COLUMNS",
    "ECHONET_SPLITS",
    "ECHONET_TARGETS",
    "read_echonet_file_list",
    "load_echonet_datalist",
]

#: columns every EchoNet-Dynamic FileList.csv has
ECHONET_COLUMNS = ("FileName", "EF", "ESV", "EDV", "FrameHeight", "FrameWidth", "FPS", "NumberOfFrames", "Split")
#: split names of EchoNet-Dynamic (the ``Split`` column holds them in upper case); ``"all"`` selects every
#: row. Split values and arguments are read with :func:`~monai_afpe.data.split_name`, so the canonical
#: ``training`` / ``validation`` / ``test`` of the other adapters select the same rows.
ECHONET_SPLITS = ("train", "val", "test", "all")
#: columns that can serve as the regression target
ECHONET_TARGETS = ("EF", "EDV", "ESV")


def _number(csv_path: Path, line: int, row: dict, column: str, kind: type) -> float | int:
    value = row[column]
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not math.isfinite(number):
        raise ValueError(
            f"{csv_path}: row {line} (FileName {row.get('FileName')!r}): column {column}: expected "
            f"{'an integer' if kind is int else 'a finite number'}, got {value!r}."
        )
    return number


def read_echonet_file_list(csv_path: os.PathLike | str) -> list[dict]:
    """Rows of an EchoNet-Dynamic ``FileList.csv``, validated and typed.

    Each row becomes a dict with ``FileName`` (str), ``EF``, ``ESV``, ``EDV``, ``FPS`` (float),
    ``FrameHeight``, ``FrameWidth``, ``NumberOfFrames`` (int), ``Split`` (upper case) and, when
    present, ``PixelSpacing`` (float, mm); other columns are kept as strings.
    The file is read as UTF-8; a byte-order mark (Excel's "CSV UTF-8") is accepted.

    Raises:
        FileNotFoundError: the CSV does not exist.
        ValueError: naming the CSV, the row (line number) and the column: a missing column, an empty
            file name, a value that is not a number, a split name outside the shared vocabulary
            (:func:`~monai_afpe.data.split_name`).
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"EchoNet file list not found: {csv_path}")
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ECHONET_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{csv_path}: columns {missing} are missing; found {reader.fieldnames}.")
        rows = []
        for line, row in enumerate(reader, start=2):
            if not (row["FileName"] or "").strip():
                raise ValueError(f"{csv_path}: row {line}: column FileName is empty.")
            typed = dict(row, FileName=row["FileName"].strip(), Split=(row["Split"] or "").strip().upper())
            for column in ("EF", "ESV", "EDV", "FPS"):
                typed[column] = _number(csv_path, line, row, column, float)
            for column in ("FrameHeight", "FrameWidth", "NumberOfFrames"):
                typed[column] = _number(csv_path, line, row, column, int)
            if "PixelSpacing" in row:
                typed["PixelSpacing"] = _number(csv_path, line, row, "PixelSpacing", float)
            split_name(row["Split"], f"{csv_path}: row {line} (FileName {typed['FileName']!r}): column Split")
            rows.append(typed)
    return rows


def load_echonet_datalist(
    root: os.PathLike | str,
    split: str = "train",
    target: str = "EF",
    file_list: str = "FileList.csv",
    video_dir: str = "Videos",
    check_files: bool = True,
) -> list[dict]:
    """MONAI items of one EchoNet-Dynamic split.

    Each item: ``{"image": <path to the AVI>, "label": <target>, "file_name", "fps", "num_frames"}``
    plus ``"pixel_spacing"`` (mm) when the file list has a ``PixelSpacing`` column. A ``FileName``
    without a suffix gets ``.avi`` (EchoNet-Dynamic lists names without it).

    Args:
        root: folder holding ``file_list`` and ``video_dir``.
        split: ``"train"`` / ``"training"``, ``"val"`` / ``"validation"``, ``"test"`` or ``"all"``
            (case-insensitive; see :func:`~monai_afpe.data.split_name`).
        target: ``"EF"`` (%), ``"EDV"`` or ``"ESV"`` (mL).
        file_list: name of the CSV inside ``root``.
        video_dir: folder of the videos inside ``root``.
        check_files: raise if a listed video is missing.

    Raises:
        FileNotFoundError: naming the CSV row and the missing video (with ``check_files``).
        ValueError: see :func:`read_echonet_file_list`; an unknown ``split`` or ``target``.
    """
    split = "all" if str(split).strip().lower() == "all" else split_name(split, "load_echonet_datalist: argument split")
    target = look_up_option(target, ECHONET_TARGETS)
    root = Path(root)
    csv_path = root / file_list
    items = []
    for line, row in enumerate(read_echonet_file_list(csv_path), start=2):
        if split != "all" and split_name(row["Split"]) != split:
            continue
        name = row["FileName"]
        video = root / video_dir / (name if Path(name).suffix else f"{name}.avi")
        if check_files and not video.is_file():
            raise FileNotFoundError(f"{csv_path}: row {line} (FileName {name!r}): video not found: {video}")
        item = {
            "image": str(video),
            "label": row[target],
            "file_name": name,
            "fps": row["FPS"],
            "num_frames": row["NumberOfFrames"],
        }
        if "PixelSpacing" in row:
            item["pixel_spacing"] = row["PixelSpacing"]
        items.append(item)
    return items
