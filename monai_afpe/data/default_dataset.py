"""The bundles' offline default: use the data set in ``dataset_dir``, or generate the synthetic one there.

A bundle config calls ``$monai_afpe.data.ensure_dataset(@dataset_dir, 'organ-shapes')`` and gets the
path of the index file (datalist / dataset.json / FileList.csv) to read. A folder that already holds
that index file is used as it is (a user's converted data or an earlier generation); an empty or
missing folder receives the seeded synthetic data set; a folder with other files is refused rather
than written into. Under ``torch.distributed`` only rank 0 generates, the others wait for it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch.distributed as dist
from monai.utils import look_up_option

from monai_afpe.data.synthetic import generate_ct_segmentation, generate_echo, generate_organ_shapes

__all__ = ["SYNTHETIC_DATASETS", "ensure_dataset"]

# data-set name -> (generator, index file it writes)
SYNTHETIC_DATASETS = {
    "organ-shapes": (generate_organ_shapes, "datalist.json"),
    "ct-segmentation": (generate_ct_segmentation, "dataset.json"),
    "echo": (generate_echo, "FileList.csv"),
}

logger = logging.getLogger(__name__)


def ensure_dataset(dataset_dir: os.PathLike | str, name: str, seed: int = 0, **options) -> Path:
    """Return the index file of the data set in ``dataset_dir``, generating the synthetic one if the folder is empty.

    Args:
        dataset_dir: the bundle's data folder.
        name: ``"organ-shapes"``, ``"ct-segmentation"`` or ``"echo"``.
        seed: seed of the generation (only used when generating).
        options: further arguments of the generator (``num_samples``, ``spatial_size``, ...).

    Raises:
        ValueError: ``dataset_dir`` holds files but not the index file of ``name``.
    """
    generator, index_name = look_up_option(name, SYNTHETIC_DATASETS)
    folder = Path(dataset_dir)
    index = folder / index_name
    distributed = dist.is_available() and dist.is_initialized()
    if distributed and dist.get_rank() != 0:
        dist.barrier()
        return index
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
    if distributed:
        dist.barrier()
    return index
