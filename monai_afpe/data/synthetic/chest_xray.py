"""Synthetic chest radiographs (PA view) whose binary labels are exact by construction and defined in mm.

Each image is a projection of a 2D chest phantom drawn in the patient frame ``(u, v)`` in mm (``u`` to the image
right, the patient's left in a PA view; ``v`` downwards; origin at the centre of the thorax):

- the **thorax** is an ellipse of half-width ``a`` and half-height ``b`` (the internal thoracic outline), inside a
  larger body outline of soft tissue; its width ``2 a`` is the thoracic diameter of the cardiothoracic ratio;
- each **lung** ``σ = -1`` (patient's right, image left) and ``σ = +1`` lies inside the thorax, lateral to the
  mediastinum (``σ u > m``) and above its **hemidiaphragm**, a parabola ``v = d_σ + k_σ (u - u0_σ)²`` whose dome
  (highest point) is at depth ``d_σ`` and which meets the thorax outline at the **costophrenic angle**
  ``(u_c, v_c)``, the lowest point of the lung;
- the **heart** is a tilted ellipse whose horizontal width (``2 sqrt(p² cos² φ + q² sin² φ)``) is the cardiac
  diameter;
- **pleural fluid** fills a lung below the horizontal line ``v = v_c - h_σ``: ``h_σ`` mm above its angle;
- **nodules** are discs (projected spheres) of diameter ``D`` mm centred in a lung; ribs and the spine complete
  the picture.

The labels (:data:`CHEST_XRAY_LABELS`) follow from the drawn geometry, in mm, with the thresholds of
:class:`ChestXrayConfig`:

- ``Cardiomegaly``: cardiothoracic ratio ``heart width / thorax width > ctr_threshold`` (0.5);
- ``Effusion``: a blunted costophrenic angle, ``max(h_right, h_left) > effusion_threshold`` mm;
- ``Nodule``: a nodule with ``D >= nodule_threshold`` mm (smaller nodules are distractors);
- ``ElevatedHemidiaphragm``: ``|d_right - d_left| > dome_difference_threshold`` mm.

The pixel spacing (square, ``spacing_range`` mm) and the image size (``image_size_range`` pixels per side) are
drawn independently of everything else, and the thorax fills a drawn fraction of the image (``fill_range``):
the anatomy has the same distribution *in pixels* whatever the spacing, while fluid heights, nodule diameters
and dome heights are drawn *in mm*. Their size in pixels is therefore ``mm / spacing``: a network that ignores
the spacing cannot read the Effusion, Nodule and ElevatedHemidiaphragm labels exactly from the pixels (the
cardiothoracic ratio, a ratio of lengths, can be). Grey levels carry no size: a nodule's contrast profile is that
of a sphere normalised to its radius. Everything else is a nuisance drawn independently of the labels: exposure
(gain, offset, gamma), noise, a rotation of a few degrees, patient size and shape, position, magnification.

As the field of view is 36-77 mm at the default sizes and spacings, the phantom is a reduced chest (a thorax of
26-66 mm) and the default mm thresholds are scaled with it; give realistic sizes through the config for a
full-size field of view.

Files: ``images/<Image>.dcm`` (Digital X-Ray For Presentation, 12 bits, with ImagerPixelSpacing and
EstimatedRadiographicMagnificationFactor, and a calibrated PixelSpacing, see :func:`generate_chest_xray`) and/or
``png/<Image>.png`` (8 bits, as NIH ChestX-ray14 exports), ``labels.csv`` (:data:`LABELS_COLUMNS`: image paths,
split, pixel spacing, size and the labels) and ``geometry.csv`` (the measurements the labels come from).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from monai.utils import ensure_tuple
from tqdm.auto import tqdm

from monai_afpe.data.splits import SPLIT_NAMES
from monai_afpe.data.synthetic.sampling import check_range, check_seed, sample_rng
from monai_afpe.data.synthetic.writers import split_counts, write_csv, write_radiograph_dicom

__all__ = [
    "CHEST_XRAY_LABELS",
    "CHEST_XRAY_FORMATS",
    "SPACING_TAGS",
    "LABELS_COLUMNS",
    "GEOMETRY_COLUMNS",
    "ChestXrayConfig",
    "ChestXraySample",
    "chest_xray_labels",
    "sample_chest_xray",
    "generate_chest_xray",
]

#: label columns of ``labels.csv``, in the order of every label vector
CHEST_XRAY_LABELS = ("Cardiomegaly", "Effusion", "Nodule", "ElevatedHemidiaphragm")
#: file formats :func:`generate_chest_xray` writes
CHEST_XRAY_FORMATS = ("dicom", "png")
#: how the DICOM files state the pixel size: ``"calibrated"`` PixelSpacing (PixelSpacingCalibrationType GEOMETRY,
#: with ImagerPixelSpacing and the magnification as well), or ``"imager"``: ImagerPixelSpacing and
#: EstimatedRadiographicMagnificationFactor only (the readers divide one by the other, with a warning)
SPACING_TAGS = ("calibrated", "imager")
#: columns of ``labels.csv``
LABELS_COLUMNS = (
    "Image",
    "Path",
    "PNG",
    "Split",
    "PixelSpacingRow",
    "PixelSpacingColumn",
    "Rows",
    "Columns",
    *CHEST_XRAY_LABELS,
)
#: columns of ``geometry.csv`` (lengths in mm)
GEOMETRY_COLUMNS = (
    "Image",
    "CardiothoracicRatio",
    "HeartWidth",
    "ThoraxWidth",
    "EffusionHeightRight",
    "EffusionHeightLeft",
    "NoduleDiameters",
    "DomeDepthRight",
    "DomeDepthLeft",
    "DomeDifference",
    "RotationDeg",
    "Magnification",
)
_MAX_VALUE = 4095  # 12 bits


def _round(value: float) -> float:
    """``value`` as DICOM stores it (6 significant digits), so that files, CSV and geometry agree exactly."""
    return float(f"{value:.6g}")


@dataclass(frozen=True)
class ChestXrayConfig:
    """How a synthetic chest radiograph is drawn; lengths in mm, ranges as ``(low, high)``.

    Args:
        image_size_range: rows and columns, each an integer drawn independently in this inclusive range (pixels).
        spacing_range: square pixel size in the patient (mm).
        fill_range: thorax width / image width and thorax height / image height (patient size), each drawn.
        max_rotation_deg: largest rotation of the patient in the image (degrees).
        ctr_range: cardiothoracic ratio; ``ctr_threshold``: Cardiomegaly when the ratio exceeds it.
        effusion_probability: probability that a side has pleural fluid.
        effusion_height_range: fluid height above the costophrenic angle of a side with fluid;
            ``effusion_threshold``: Effusion when the larger height exceeds it (mm).
        nodule_count_range: number of nodules, an integer drawn in this inclusive range.
        nodule_diameter_range: nodule diameter; ``nodule_threshold``: Nodule when a diameter reaches it (mm).
        dome_difference_range: difference of the two dome depths (mm; which side is higher is drawn);
            ``dome_difference_threshold``: ElevatedHemidiaphragm when the difference exceeds it (mm).
        magnification_range: EstimatedRadiographicMagnificationFactor (SID / SOD) written to the DICOM files.
        gain_range, gamma_range, noise_range: exposure nuisances; noise in 12-bit grey levels.
        spacing_tags: how DICOM files state the pixel size, see :data:`SPACING_TAGS`.

    Raises:
        ValueError: naming the argument and the value: a range that is not ``(low, high)`` within its bounds, a
            threshold outside the open range it cuts (the label would be constant), an unknown ``spacing_tags``,
            or a field of view too small for the anatomy it draws (the smallest image's thorax must hold the
            largest dome difference).
    """

    image_size_range: tuple[int, int] = (256, 384)
    spacing_range: tuple[float, float] = (0.14, 0.2)
    fill_range: tuple[float, float] = (0.72, 0.86)
    max_rotation_deg: float = 5.0
    ctr_range: tuple[float, float] = (0.38, 0.62)
    ctr_threshold: float = 0.5
    effusion_probability: float = 0.5
    effusion_height_range: tuple[float, float] = (0.0, 6.0)
    effusion_threshold: float = 2.5
    nodule_count_range: tuple[int, int] = (0, 3)
    nodule_diameter_range: tuple[float, float] = (2.0, 10.0)
    nodule_threshold: float = 6.0
    dome_difference_range: tuple[float, float] = (0.0, 8.0)
    dome_difference_threshold: float = 4.0
    magnification_range: tuple[float, float] = (1.08, 1.2)
    gain_range: tuple[float, float] = (0.75, 1.25)
    gamma_range: tuple[float, float] = (0.8, 1.25)
    noise_range: tuple[float, float] = (10.0, 40.0)
    spacing_tags: str = "calibrated"

    def __post_init__(self):
        set_ = object.__setattr__
        for name in ("image_size_range", "nodule_count_range"):
            value = check_range(name, getattr(self, name), minimum=64 if name == "image_size_range" else 0)
            if any(v != int(v) for v in value):
                raise ValueError(f"{name} must hold integers, got {getattr(self, name)!r}.")
            set_(self, name, (int(value[0]), int(value[1])))
        set_(self, "spacing_range", check_range("spacing_range", self.spacing_range, minimum=1e-3))
        set_(self, "fill_range", check_range("fill_range", self.fill_range, minimum=0.3, maximum=0.95))
        if not 0.0 <= self.max_rotation_deg <= 20.0:
            raise ValueError(f"max_rotation_deg must lie in [0, 20] degrees, got {self.max_rotation_deg!r}.")
        set_(self, "ctr_range", check_range("ctr_range", self.ctr_range, minimum=0.2, maximum=0.7))
        if not 0.0 <= self.effusion_probability <= 1.0:
            raise ValueError(f"effusion_probability must lie in [0, 1], got {self.effusion_probability!r}.")
        for name, maximum in (
            ("effusion_height_range", None),
            ("nodule_diameter_range", None),
            ("dome_difference_range", None),
            ("magnification_range", None),
            ("gain_range", None),
            ("gamma_range", None),
            ("noise_range", None),
        ):
            minimum = 1.0 if name == "magnification_range" else 0.0
            set_(self, name, check_range(name, getattr(self, name), minimum=minimum, maximum=maximum))
        if self.nodule_diameter_range[0] <= 0:
            raise ValueError(f"nodule_diameter_range must hold diameters > 0 mm, got {self.nodule_diameter_range!r}.")
        for threshold, name in (
            ("ctr_threshold", "ctr_range"),
            ("effusion_threshold", "effusion_height_range"),
            ("nodule_threshold", "nodule_diameter_range"),
            ("dome_difference_threshold", "dome_difference_range"),
        ):
            low, high = getattr(self, name)
            value = getattr(self, threshold)
            if not low < value < high:
                raise ValueError(
                    f"{threshold} must lie strictly inside {name} {(low, high)} so that the label varies, got {value!r}."
                )
        if self.spacing_tags not in SPACING_TAGS:
            raise ValueError(f"spacing_tags must be one of {SPACING_TAGS}, got {self.spacing_tags!r}.")
        # the lower costophrenic angle lies at most 0.55 thorax half-heights plus half the dome difference below
        # the centre, and must stay inside the thorax (1 % to spare for the rounding of the stated spacing)
        half_height = 0.99 * self.fill_range[0] * self.image_size_range[0] * self.spacing_range[0] / 2.0
        if 0.55 * half_height + self.dome_difference_range[1] / 2.0 >= half_height:
            raise ValueError(
                f"the field of view is too small for the anatomy: the smallest image (image_size_range "
                f"{self.image_size_range[0]} px x spacing_range {self.spacing_range[0]} mm x fill_range "
                f"{self.fill_range[0]}) gives a thorax {2 * half_height:.1f} mm high, and a dome difference up to "
                f"dome_difference_range {self.dome_difference_range[1]} mm needs more than "
                f"{2 * self.dome_difference_range[1] / 0.9:.1f} mm; raise image_size_range or spacing_range, or "
                "lower dome_difference_range."
            )


@dataclass(frozen=True)
class ChestXraySample:
    """One generated radiograph and its exact geometry.

    Attributes:
        image: uint16 pixels ``(rows, columns)``, 12 bits (``0..4095``), MONOCHROME2 (bone bright, air dark).
        pixel_spacing: ``(row, column)`` pixel size in the patient (mm), as stored in the files.
        labels: float32 0/1 vector in the order of :data:`CHEST_XRAY_LABELS`.
        geometry: the measurements the labels come from (mm; keys of :func:`chest_xray_labels`) and every other
            drawn parameter.
        masks: bool masks ``(rows, columns)`` of ``"lung"``, ``"heart"``, ``"fluid"`` and ``"nodule"``.
    """

    image: np.ndarray
    pixel_spacing: tuple[float, float]
    labels: np.ndarray
    geometry: dict
    masks: dict


def chest_xray_labels(geometry: dict, config: ChestXrayConfig | None = None) -> np.ndarray:
    """The labels (order of :data:`CHEST_XRAY_LABELS`) that the geometry gives, as a float32 0/1 vector.

    Args:
        geometry: ``heart_width`` and ``thorax_width`` (mm), ``effusion_height_right`` / ``_left`` (mm),
            ``nodule_diameters`` (mm, a sequence), ``dome_depth_right`` / ``_left`` (mm, downwards).
        config: the thresholds (default :class:`ChestXrayConfig`).
    """
    config = ChestXrayConfig() if config is None else config
    ctr = geometry["heart_width"] / geometry["thorax_width"]
    effusion = max(geometry["effusion_height_right"], geometry["effusion_height_left"])
    nodules = list(geometry["nodule_diameters"])
    domes = abs(geometry["dome_depth_right"] - geometry["dome_depth_left"])
    return np.array(
        [
            ctr > config.ctr_threshold,
            effusion > config.effusion_threshold,
            any(d >= config.nodule_threshold for d in nodules),
            domes > config.dome_difference_threshold,
        ],
        dtype=np.float32,
    )


def _smooth(x: np.ndarray) -> np.ndarray:
    """3x3 binomial smoothing (edges repeated)."""
    p = np.pad(x, 1, mode="edge")
    x = (p[:-2] + 2 * p[1:-1] + p[2:]) / 4
    return (x[:, :-2] + 2 * x[:, 1:-1] + x[:, 2:]) / 4


def sample_chest_xray(rng: np.random.Generator, config: ChestXrayConfig | None = None) -> ChestXraySample:
    """Draw one synthetic PA chest radiograph with ``rng`` (pure: no files are written).

    Args:
        rng: the sample's generator (:func:`~monai_afpe.data.synthetic.sample_rng`).
        config: how to draw it (default :class:`ChestXrayConfig`).
    """
    config = ChestXrayConfig() if config is None else config
    u_ = rng.uniform
    rows = int(rng.integers(config.image_size_range[0], config.image_size_range[1] + 1))
    columns = int(rng.integers(config.image_size_range[0], config.image_size_range[1] + 1))
    magnification = round(float(u_(*config.magnification_range)), 4)
    if config.spacing_tags == "imager":
        imager = _round(u_(*config.spacing_range) * magnification)
        spacing = imager / magnification
    else:
        spacing = _round(u_(*config.spacing_range))
        imager = _round(spacing * magnification)

    # thorax (patient size: a fraction of the field), position and rotation
    a = u_(*config.fill_range) * columns * spacing / 2.0
    b = u_(*config.fill_range) * rows * spacing / 2.0
    centre_x = u_(-0.04, 0.04) * columns * spacing
    centre_y = u_(-0.03, 0.05) * rows * spacing
    rotation = math.radians(u_(-config.max_rotation_deg, config.max_rotation_deg))
    x = ((np.arange(columns) - (columns - 1) / 2.0) * spacing)[None, :] - centre_x
    y = ((np.arange(rows) - (rows - 1) / 2.0) * spacing)[:, None] - centre_y
    cos, sin = math.cos(rotation), math.sin(rotation)
    u = cos * x + sin * y
    v = -sin * x + cos * y
    r_thorax = (u / a) ** 2 + (v / b) ** 2
    thorax = r_thorax <= 1.0

    # hemidiaphragms: dome depths (mm, downwards), costophrenic angles on the thorax outline
    mediastinum = a * u_(0.1, 0.16)
    mean_dome = b * u_(0.2, 0.3)
    difference = u_(*config.dome_difference_range)
    right_higher = bool(rng.random() < 0.5)
    sign = -1.0 if right_higher else 1.0  # dome_right - dome_left
    dome = {-1: mean_dome + sign * difference / 2.0, 1: mean_dome - sign * difference / 2.0}
    heights = {}
    for side in (-1, 1):
        heights[side] = u_(*config.effusion_height_range) if rng.random() < config.effusion_probability else 0.0
    lung = np.zeros((rows, columns), dtype=bool)
    fluid = np.zeros((rows, columns), dtype=bool)
    sides = {}
    for side in (-1, 1):
        angle_v = dome[side] + b * u_(0.15, 0.25)
        angle_u = side * a * math.sqrt(1.0 - (angle_v / b) ** 2)
        top_u = side * (mediastinum + 0.45 * (abs(angle_u) - mediastinum))
        k = (angle_v - dome[side]) / (angle_u - top_u) ** 2
        side_lung = thorax & (side * u > mediastinum) & (v <= dome[side] + k * (u - top_u) ** 2)
        side_fluid = side_lung & (v > angle_v - heights[side])
        lung |= side_lung
        fluid |= side_fluid
        sides[side] = {"angle_u": angle_u, "angle_v": angle_v, "top_u": top_u, "k": k}

    # heart: a tilted ellipse whose horizontal half-width is ctr * a
    ctr_drawn = u_(*config.ctr_range)
    phi = math.radians(u_(25.0, 45.0))
    rho = u_(0.65, 0.85)
    half_width = ctr_drawn * a
    p = half_width / math.sqrt(math.cos(phi) ** 2 + rho**2 * math.sin(phi) ** 2)
    q = rho * p
    half_height = math.sqrt(p**2 * math.sin(phi) ** 2 + q**2 * math.cos(phi) ** 2)
    heart_u = a * u_(0.06, 0.14)
    heart_v = dome[1] + 0.15 * b - half_height
    du, dv = u - heart_u, v - heart_v
    along = du * math.cos(phi) + dv * math.sin(phi)
    across = -du * math.sin(phi) + dv * math.cos(phi)
    r_heart = (along / p) ** 2 + (across / q) ** 2
    heart = r_heart <= 1.0
    heart_width = 2.0 * p * math.sqrt(math.cos(phi) ** 2 + rho**2 * math.sin(phi) ** 2)
    thorax_width = 2.0 * a

    # nodules: centres inside a lung (rejection), diameters in mm
    count = int(rng.integers(config.nodule_count_range[0], config.nodule_count_range[1] + 1))
    nodule = np.zeros((rows, columns), dtype=bool)
    nodule_density = np.zeros((rows, columns), dtype=np.float64)
    diameters, centres = [], []
    lung_v, lung_u = np.nonzero(lung)
    for _ in range(count):
        diameter = float(u_(*config.nodule_diameter_range))
        pick = int(rng.integers(len(lung_u))) if len(lung_u) else None
        cu = float(u[lung_v[pick], lung_u[pick]]) if pick is not None else -0.5 * a
        cv = float(v[lung_v[pick], lung_u[pick]]) if pick is not None else 0.0
        rho2 = ((u - cu) ** 2 + (v - cv) ** 2) / (diameter / 2.0) ** 2
        inside = rho2 <= 1.0
        nodule |= inside
        nodule_density += np.sqrt(np.clip(1.0 - rho2, 0.0, None))  # contrast profile normalised to the radius
        diameters.append(diameter)
        centres.append((cu, cv))

    # attenuation (arbitrary units): body, air in the lungs, heart, fluid, nodules, ribs, spine
    body = (u / (1.12 * a)) ** 2 + (v / (1.1 * b)) ** 2
    attenuation = 1.0 * np.sqrt(np.clip(1.0 - body, 0.0, None))
    air = lung & ~heart & ~fluid
    attenuation -= 0.75 * air * np.sqrt(np.clip(1.0 - 0.7 * r_thorax, 0.0, None))
    attenuation += 0.25 * (heart & thorax)
    attenuation += 0.45 * nodule_density
    rib_gap, rib_width = b * u_(0.16, 0.2), b * u_(0.05, 0.07)
    arch = v - 0.35 * b * (u / a) ** 2 + b
    lowest = max(sides[-1]["angle_v"], sides[1]["angle_v"])
    ribs = thorax & (np.abs(u) > 0.6 * mediastinum) & (v < lowest) & (np.mod(arch, rib_gap) < rib_width)
    attenuation += 0.18 * ribs
    attenuation += 0.3 * (np.abs(u) < 0.45 * mediastinum) * (body <= 1.0)
    attenuation = _smooth(np.clip(attenuation, 0.0, None))

    gain, gamma = u_(*config.gain_range), u_(*config.gamma_range)
    offset, noise = u_(50.0, 250.0), u_(*config.noise_range)
    signal = offset + gain * 2600.0 * (attenuation / 1.6) ** gamma
    signal = signal + noise * rng.standard_normal((rows, columns))
    image = np.clip(np.rint(signal), 0, _MAX_VALUE).astype(np.uint16)

    geometry = {
        "cardiothoracic_ratio": heart_width / thorax_width,
        "heart_width": heart_width,
        "thorax_width": thorax_width,
        "effusion_height_right": float(heights[-1]),
        "effusion_height_left": float(heights[1]),
        "nodule_diameters": diameters,
        "nodule_centres": centres,
        "dome_depth_right": float(dome[-1]),
        "dome_depth_left": float(dome[1]),
        "dome_difference": abs(dome[-1] - dome[1]),
        "costophrenic_angles": {"right": sides[-1], "left": sides[1]},
        "thorax_half_axes": (a, b),
        "mediastinum_half_width": mediastinum,
        "heart": {"centre": (heart_u, heart_v), "semi_axes": (p, q), "tilt_deg": math.degrees(phi)},
        "rotation_deg": math.degrees(rotation),
        "centre": (centre_x, centre_y),
        "magnification": magnification,
        "imager_pixel_spacing": imager,
        "pixel_spacing": spacing,
        "rows": rows,
        "columns": columns,
        "gain": gain,
        "gamma": gamma,
        "offset": offset,
        "noise": noise,
    }
    return ChestXraySample(
        image=image,
        pixel_spacing=(spacing, spacing),
        labels=chest_xray_labels(geometry, config),
        geometry=geometry,
        masks={"lung": lung, "heart": heart, "fluid": fluid, "nodule": nodule},
    )


def generate_chest_xray(
    output_dir: os.PathLike | str,
    num_samples: int = 1000,
    seed: int = 0,
    formats: str | Sequence[str] = ("dicom", "png"),
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    progress: bool = False,
    **options,
) -> Path:
    """Generate synthetic PA chest radiographs with exact mm-defined labels; return the path of ``labels.csv``.

    Deterministic: the same arguments give byte-identical files. The DICOM files (``images/<Image>.dcm``) are
    Digital X-Ray Image Storage - For Presentation, 16-bit words with 12 bits stored; with the default
    ``spacing_tags="calibrated"`` they hold PixelSpacing with PixelSpacingCalibrationType ``GEOMETRY`` (read as it
    is, without a warning), ImagerPixelSpacing (``PixelSpacing x magnification``) and
    EstimatedRadiographicMagnificationFactor; with ``"imager"`` only the last two (the readers then divide them,
    with a warning). PNG files (``png/<Image>.png``) hold the top 8 bits; their pixel size is in ``labels.csv``
    (``PixelSpacingRow``, ``PixelSpacingColumn``, mm). The ``Split`` column holds ``training``, ``validation``
    and ``test`` (:data:`~monai_afpe.data.SPLIT_NAMES`), drawn once from ``seed``.

    Args:
        output_dir: folder to write into (created if missing).
        num_samples: number of images.
        seed: seed of all random draws (sample ``i`` uses ``numpy.random.default_rng([seed, i])``).
        formats: ``"dicom"``, ``"png"`` or both (:data:`CHEST_XRAY_FORMATS`); the CSV column of a format not
            written is empty.
        fractions: fractions of training, validation and test images.
        progress: show a progress bar.
        options: further :class:`ChestXrayConfig` fields (size and spacing ranges, thresholds, nuisances).

    Raises:
        ValueError: an unknown format, bad split fractions, or see :class:`ChestXrayConfig`.

    Example::

        labels_csv = generate_chest_xray("data/cxr", num_samples=1000, seed=0)
    """
    config = ChestXrayConfig(**options)
    formats = tuple(ensure_tuple(formats))
    if not formats or any(f not in CHEST_XRAY_FORMATS for f in formats):
        raise ValueError(f"formats must name at least one of {CHEST_XRAY_FORMATS}, got {formats!r}.")
    seed = check_seed(seed)
    output_dir = Path(output_dir)
    counts = split_counts(num_samples, fractions)
    splits = np.repeat(SPLIT_NAMES, counts)[np.random.default_rng([seed]).permutation(num_samples)]
    width = max(5, len(str(num_samples - 1)))
    rows, geometry_rows = [], []
    for index in tqdm(range(num_samples), desc="chest-xray", unit="image", disable=not progress):
        sample = sample_chest_xray(sample_rng(seed, index), config)
        g = sample.geometry
        name = f"CXR{index:0{width}d}"
        dicom_path = png_path = ""
        if "dicom" in formats:
            dicom_path = f"images/{name}.dcm"
            write_radiograph_dicom(
                output_dir / dicom_path,
                sample.image,
                pixel_spacing_mm=g["pixel_spacing"] if config.spacing_tags == "calibrated" else None,
                imager_pixel_spacing_mm=g["imager_pixel_spacing"],
                magnification=g["magnification"],
                uid_entropy=("monai-afpe synthetic chest-xray", seed, name),
                patient_id=name,
            )
        if "png" in formats:
            from PIL import Image

            png_path = f"png/{name}.png"
            (output_dir / "png").mkdir(parents=True, exist_ok=True)
            Image.fromarray((sample.image >> 4).astype(np.uint8), mode="L").save(output_dir / png_path)
        row = {
            "Image": name,
            "Path": dicom_path,
            "PNG": png_path,
            "Split": str(splits[index]),
            "PixelSpacingRow": repr(sample.pixel_spacing[0]),
            "PixelSpacingColumn": repr(sample.pixel_spacing[1]),
            "Rows": sample.image.shape[0],
            "Columns": sample.image.shape[1],
        }
        row.update({label: int(value) for label, value in zip(CHEST_XRAY_LABELS, sample.labels)})
        rows.append(row)
        geometry_rows.append(
            {
                "Image": name,
                "CardiothoracicRatio": repr(g["cardiothoracic_ratio"]),
                "HeartWidth": repr(g["heart_width"]),
                "ThoraxWidth": repr(g["thorax_width"]),
                "EffusionHeightRight": repr(g["effusion_height_right"]),
                "EffusionHeightLeft": repr(g["effusion_height_left"]),
                "NoduleDiameters": ";".join(repr(d) for d in g["nodule_diameters"]),
                "DomeDepthRight": repr(g["dome_depth_right"]),
                "DomeDepthLeft": repr(g["dome_depth_left"]),
                "DomeDifference": repr(g["dome_difference"]),
                "RotationDeg": repr(g["rotation_deg"]),
                "Magnification": repr(g["magnification"]),
            }
        )
    write_csv(output_dir / "geometry.csv", geometry_rows, GEOMETRY_COLUMNS)
    return write_csv(output_dir / "labels.csv", rows, LABELS_COLUMNS)
