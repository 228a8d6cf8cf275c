"""Medical Segmentation Decathlon / BTCV ``dataset.json`` files as MONAI items, with checked paths.

Reading is MONAI's :func:`monai.data.load_decathlon_datalist`; this adapter adds what a training run
needs on top of it: a validation split when the file has none (the Decathlon's own files list only
``training`` and unlabelled ``test`` images), either a seeded random fraction of ``training`` or the
items of one cross-validation ``fold``; an empty ``test`` list (which MONAI cannot read); and a check
that every listed file exists, with an error naming the JSON, the list, the item and the path.
The synthetic :func:`~monai_afpe.data.synthetic.generate_ct_segmentation` writes the same format.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from monai.data import load_decathlon_datalist, partition_dataset

from monai_afpe.data.splits import split_name

__all__ = ["DECATHLON_SPLITS", "load_decathlon"]

#: lists of a Decathlon-style ``dataset.json`` (the canonical :data:`~monai_afpe.data.SPLIT_NAMES`)
DECATHLON_SPLITS = ("training", "validation", "test")


def load_decathlon(
    dataset_json: os.PathLike | str,
    split: str = "training",
    base_dir: os.PathLike | str | None = None,
    validation_fraction: float = 0.0,
    fold: int | None = None,
    seed: int = 0,
    check_files: bool = True,
) -> list[dict]:
    """Items ``{"image": path, "label": path, ...}`` of one list of a Decathlon-style ``dataset.json``.

    Args:
        dataset_json: the JSON file (``dataset.json`` of a Decathlon task, BTCV's ``dataset_0.json``, ...).
        split: ``"training"``, ``"validation"`` or ``"test"`` (or an alias: ``"train"``, ``"val"``; any case).
        base_dir: folder the paths are relative to (None: the JSON's folder).
        validation_fraction: for a file without a ``validation`` list, hold out this fraction of
            ``training`` (seeded shuffle): ``"validation"`` returns it and ``"training"`` the rest.
        fold: for a file without a ``validation`` list whose training items carry a ``fold`` key:
            ``"validation"`` returns the items of this fold and ``"training"`` the others.
        seed: seed of the ``validation_fraction`` shuffle.
        check_files: raise if an image or label file of the list read is missing.

    Raises:
        FileNotFoundError: the JSON, or a listed file (naming the JSON, list, item index, key and path).
        ValueError: an unknown ``split``; ``validation`` requested from a file without that list and
            without ``validation_fraction`` or ``fold``; a hold-out asked of a file that has one.
    """
    split = split_name(split, "load_decathlon: argument split")
    dataset_json = Path(dataset_json)
    if not dataset_json.is_file():
        raise FileNotFoundError(f"Decathlon dataset file not found: {dataset_json}")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in [0, 1), got {validation_fraction!r}.")
    if validation_fraction and fold is not None:
        raise ValueError("give either validation_fraction or fold, not both.")
    content = json.loads(dataset_json.read_text())
    hold_out = bool(validation_fraction) or fold is not None
    if hold_out and "validation" in content:
        raise ValueError(
            f"{dataset_json} already has a 'validation' list; validation_fraction / fold would split 'training' again."
        )
    if split == "validation" and "validation" not in content and not hold_out:
        raise ValueError(
            f"{dataset_json} has no 'validation' list (it has {sorted(k for k in content if k in DECATHLON_SPLITS)}); "
            "give validation_fraction or fold to hold out part of 'training'."
        )
    source = "training" if split == "validation" and hold_out else split
    if source not in content:
        raise ValueError(f"{dataset_json} has no {source!r} list.")
    items = (
        load_decathlon_datalist(dataset_json, is_segmentation=True, data_list_key=source, base_dir=base_dir)
        if content[source]
        else []
    )
    if check_files:
        for index, item in enumerate(items):
            for key in ("image", "label"):
                paths = item.get(key)
                for path in paths if isinstance(paths, list) else [paths]:
                    if isinstance(path, str) and not os.path.exists(path):
                        raise FileNotFoundError(f"{dataset_json}: {source}[{index}] {key}: file not found: {path}")
    if hold_out and split != "test":
        if fold is not None:
            unfolded = [i for i, item in enumerate(items) if "fold" not in item]
            if unfolded:
                raise ValueError(f"{dataset_json}: training items {unfolded[:5]} have no 'fold' key; fold={fold}.")
            keep = [item for item in items if (item["fold"] == fold) == (split == "validation")]
        else:
            train, val = partition_dataset(
                items, ratios=[1.0 - validation_fraction, validation_fraction], shuffle=True, seed=seed
            )
            keep = val if split == "validation" else train
        items = keep
    return items
