"""OrganMNIST3D (MedMNIST) ``.npz`` files with the stride-anisotropy protocol of arXiv 2509.02488.

MedMNIST stores each split as ``{split}_images`` (N, D, D, D) uint8 (D = 28 or 64) and
``{split}_labels`` (N, 1). The paper simulates anisotropic acquisition by keeping every k-th slice of
the last axis (``anisotropy = k``), without resampling; optionally the kept slices are resampled back
to the original slice spacing (linear interpolation with :class:`monai.transforms.Spacing`), which
gives ``(n_kept - 1) k + 1`` slices — the original positions spanned by the kept slices.

MedMNIST volumes have no physical voxel size; ``spacing`` (default 1, nominal mm) stands for the
isotropic source voxel, so the kept volume has spacing ``(s, s, k s)``.

Two forms, for two uses:

- :func:`load_organmnist3d` returns items with the image in memory as a
  :class:`~monai.data.MetaTensor` whose affine carries the spacing: no copy on disk, fast for notebooks
  and experiments that start from arrays (skip ``LoadImaged``).
- :func:`export_organmnist3d` writes NIfTI files and a datalist in the same layout as the synthetic
  organ-shapes data set, so that a bundle that reads files with ``LoadImaged`` trains on OrganMNIST3D
  by pointing ``dataset_dir`` at the export — the exact path a user's own data takes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Spacing
from monai.utils import look_up_option
from tqdm.auto import tqdm

from monai_afpe import __version__
from monai_afpe.data.synthetic.writers import SPLIT_KEYS, spacing_affine, write_json, write_nifti
from monai_afpe.validation import check_positive_int, check_positive_number

__all__ = [
    "ORGANMNIST3D_CLASS_NAMES",
    "MEDMNIST_SPLITS",
    "read_medmnist_split",
    "stride_anisotropy",
    "load_organmnist3d",
    "export_organmnist3d",
]

#: OrganMNIST3D class index -> organ (MedMNIST ``INFO["organmnist3d"]["label"]``)
ORGANMNIST3D_CLASS_NAMES = (
    "liver",
    "kidney-right",
    "kidney-left",
    "femur-right",
    "femur-left",
    "bladder",
    "heart",
    "lung-right",
    "lung-left",
    "spleen",
    "pancreas",
)
#: MedMNIST split prefixes, in the order of :data:`~monai_afpe.data.synthetic.writers.SPLIT_KEYS`
MEDMNIST_SPLITS = ("train", "val", "test")


def read_medmnist_split(npz_path: os.PathLike | str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, X, Y, Z)`` and integer labels ``(N,)`` of one split of a MedMNIST 3D ``.npz`` file.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: naming the file and the key: a missing key, images that are not a uint8
            ``(N, X, Y, Z)`` array, labels that are not ``(N, 1)`` or ``(N,)`` integers.
    """
    split = look_up_option(split, MEDMNIST_SPLITS)
    npz_path = Path(npz_path)
    if not npz_path.is_file():
        raise FileNotFoundError(f"MedMNIST file not found: {npz_path}")
    with np.load(npz_path, allow_pickle=False) as archive:
        keys = sorted(archive.files)
        for key in (f"{split}_images", f"{split}_labels"):
            if key not in archive.files:
                raise ValueError(f"{npz_path}: key {key!r} is missing; the file holds {keys}.")
        images, labels = archive[f"{split}_images"], archive[f"{split}_labels"]
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(
            f"{npz_path}: {split}_images must be a uint8 array (N, X, Y, Z) of 3D volumes, "
            f"got {images.dtype} {images.shape}."
        )
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (images.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{npz_path}: {split}_labels must be {images.shape[0]} integer labels of shape (N, 1) or (N,) "
            f"matching {split}_images, got {labels.dtype} {labels.shape}."
        )
    return images, labels.astype(np.int64)


def stride_anisotropy(volume: np.ndarray, anisotropy: int) -> np.ndarray:
    """Keep every ``anisotropy``-th slice of the last axis (slices ``0, k, 2k, ...``)."""
    return volume[..., :: check_positive_int(anisotropy, "anisotropy", unit="slice stride")]


def _to_metatensor(volume: np.ndarray, anisotropy: int, resample: bool, spacing: float) -> MetaTensor:
    kept = stride_anisotropy(volume, anisotropy)
    affine = torch.as_tensor(spacing_affine((spacing, spacing, spacing * anisotropy), (0.0, 0.0, 0.0)))
    image = MetaTensor(torch.from_numpy(np.ascontiguousarray(kept))[None], affine=affine)
    if resample and anisotropy > 1:
        image = Spacing(pixdim=(spacing, spacing, spacing), mode="bilinear")(image)
    return image


def load_organmnist3d(
    npz_path: os.PathLike | str,
    split: str = "train",
    anisotropy: int = 1,
    resample: bool = False,
    spacing: float = 1.0,
) -> list[dict]:
    """Items ``{"image": MetaTensor (1, X, Y, Z'), "label": int}`` of one OrganMNIST3D split.

    Args:
        npz_path: ``organmnist3d.npz`` or ``organmnist3d_64.npz``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        anisotropy: keep every k-th slice of the last axis (1 keeps all).
        resample: resample the kept slices back to the isotropic ``spacing`` (float32 images);
            otherwise images stay uint8 with spacing ``(s, s, k s)`` in the affine.
        spacing: nominal isotropic voxel size of the source volumes.
    """
    spacing = check_positive_number(spacing, "spacing", unit="nominal mm")
    anisotropy = check_positive_int(anisotropy, "anisotropy", unit="slice stride")
    images, labels = read_medmnist_split(npz_path, split)
    return [
        {"image": _to_metatensor(volume, anisotropy, resample, spacing), "label": int(label)}
        for volume, label in zip(images, labels)
    ]


def export_organmnist3d(
    npz_path: os.PathLike | str,
    output_dir: os.PathLike | str,
    anisotropy: int = 1,
    resample: bool = False,
    spacing: float = 1.0,
    progress: bool = False,
) -> Path:
    """Write all three splits as NIfTI files plus ``datalist.json``; return the datalist path.

    Files are ``images/{split}_XXXX.nii.gz`` with the affine of :func:`load_organmnist3d`'s items; the
    datalist has ``training`` / ``validation`` / ``test`` lists of ``{"image", "label"}`` (MedMNIST's
    own train / val / test splits) and the class names under ``labels``.
    """
    spacing = check_positive_number(spacing, "spacing", unit="nominal mm")
    anisotropy = check_positive_int(anisotropy, "anisotropy", unit="slice stride")
    output_dir = Path(output_dir)
    datalist: dict[str, list] = {}
    for split, key in zip(MEDMNIST_SPLITS, SPLIT_KEYS):
        images, labels = read_medmnist_split(npz_path, split)
        items = []
        width = max(4, len(str(len(images) - 1)))
        for index in tqdm(range(len(images)), desc=f"OrganMNIST3D {split}", unit="volume", disable=not progress):
            image = _to_metatensor(images[index], anisotropy, resample, spacing)
            name = f"images/{split}_{index:0{width}d}.nii.gz"
            write_nifti(output_dir / name, image[0].numpy(), image.affine.numpy())
            items.append({"image": name, "label": int(labels[index])})
        datalist[key] = items
    header = {
        "name": "organmnist3d",
        "description": f"OrganMNIST3D from {Path(npz_path).name}: every {anisotropy}-th slice of the last axis"
        + (", resampled back to isotropic spacing" if resample and anisotropy > 1 else "")
        + " (monai-afpe).",
        "generator": f"monai_afpe {__version__}",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "labels": {str(i): name for i, name in enumerate(ORGANMNIST3D_CLASS_NAMES)},
        "anisotropy": anisotropy,
        "resample": bool(resample),
        "spacing": spacing,
        "numTraining": len(datalist["training"]),
        "numValidation": len(datalist["validation"]),
        "numTest": len(datalist["test"]),
    }
    return write_json(output_dir / "datalist.json", {**header, **datalist})
