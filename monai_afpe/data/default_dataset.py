"""The bundles' offline default: use the data set in ``dataset_dir``, or generate the synthetic one there.

A bundle (through :class:`~monai_afpe.data.BundleData`) calls ``ensure_dataset(dataset_dir, 'organ-shapes')``
and gets the path of the index file (datalist / dataset.json / FileList.csv) to read. A folder that already holds
that index file is used as it is (a user's converted data or an earlier generation); an empty or
missing folder receives the seeded synthetic data set; a folder with other files is refused rather
than written into. Under ``torch.distributed`` only rank 0 generates, the others wait for it.

A generated folder records how it was generated (``generation.json``: data set, seed and generator options).
Asking for other options later (a tiny trial, then the main run with more samples) is not ignored in
silence: it warns, naming what differs, and keeps the existing data unless ``regenerate=True`` (bundles:
``--regenerate_data true``), which replaces a folder this function generated and refuses to touch any other.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch.distributed as dist
from monai.utils import look_up_option

from monai_afpe.data.synthetic import (
    generate_chest_xray,
    generate_ct_segmentation,
    generate_echo,
    generate_organ_shapes,
)
from monai_afpe.validation import check_flag

__all__ = ["SYNTHETIC_DATASETS", "GENERATION_RECORD", "DatasetOptionsWarning", "generation_record", "ensure_dataset"]

# data-set name -> (generator, index file it writes)
SYNTHETIC_DATASETS = {
    "organ-shapes": (generate_organ_shapes, "datalist.json"),
    "ct-segmentation": (generate_ct_segmentation, "dataset.json"),
    "echo": (generate_echo, "FileList.csv"),
    "chest-xray": (generate_chest_xray, "labels.csv"),
}

GENERATION_RECORD = "generation.json"
"""The file of a generated folder that records the data set, seed and generator options."""
_NOT_CONTENT = ("progress",)  # options that do not change the generated data

logger = logging.getLogger(__name__)


class DatasetOptionsWarning(UserWarning):
    """An existing generated data set differs from the generation options asked for; it is used as it is."""


def generation_record(name: str, seed: int, options: Mapping) -> dict:
    """What a generation is identified by: the data set, the seed and the options that change the data
    (as JSON values: tuples become lists)."""
    content = {k: v for k, v in options.items() if k not in _NOT_CONTENT}
    return json.loads(json.dumps({"dataset": name, "seed": seed, "options": content}, sort_keys=True, default=list))


def _flat(record: Mapping) -> dict:
    return {"dataset": record.get("dataset"), "seed": record.get("seed"), **record.get("options", {})}


def _differences(recorded: Mapping, requested: Mapping) -> list[str]:
    """``"key old -> new"`` for every option that differs between two generation records."""
    old, new = _flat(recorded), _flat(requested)
    keys = sorted(old.keys() | new.keys())
    return [f"{k} {old.get(k, '(default)')!r} -> {new.get(k, '(default)')!r}" for k in keys if old.get(k) != new.get(k)]


def ensure_dataset(
    dataset_dir: os.PathLike | str, name: str, seed: int = 0, regenerate: bool = False, **options
) -> Path:
    """Return the index file of the data set in ``dataset_dir``, generating the synthetic one if the folder is empty.

    Args:
        dataset_dir: the bundle's data folder.
        name: ``"organ-shapes"``, ``"ct-segmentation"``, ``"echo"`` or ``"chest-xray"``.
        seed: seed of the generation (only used when generating).
        regenerate: when the folder holds a data set this function generated with other options, delete it
            and generate the one asked for (otherwise it is kept, with a :class:`DatasetOptionsWarning`).
        options: further arguments of the generator (``num_samples``, ``spatial_size``, ...).

    Raises:
        ValueError: ``dataset_dir`` holds files but not the index file of ``name``; ``regenerate`` on a folder
            that was not generated here (no ``generation.json``).
    """
    regenerate = check_flag(regenerate, "regenerate")
    generator, index_name = look_up_option(name, SYNTHETIC_DATASETS)
    folder = Path(dataset_dir)
    index = folder / index_name
    distributed = dist.is_available() and dist.is_initialized()
    if distributed and dist.get_rank() != 0:
        dist.barrier()
        return index
    requested = generation_record(name, seed, options)
    record_file = folder / GENERATION_RECORD
    if index.is_file() and record_file.is_file():
        differences = _differences(json.loads(record_file.read_text()), requested)
        if differences and regenerate:
            logger.warning(f"{folder}: regenerating the {name} data set ({'; '.join(differences)})")
            shutil.rmtree(folder)
        elif differences:
            warnings.warn(
                f"{folder}: the data set there was generated with other options than asked for "
                f"({'; '.join(differences)}); using it as it is. Give regenerate=True (bundles: --regenerate_data "
                "true) to generate the one asked for, or another dataset_dir.",
                DatasetOptionsWarning,
                stacklevel=2,
            )
    elif index.is_file() and regenerate:
        raise ValueError(
            f"{folder}: regenerate asked, but the folder has no {GENERATION_RECORD}: it was not generated by "
            "monai_afpe (or predates the record), so it is not deleted; remove it yourself or use another dataset_dir."
        )
    if index.is_file():
        logger.info(f"using the data set at {index}")
    elif folder.is_dir() and any(folder.iterdir()):
        raise ValueError(
            f"{folder}: dataset_dir holds files but no {index_name}; point dataset_dir at a folder with a {index_name} "
            f"(see the bundle's docs/README.md for converting your data) or at an empty folder for the synthetic default."
        )
    else:
        logger.warning(f"{folder} holds no data: generating the synthetic {name} data set there (seed {seed})")
        index = generator(folder, seed=seed, **options)
        record_file.write_text(json.dumps(requested, indent=2, sort_keys=True) + "\n")
    if distributed:
        dist.barrier()
    return index
