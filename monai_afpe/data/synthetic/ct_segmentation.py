"""Synthetic anisotropic CT segmentation: a toy abdomen with four labelled organ-like structures.

Each volume is an axial stack through an elliptic "body" (subcutaneous fat around soft tissue, air
outside) holding, in this painting order, an unlabelled vertebral column (bone), two ``kidney`` ellipsoids,
the ``spleen`` (a flattened ellipsoid), the ``liver`` (two lobes stretched along the slice axis) and
the ``aorta`` (a tube along the slice axis). Organ HU ranges overlap (liver / spleen, kidney
/ aorta), so a segmenter needs shape and position, not a threshold. The body size, the in-plane and
slice spacing, a small rotation of the whole body, organ sizes, positions and HU, and the noise
level are drawn per volume; thick slices blur every structure by partial volume, and a voxel is
labelled with the last structure that fills at least half of it.

The geometry is deliberately small (a body about 45 mm wide fits a 64-voxel field of view); lengths
are in mm throughout and stated in the affine, which is what spacing-aware models need.

Files (Medical Segmentation Decathlon layout): ``imagesTr/`` and ``labelsTr/`` (training and
validation), ``imagesTs/`` and ``labelsTs/`` (test), int16 HU images and uint8 label maps with the
same affine, ``geometry.csv`` (spacing, body size, rotation and noise per volume) and
``dataset.json`` (``name``, ``labels``, ``numTraining``, ``training``, ``validation`` and ``test``
lists of ``{"image", "label"}``) that :func:`monai.data.load_decathlon_datalist` reads.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from monai_afpe import __version__
from monai_afpe.data.synthetic.sampling import check_image_size, check_range, check_seed, sample_rng
from monai_afpe.data.synthetic.solids import (
    Ellipsoid,
    EllipticCylinder,
    Stretched,
    TwoLobes,
    render_occupancy,
    rotation_matrix,
)
from monai_afpe.data.synthetic.writers import (
    SPLIT_KEYS,
    spacing_affine,
    split_counts,
    write_csv,
    write_json,
    write_nifti,
)
from monai_afpe.validation import check_positive_int

__all__ = [
    "CT_SEGMENTATION_LABELS",
    "CTSegmentationConfig",
    "CTSegmentationSample",
    "sample_ct_segmentation",
    "generate_ct_segmentation",
]

#: label value -> structure name
CT_SEGMENTATION_LABELS = {0: "background", 1: "liver", 2: "kidney", 3: "spleen", 4: "aorta"}


@dataclass(frozen=True)
class CTSegmentationConfig:
    """How a synthetic abdomen is drawn; lengths in mm, ranges as ``(low, high)``.

    Args:
        spatial_size: voxels per axis (int or 3 ints), slice axis last.
        inplane_spacing_range: in-plane (x = y) spacing.
        slice_spacing_range: slice spacing (= thickness, contiguous slices).
        body_half_width_range: half-width of the body ellipse; its half-depth is 0.7-0.8 of it and
            every organ scales with it. None: 78-94% of the largest half-width that fits the field of
            view at the smallest in-plane spacing with one voxel to spare (19-23 mm for 64 voxels).
        max_body_rotation_deg: largest rotation of the whole body about the slice axis.
        noise_hu_range: standard deviation of the Gaussian noise in HU.
        supersample: point samples across the slice thickness (partial volume).
    """

    spatial_size: int | Sequence[int] = (64, 64, 32)
    inplane_spacing_range: tuple[float, float] = (0.8, 1.2)
    slice_spacing_range: tuple[float, float] = (2.0, 5.0)
    body_half_width_range: tuple[float, float] | None = None
    max_body_rotation_deg: float = 10.0
    noise_hu_range: tuple[float, float] = (8.0, 20.0)
    supersample: int = 5

    def __post_init__(self):
        set_ = object.__setattr__
        size = check_image_size("spatial_size", self.spatial_size, 3, minimum=8)
        set_(self, "spatial_size", size)
        for name in ("inplane_spacing_range", "slice_spacing_range"):
            set_(self, name, check_range(name, getattr(self, name), minimum=1e-3))
        set_(self, "noise_hu_range", check_range("noise_hu_range", self.noise_hu_range, minimum=0.0))
        if not 0.0 <= self.max_body_rotation_deg <= 180.0:
            raise ValueError(f"max_body_rotation_deg must lie in [0, 180] degrees, got {self.max_body_rotation_deg!r}.")
        check_positive_int(self.supersample, "supersample")
        smallest = self.inplane_spacing_range[0]
        room = (min(size[:2]) - 1) / 2.0 * smallest - smallest
        if self.body_half_width_range is None:
            set_(self, "body_half_width_range", (0.78 * room, 0.94 * room))
        set_(self, "body_half_width_range", check_range("body_half_width_range", self.body_half_width_range, 1e-3))
        if self.body_half_width_range[1] > room:
            raise ValueError(
                f"body_half_width_range {self.body_half_width_range} mm does not fit {size[0]}x{size[1]} voxels of "
                f"{smallest} mm (room: {room:.1f} mm); lower it or raise inplane_spacing_range / spatial_size."
            )


@dataclass(frozen=True)
class CTSegmentationSample:
    """One generated volume: int16 HU ``image`` and uint8 ``label`` ``(x, y, z)``, spacing and affine in mm."""

    image: np.ndarray
    label: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    record: dict


def _structures(rng: np.random.Generator, half_width: float, half_depth: float, z_half: float):
    """The body and organs as ``(label, solid, centre (x, y, z), spin, HU)`` in painting order (body frame)."""
    a, b = half_width, half_depth
    fat = rng.uniform(2.0, 4.0)
    u = rng.uniform
    structures = [
        (0, EllipticCylinder((a, b), z_half), (0.0, 0.0, 0.0), 0.0, u(-120.0, -80.0)),
        (0, EllipticCylinder((a - fat, b - fat), z_half), (0.0, 0.0, 0.0), 0.0, u(20.0, 50.0)),
        (0, EllipticCylinder((0.16 * b, 0.14 * b), z_half), (0.0, 0.62 * b, 0.0), 0.0, u(300.0, 600.0)),
    ]
    kidney_hu, kidney_z = u(120.0, 180.0), u(-16.0, -8.0)
    for side in (-1.0, 1.0):
        kidney = Ellipsoid((0.13 * a * u(0.9, 1.1), 0.2 * b * u(0.9, 1.1), u(12.0, 16.0)))
        centre = (side * 0.42 * a + u(-1.0, 1.0), 0.45 * b + u(-1.0, 1.0), kidney_z + u(-2.0, 2.0))
        structures.append((2, kidney, centre, side * u(10.0, 30.0), kidney_hu))
    spleen = Ellipsoid((0.18 * a * u(0.9, 1.1), 0.3 * b * u(0.9, 1.1), u(12.0, 16.0)))
    structures.append((3, spleen, (0.55 * a, 0.05 * b, u(4.0, 12.0)), u(-30.0, -10.0), u(40.0, 70.0)))
    r1 = 0.4 * a * u(0.9, 1.1)
    r2 = r1 * u(0.6, 0.85)
    liver = Stretched(TwoLobes((r1, r2), 0.75 * (r1 + r2)), (1.0, 1.1, u(2.0, 2.6)))
    structures.append((1, liver, (-0.22 * a, -0.15 * b, u(4.0, 10.0)), u(-15.0, 15.0), u(50.0, 80.0)))
    aorta = EllipticCylinder((0.09 * a, 0.09 * a), z_half)
    structures.append((4, aorta, (0.1 * a, 0.3 * b, 0.0), 0.0, u(150.0, 250.0)))
    return structures


def sample_ct_segmentation(
    rng: np.random.Generator, config: CTSegmentationConfig | None = None
) -> CTSegmentationSample:
    """Draw one synthetic abdomen with ``rng`` (pure: no files are written)."""
    config = CTSegmentationConfig() if config is None else config
    inplane = float(rng.uniform(*config.inplane_spacing_range))
    spacing = (inplane, inplane, float(rng.uniform(*config.slice_spacing_range)))
    axes = [(np.arange(n) - (n - 1) / 2.0) * s for n, s in zip(config.spatial_size, spacing)]
    half_width = float(rng.uniform(*config.body_half_width_range))
    half_depth = half_width * float(rng.uniform(0.7, 0.8))
    body_angle = math.radians(rng.uniform(-config.max_body_rotation_deg, config.max_body_rotation_deg))
    body_rotation = rotation_matrix(body_angle, 0.0, 0.0)
    z_half = axes[2][-1] + spacing[2]  # tubes run through the whole stack

    image = np.full(config.spatial_size, -1000.0, dtype=np.float32)
    label = np.zeros(config.spatial_size, dtype=np.uint8)
    for value, solid, centre, spin_deg, hu in _structures(rng, half_width, half_depth, z_half):
        rotation = body_rotation @ rotation_matrix(math.radians(spin_deg), 0.0, 0.0)
        world_centre = body_rotation @ np.asarray(centre)
        occupancy = render_occupancy(solid, world_centre, rotation, axes, spacing[2], config.supersample)
        image += (np.float32(hu) - image) * occupancy
        label[occupancy >= 0.5] = value
    noise = float(rng.uniform(*config.noise_hu_range))
    image += noise * rng.standard_normal(image.shape, dtype=np.float32)
    record = {
        "spacing_x": spacing[0],
        "spacing_y": spacing[1],
        "spacing_z": spacing[2],
        "body_half_width": half_width,
        "body_half_depth": half_depth,
        "body_rotation_deg": math.degrees(body_angle),
        "noise_hu": noise,
    }
    image = np.clip(np.rint(image), -1024, 3071).astype(np.int16)
    return CTSegmentationSample(image, label, spacing, spacing_affine(spacing, [a[0] for a in axes]), record)


def generate_ct_segmentation(
    output_dir: os.PathLike | str,
    num_samples: int = 40,
    seed: int = 0,
    spatial_size: int | Sequence[int] = (64, 64, 32),
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    progress: bool = False,
    **options,
) -> Path:
    """Generate the synthetic abdomen data set into ``output_dir``; return the path of its ``dataset.json``.

    Deterministic: the same arguments give byte-identical files.

    Args:
        output_dir: folder to write into (created if missing).
        num_samples: number of image / label pairs.
        seed: seed of all random draws (sample ``i`` uses ``numpy.random.default_rng([seed, i])``).
        spatial_size: voxels per axis, slice axis last.
        fractions: fractions of training, validation and test samples.
        progress: show a progress bar.
        options: further :class:`CTSegmentationConfig` fields (spacing ranges, body size, noise, ...).

    Example::

        dataset_json = generate_ct_segmentation("data/ct_segmentation", num_samples=40)
        train_files = monai.data.load_decathlon_datalist(dataset_json, data_list_key="training")
    """
    config = CTSegmentationConfig(spatial_size=spatial_size, **options)
    seed = check_seed(seed)
    output_dir = Path(output_dir)
    counts = dict(zip(SPLIT_KEYS, split_counts(num_samples, fractions)))
    splits = np.repeat(list(counts), list(counts.values()))[np.random.default_rng([seed]).permutation(num_samples)]
    datalist: dict[str, list] = {key: [] for key in SPLIT_KEYS}
    records = []
    width = max(3, len(str(num_samples - 1)))
    for index in tqdm(range(num_samples), desc="CT segmentation", unit="volume", disable=not progress):
        sample = sample_ct_segmentation(sample_rng(seed, index), config)
        name = f"abdomen_{index:0{width}d}.nii.gz"
        suffix = "Ts" if splits[index] == "test" else "Tr"
        write_nifti(output_dir / f"images{suffix}" / name, sample.image, sample.affine)
        write_nifti(output_dir / f"labels{suffix}" / name, sample.label, sample.affine)
        item = {"image": f"./images{suffix}/{name}", "label": f"./labels{suffix}/{name}"}
        datalist[str(splits[index])].append(item)
        records.append({**item, "split": str(splits[index]), **sample.record})
    write_csv(output_dir / "geometry.csv", records)
    header = {
        "name": "ct-segmentation",
        "description": "Synthetic anisotropic CT segmentation: a toy abdomen with organ-like structures (monai-afpe).",
        "reference": "generated by monai_afpe.data.synthetic.generate_ct_segmentation",
        "licence": "CC0-1.0",
        "release": f"monai_afpe {__version__}",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "labels": {str(k): v for k, v in CT_SEGMENTATION_LABELS.items()},
        "seed": seed,
        "config": dataclasses.asdict(config),
        "numTraining": len(datalist["training"]),
        "numValidation": len(datalist["validation"]),
        "numTest": len(datalist["test"]),
    }
    return write_json(output_dir / "dataset.json", {**header, **datalist})
