"""Organ shapes: synthetic anisotropic CT classification, six classes defined by physical shape in mm.

Each volume holds one organ-like structure on a noisy soft-tissue background. Its class is its shape
in millimetres: ``sphere``, ``prolate`` and ``oblate`` spheroids (symmetry axis along the slice axis),
``torus`` (ring in the axial plane), ``capsule`` (along the slice axis) and ``two_lobed`` (two
overlapping balls side by side in the axial plane). Nothing else carries the label: the size (the
radius of the ball of equal volume), the orientation (random spin and a tilt of up to
``max_tilt_deg``), the position, the organ and background HU, the noise level and the voxel spacing
are all drawn independently of the class. Thick slices blur the organ along the slice axis by
partial volume (supersampling across the slice thickness).

Two spacing protocols (arXiv 2509.02488 simulates anisotropy with the first):

- ``"stride"``: an isotropic volume (``isotropic_spacing`` mm, ``spatial_size`` voxels) of which every
  k-th slice is kept (``anisotropy = k``), the paper's OrganMNIST3D protocol. Every volume has the same
  spacing ``(s, s, k s)`` and ``ceil(n_z / k)`` thin slices with gaps.
- ``"mixed"``: every volume draws its own in-plane spacing (``inplane_spacing_range``) and slice
  spacing (``slice_spacing_range``) with contiguous slices of that thickness. Voxel-space aspect
  ratios of different classes then overlap — a sphere with 3 mm slices and 1 mm pixels looks, in
  voxels, like an oblate spheroid of ratio 1/3 with isotropic voxels — so only a model that knows the
  spacing can separate all classes.

Files: ``images/shape_XXXX.nii.gz`` (int16 HU, affine ``diag(spacing)`` with the volume centre at
the world origin), optionally ``masks/shape_XXXX.nii.gz`` (uint8, occupancy >= 0.5),
``datalist.json`` (``training`` / ``validation`` / ``test`` lists of ``{"image", "label"}`` for
:func:`monai.data.load_decathlon_datalist`) and ``geometry.csv`` (every drawn parameter per sample).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from monai.utils import look_up_option
from tqdm.auto import tqdm

from monai_afpe import __version__
from monai_afpe.data.synthetic.sampling import check_image_size, check_range, check_seed, sample_rng
from monai_afpe.data.synthetic.solids import (
    Capsule,
    Ellipsoid,
    Torus,
    TwoLobes,
    random_rotation,
    render_occupancy,
    world_extent,
)
from monai_afpe.data.synthetic.writers import (
    SPLIT_KEYS,
    balanced_splits,
    spacing_affine,
    write_csv,
    write_json,
    write_nifti,
)
from monai_afpe.validation import check_positive_int, check_positive_number

__all__ = [
    "ORGAN_SHAPE_CLASSES",
    "SPACING_PROTOCOLS",
    "DEFAULT_ANISOTROPY",
    "SHAPE_RATIO_RANGES",
    "OrganShapesConfig",
    "OrganShape",
    "make_solid",
    "sample_organ_shape",
    "generate_organ_shapes",
]

#: class index -> name
ORGAN_SHAPE_CLASSES = ("sphere", "prolate", "oblate", "torus", "capsule", "two_lobed")
#: spacing protocols, see the module docstring
SPACING_PROTOCOLS = ("mixed", "stride")
#: slice stride of the ``"stride"`` protocol when none is given (the paper's first anisotropic setting)
DEFAULT_ANISOTROPY = 4
#: shape ratios drawn uniformly per class (the size is set separately by the equivalent radius):
#: prolate / oblate ``c / a``; torus ``minor / major``; capsule ``half_length / radius``;
#: two_lobed ``r2 / r1`` and ``distance / (r1 + r2)``
SHAPE_RATIO_RANGES = {
    "prolate": (1.7, 2.5),
    "oblate": (0.4, 0.6),
    "torus": (0.4, 0.6),
    "capsule": (0.5, 1.0),
    "two_lobed_radius": (0.7, 1.0),
    "two_lobed_distance": (0.6, 0.8),
}


def make_solid(class_name: str, rng: np.random.Generator, equivalent_radius: float):
    """The solid of class ``class_name`` (in its own frame) with the volume of a ball of ``equivalent_radius`` mm.

    Shape ratios are drawn from :data:`SHAPE_RATIO_RANGES`; the size is independent of the class.
    """
    class_name = look_up_option(class_name, ORGAN_SHAPE_CLASSES)
    ranges = SHAPE_RATIO_RANGES
    if class_name == "sphere":
        unit = Ellipsoid((1.0, 1.0, 1.0))
    elif class_name in ("prolate", "oblate"):
        unit = Ellipsoid((1.0, 1.0, rng.uniform(*ranges[class_name])))
    elif class_name == "torus":
        unit = Torus(1.0, rng.uniform(*ranges["torus"]))
    elif class_name == "capsule":
        unit = Capsule(1.0, rng.uniform(*ranges["capsule"]))
    else:
        r2 = rng.uniform(*ranges["two_lobed_radius"])
        unit = TwoLobes((1.0, r2), rng.uniform(*ranges["two_lobed_distance"]) * (1.0 + r2))
    target = 4.0 / 3.0 * math.pi * equivalent_radius**3
    return unit.scaled((target / unit.volume) ** (1.0 / 3.0))


@dataclass(frozen=True)
class OrganShapesConfig:
    """How an organ-shapes volume is drawn; lengths in mm, HU for intensities, ranges as ``(low, high)``.

    Args:
        protocol: ``"mixed"`` (per-sample spacing) or ``"stride"`` (every k-th slice of an isotropic volume).
        spatial_size: voxels per axis (int or 3 ints); for ``"stride"`` the size of the isotropic source.
        anisotropy: slice stride k of the ``"stride"`` protocol (None: :data:`DEFAULT_ANISOTROPY`);
            must be None for ``"mixed"``.
        isotropic_spacing: voxel size of the ``"stride"`` source volume.
        inplane_spacing_range: in-plane (x = y) spacing of the ``"mixed"`` protocol.
        slice_spacing_range: slice spacing (= thickness) of the ``"mixed"`` protocol.
        radius_range: radius of the ball with the organ's volume.
        max_tilt_deg: largest angle between the organ's own axis and the slice axis.
        position_jitter: the organ centre is drawn uniformly within this distance of the volume centre,
            per axis, independently of the class (the defaults fit the largest organ, a torus of 7.7 mm
            half-width, with 1 mm jitter into 32 voxels of 0.6 mm with one voxel to spare).
        background_hu_range, organ_hu_range, noise_hu_range: soft-tissue background, organ and
            Gaussian noise standard deviation.
        supersample: point samples across the slice thickness (partial volume).
    """

    protocol: str = "mixed"
    spatial_size: int | Sequence[int] = 32
    anisotropy: int | None = None
    isotropic_spacing: float = 1.0
    inplane_spacing_range: tuple[float, float] = (0.6, 1.2)
    slice_spacing_range: tuple[float, float] = (1.0, 5.0)
    radius_range: tuple[float, float] = (3.5, 5.0)
    max_tilt_deg: float = 20.0
    position_jitter: float = 1.0
    background_hu_range: tuple[float, float] = (-10.0, 50.0)
    organ_hu_range: tuple[float, float] = (70.0, 190.0)
    noise_hu_range: tuple[float, float] = (8.0, 20.0)
    supersample: int = 5

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "protocol", look_up_option(self.protocol, SPACING_PROTOCOLS))
        size = check_image_size("spatial_size", self.spatial_size, 3, minimum=4)
        set_(self, "spatial_size", size)
        if self.protocol == "stride":
            k = DEFAULT_ANISOTROPY if self.anisotropy is None else self.anisotropy
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= size[2]:
                raise ValueError(
                    f"anisotropy must be an integer slice stride in [1, {size[2]}] (spatial_size z), got {k!r}."
                )
            set_(self, "anisotropy", int(k))
        elif self.anisotropy is not None:
            raise ValueError(
                f"anisotropy={self.anisotropy!r} applies to protocol 'stride' only; protocol 'mixed' draws the "
                "spacing from inplane_spacing_range and slice_spacing_range."
            )
        check_positive_number(self.isotropic_spacing, "isotropic_spacing", unit="mm")
        for name, minimum in (
            ("inplane_spacing_range", 1e-3),
            ("slice_spacing_range", 1e-3),
            ("radius_range", 1e-3),
            ("background_hu_range", -1024.0),
            ("organ_hu_range", -1024.0),
            ("noise_hu_range", 0.0),
        ):
            set_(self, name, check_range(name, getattr(self, name), minimum=minimum))
        if not 0.0 <= self.max_tilt_deg <= 90.0:
            raise ValueError(f"max_tilt_deg must lie in [0, 90] degrees, got {self.max_tilt_deg!r}.")
        if self.position_jitter < 0:
            raise ValueError(f"position_jitter must be a non-negative length in mm, got {self.position_jitter!r}.")
        check_positive_int(self.supersample, "supersample")

    def output_shape(self) -> tuple[int, int, int]:
        """Shape of the written volumes: ``spatial_size``, with ``ceil(n_z / k)`` slices for ``"stride"``."""
        nx, ny, nz = self.spatial_size
        return (nx, ny, -(-nz // self.anisotropy)) if self.protocol == "stride" else (nx, ny, nz)


@dataclass(frozen=True)
class OrganShape:
    """One generated volume.

    Attributes:
        image: int16 HU array ``(x, y, z)``.
        occupancy: float32 fraction of each voxel inside the organ.
        label: class index into :data:`ORGAN_SHAPE_CLASSES`.
        spacing: voxel spacing in mm (x, y, z).
        affine: 4x4 voxel-to-world matrix in mm (volume centre at the origin).
        record: every drawn parameter (class, spacing, size, tilt, HU, the solid's dimensions, ...).
    """

    image: np.ndarray
    occupancy: np.ndarray
    label: int
    spacing: tuple[float, float, float]
    affine: np.ndarray
    record: dict


def sample_organ_shape(rng: np.random.Generator, label: int, config: OrganShapesConfig | None = None) -> OrganShape:
    """Draw one organ-shapes volume of class ``label`` with ``rng`` (pure: no files are written).

    Raises:
        ValueError: if the drawn organ does not fit in the field of view with one voxel to spare
            (only with a ``radius_range`` or ``position_jitter`` too large for ``spatial_size`` and the
            spacing ranges).
    """
    config = OrganShapesConfig() if config is None else config
    if not 0 <= int(label) < len(ORGAN_SHAPE_CLASSES):
        raise ValueError(f"label must be a class index in [0, {len(ORGAN_SHAPE_CLASSES) - 1}], got {label!r}.")
    class_name = ORGAN_SHAPE_CLASSES[int(label)]
    nx, ny, nz = config.spatial_size
    if config.protocol == "mixed":
        inplane = float(rng.uniform(*config.inplane_spacing_range))
        source_spacing = np.array([inplane, inplane, rng.uniform(*config.slice_spacing_range)])
        stride, thickness = 1, float(source_spacing[2])
    else:
        source_spacing = np.full(3, config.isotropic_spacing)
        stride, thickness = config.anisotropy, config.isotropic_spacing
    # voxel-centre coordinates of the (source) grid, centred on the world origin
    source_axes = [(np.arange(n) - (n - 1) / 2.0) * s for n, s in zip((nx, ny, nz), source_spacing)]
    axes = [source_axes[0], source_axes[1], source_axes[2][::stride]]
    spacing = (float(source_spacing[0]), float(source_spacing[1]), float(source_spacing[2] * stride))

    # every nuisance is drawn before the class-specific shape ratios: the same stream gives the same
    # spacing, size, pose, position and intensities whatever the label
    equivalent_radius = float(rng.uniform(*config.radius_range))
    rotation, tilt_deg = random_rotation(rng, config.max_tilt_deg)
    centre = rng.uniform(-config.position_jitter, config.position_jitter, size=3)
    background = float(rng.uniform(*config.background_hu_range))
    organ = float(rng.uniform(*config.organ_hu_range))
    noise = float(rng.uniform(*config.noise_hu_range))
    solid = make_solid(class_name, rng, equivalent_radius)
    extent = world_extent(solid, rotation)
    # the organ, shifted by the (label-independent) jitter, must leave one source voxel empty at each border
    low = np.array([a[0] for a in source_axes]) + source_spacing
    high = np.array([a[-1] for a in source_axes]) - source_spacing
    if np.any(centre + extent[:, 0] < low) or np.any(centre + extent[:, 1] > high):
        size_mm = " x ".join(f"{v:.3g}" for v in np.ptp(extent, axis=1))
        voxel_mm = " x ".join(f"{v:.3g}" for v in source_spacing)
        raise ValueError(
            f"a {class_name} of equivalent radius {equivalent_radius:.3g} mm ({size_mm} mm, shifted up to "
            f"{config.position_jitter:g} mm) does not fit in {nx}x{ny}x{nz} voxels of {voxel_mm} mm with one "
            "voxel to spare; reduce radius_range / position_jitter or enlarge spatial_size / the spacing ranges."
        )

    occupancy = render_occupancy(solid, centre, rotation, axes, thickness, config.supersample)
    values = background + (organ - background) * occupancy
    values += noise * rng.standard_normal(occupancy.shape, dtype=np.float32)
    image = np.clip(np.rint(values), -1024, 3071).astype(np.int16)

    affine = spacing_affine(spacing, [a[0] for a in axes])
    record = {
        "label": int(label),
        "class_name": class_name,
        "spacing_x": spacing[0],
        "spacing_y": spacing[1],
        "spacing_z": spacing[2],
        "slice_thickness": thickness,
        "equivalent_radius": equivalent_radius,
        "volume_mm3": solid.volume,
        "extent_x": float(np.ptp(extent[0])),
        "extent_y": float(np.ptp(extent[1])),
        "extent_z": float(np.ptp(extent[2])),
        "tilt_deg": tilt_deg,
        "centre_x": float(centre[0]),
        "centre_y": float(centre[1]),
        "centre_z": float(centre[2]),
        "background_hu": background,
        "organ_hu": organ,
        "noise_hu": noise,
        "solid": json.dumps({type(solid).__name__: dataclasses.asdict(solid)}),
    }
    return OrganShape(image, occupancy, int(label), spacing, affine, record)


def generate_organ_shapes(
    output_dir: os.PathLike | str,
    num_samples: int = 600,
    seed: int = 0,
    protocol: str = "mixed",
    anisotropy: int | None = None,
    spatial_size: int | Sequence[int] = 32,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    write_masks: bool = False,
    progress: bool = False,
    **options,
) -> Path:
    """Generate the organ-shapes data set into ``output_dir`` and return the path of its ``datalist.json``.

    Deterministic: the same arguments give byte-identical files. Classes are balanced over the whole
    set and within each split.

    Args:
        output_dir: folder to write into (created if missing).
        num_samples: number of volumes.
        seed: seed of all random draws (sample ``i`` uses ``numpy.random.default_rng([seed, i])``).
        protocol: ``"mixed"`` or ``"stride"`` (see the module docstring).
        anisotropy: slice stride k for ``"stride"`` (None: 4).
        spatial_size: voxels per axis of the (source) volume.
        fractions: fractions of training, validation and test samples.
        write_masks: also write binary organ masks (``masks/``, key ``"mask"`` in the datalist).
        progress: show a progress bar.
        options: further :class:`OrganShapesConfig` fields (spacing, size, HU and tilt ranges, ...).

    Example::

        datalist = generate_organ_shapes("data/organ_shapes", num_samples=600, seed=0, protocol="mixed")
        train_files = monai.data.load_decathlon_datalist(datalist, is_segmentation=False)
    """
    config = OrganShapesConfig(protocol=protocol, anisotropy=anisotropy, spatial_size=spatial_size, **options)
    seed = check_seed(seed)
    output_dir = Path(output_dir)
    labels, splits = balanced_splits(num_samples, len(ORGAN_SHAPE_CLASSES), fractions, np.random.default_rng([seed]))
    datalist: dict[str, list] = {key: [] for key in SPLIT_KEYS}
    records = []
    width = max(4, len(str(num_samples - 1)))
    for index in tqdm(range(num_samples), desc="organ shapes", unit="volume", disable=not progress):
        sample = sample_organ_shape(sample_rng(seed, index), int(labels[index]), config)
        name = f"shape_{index:0{width}d}.nii.gz"
        write_nifti(output_dir / "images" / name, sample.image, sample.affine)
        item = {"image": f"images/{name}", "label": sample.label}
        if write_masks:
            write_nifti(output_dir / "masks" / name, (sample.occupancy >= 0.5).astype(np.uint8), sample.affine)
            item["mask"] = f"masks/{name}"
        datalist[str(splits[index])].append(item)
        records.append({"image": item["image"], "split": str(splits[index]), **sample.record})

    write_csv(output_dir / "geometry.csv", records)
    header = {
        "name": "organ-shapes",
        "description": "Synthetic anisotropic CT classification: organ-like shapes defined in mm (monai-afpe).",
        "generator": f"monai_afpe {__version__}",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "labels": {str(i): name for i, name in enumerate(ORGAN_SHAPE_CLASSES)},
        "seed": seed,
        "config": dataclasses.asdict(config),
        "output_shape": list(config.output_shape()),
        "numTraining": len(datalist["training"]),
        "numValidation": len(datalist["validation"]),
        "numTest": len(datalist["test"]),
    }
    return write_json(output_dir / "datalist.json", {**header, **datalist})
