"""Synthetic echocardiography: apical long-axis cine loops with an exact ejection fraction.

The left ventricle (LV) is a prolate ellipsoid seen in its long-axis plane: an ellipse of length
``L`` (apex to base) and diameter ``D``, whose single-plane area-length volume
``V = 8 A² / (3 π L)`` with ``A = π L D / 4`` equals the ellipsoid volume ``π L D² / 6`` — the label
is therefore exact by construction. The ejection fraction ``EF = (EDV - ESV) / EDV`` is drawn
uniformly in ``ef_range``; the end-systolic length is the end-diastolic length shortened by a
random fraction and the end-systolic diameter follows from ``ESV = (1 - EF) EDV``.

The heart beats with a cosine cycle: ``w(t) = (1 - cos(2π (t - t_ED) / P)) / 2`` runs from 0 at
end-diastole to 1 at end-systole and both axes move linearly in ``w``, so the volume is largest at
end-diastole and smallest at end-systole. The period ``P`` is an even number of frames, so that
end-diastole (``t_ED + k P``) and end-systole (``t_ED + P / 2 + k P``) fall on sampled frames; the
heart rate is ``60 fps / P``. The myocardium keeps its area, so it thickens in systole; a left
atrium sits below the mitral plane and fills in systole. Speckle, a sector mask, depth attenuation
and gain complete the picture.

Everything except the EF is a nuisance drawn independently of it: LV size and shape, long-axis
shortening, wall thickness, tilt and position of the LV, heart rate, phase, frame rate, imaging
depth (hence pixel spacing), sector angle, atrium, tissue brightness and gain.

Files (EchoNet-Dynamic layout): ``Videos/<FileName>.avi`` (lossless FFV1 grayscale by default) and
``FileList.csv`` with ``FileName`` (no extension, as in EchoNet-Dynamic), ``EF`` (%), ``ESV``,
``EDV`` (mL), ``FrameHeight``, ``FrameWidth``, ``FPS``, ``NumberOfFrames``, ``Split``
(TRAIN / VAL / TEST), followed by extra columns that EchoNet-Dynamic lacks: ``PixelSpacing`` (mm;
AVI cannot store it), ``HeartRate`` (bpm), ``PeriodFrames``, ``EDFrame`` and ``ESFrame`` (first
end-diastolic and end-systolic frame). Optionally ``DICOM/<FileName>.dcm``: ultrasound cine DICOM
with ``FrameTime`` and a calibrated ultrasound region (cm).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from monai_afpe.data.synthetic.sampling import check_image_size, check_range, check_seed, sample_rng
from monai_afpe.data.synthetic.writers import (
    split_counts,
    write_avi,
    write_csv,
    write_ultrasound_cine_dicom,
)

__all__ = [
    "FILELIST_COLUMNS",
    "SPLIT_NAMES",
    "EchoConfig",
    "EchoSample",
    "area_length_volume",
    "sample_echo",
    "generate_echo",
]

#: FileList.csv columns of EchoNet-Dynamic, then the extra columns this generator adds
FILELIST_COLUMNS = (
    "FileName",
    "EF",
    "ESV",
    "EDV",
    "FrameHeight",
    "FrameWidth",
    "FPS",
    "NumberOfFrames",
    "Split",
    "PixelSpacing",
    "HeartRate",
    "PeriodFrames",
    "EDFrame",
    "ESFrame",
)
#: EchoNet-Dynamic split names (training, validation, test)
SPLIT_NAMES = ("TRAIN", "VAL", "TEST")
# mean speckle amplitude after 3x3 binomial smoothing of unit complex noise (std 6/16), to normalise it to 1
_SPECKLE_MEAN = (6.0 / 16.0) * math.sqrt(math.pi / 2.0)


def area_length_volume(area: float | np.ndarray, length: float | np.ndarray) -> float | np.ndarray:
    """Single-plane area-length volume ``8 A² / (3 π L)`` (mm² and mm give mm³)."""
    return 8.0 * np.asarray(area) ** 2 / (3.0 * math.pi * np.asarray(length))


@dataclass(frozen=True)
class EchoConfig:
    """How a synthetic echo loop is drawn; lengths in mm, ranges as ``(low, high)``.

    Args:
        frame_size: ``(height, width)`` in pixels (int or 2 ints).
        num_frames: frames per video; at least one heart period longer than the longest period.
        fps_range: frame rate, an integer drawn in this inclusive range.
        heart_rate_range: heart rate before rounding the period to an even number of frames (bpm).
        ef_range: ejection fraction (fraction, not %).
        depth_range: imaging depth = frame height x pixel spacing.
        sector_angle_range: full opening angle of the sector (degrees).
        lv_length_range: end-diastolic LV length (apex to base).
        lv_aspect_range: end-diastolic diameter / length.
        shortening_range: fraction by which the LV length shortens in systole.
        wall_thickness_range: end-diastolic myocardial wall thickness.
        max_tilt_deg: largest angle between the LV long axis and the sector's centre line.
        gain_range: overall gain.
        codec: AVI codec, see :data:`~monai_afpe.data.synthetic.writers.AVI_CODECS`.
    """

    frame_size: int | Sequence[int] = 112
    num_frames: int = 96
    fps_range: tuple[float, float] = (30, 60)
    heart_rate_range: tuple[float, float] = (50.0, 110.0)
    ef_range: tuple[float, float] = (0.25, 0.75)
    depth_range: tuple[float, float] = (140.0, 180.0)
    sector_angle_range: tuple[float, float] = (75.0, 90.0)
    lv_length_range: tuple[float, float] = (70.0, 95.0)
    lv_aspect_range: tuple[float, float] = (0.5, 0.62)
    shortening_range: tuple[float, float] = (0.05, 0.15)
    wall_thickness_range: tuple[float, float] = (7.0, 11.0)
    max_tilt_deg: float = 12.0
    gain_range: tuple[float, float] = (0.7, 1.3)
    codec: str = "ffv1"

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "frame_size", check_image_size("frame_size", self.frame_size, 2, minimum=16, unit="pixels"))
        set_(self, "fps_range", check_range("fps_range", self.fps_range, minimum=1))
        if any(v != int(v) for v in self.fps_range):
            raise ValueError(f"fps_range must hold integer frame rates, got {self.fps_range!r}.")
        set_(self, "heart_rate_range", check_range("heart_rate_range", self.heart_rate_range, minimum=1.0))
        set_(self, "ef_range", check_range("ef_range", self.ef_range, minimum=0.0, maximum=0.95))
        set_(self, "shortening_range", check_range("shortening_range", self.shortening_range, minimum=0.0))
        if self.shortening_range[1] >= 1.0 - self.ef_range[0]:
            raise ValueError(
                f"shortening_range {self.shortening_range} must stay below 1 - min(ef_range) = "
                f"{1.0 - self.ef_range[0]} so that the LV diameter also shrinks in systole."
            )
        set_(self, "sector_angle_range", check_range("sector_angle_range", self.sector_angle_range, 10.0, 170.0))
        set_(self, "lv_aspect_range", check_range("lv_aspect_range", self.lv_aspect_range, minimum=0.05, maximum=1.0))
        for name in ("depth_range", "lv_length_range", "wall_thickness_range", "gain_range"):
            set_(self, name, check_range(name, getattr(self, name), minimum=1e-3))
        if not 0.0 <= self.max_tilt_deg <= 45.0:
            raise ValueError(f"max_tilt_deg must lie in [0, 45] degrees, got {self.max_tilt_deg!r}.")
        longest = self.period_frames(self.fps_range[1], self.heart_rate_range[0])
        if isinstance(self.num_frames, bool) or not isinstance(self.num_frames, (int, np.integer)):
            raise ValueError(f"num_frames must be an integer, got {self.num_frames!r}.")
        if self.num_frames <= longest:
            raise ValueError(
                f"num_frames={self.num_frames} must exceed the longest heart period ({longest} frames at "
                f"{self.fps_range[1]:g} fps and {self.heart_rate_range[0]:g} bpm) so that every video holds an "
                "end-diastole and an end-systole; raise num_frames or narrow fps_range / heart_rate_range."
            )

    @staticmethod
    def period_frames(fps: float, heart_rate: float) -> int:
        """Heart period in frames, rounded to an even number (at least 2) so end-systole falls on a frame."""
        return 2 * max(1, int(round(fps * 60.0 / heart_rate / 2.0)))


@dataclass(frozen=True)
class EchoSample:
    """One generated loop and its exact geometry.

    Attributes:
        video: uint8 frames ``(frames, height, width)``.
        cavity: bool LV cavity masks ``(frames, height, width)`` (pixel centres inside the cavity).
        sector: bool mask of the imaging sector ``(height, width)``.
        lv_length, lv_diameter: LV length ``L`` and diameter ``D`` per frame (mm).
        wall_thickness: myocardial wall thickness per frame (mm); thickest at end-systole.
        ef: ejection fraction (fraction), exact: ``1 - (L_ES D_ES²) / (L_ED D_ED²)``.
        edv, esv: end-diastolic and end-systolic volumes (mL).
        fps: frame rate; ``period_frames``: heart period in frames (even); ``heart_rate``: bpm.
        ed_frame, es_frame: first end-diastolic and end-systolic frame.
        pixel_spacing: square pixel size (mm).
        record: every drawn parameter.
    """

    video: np.ndarray
    cavity: np.ndarray
    sector: np.ndarray
    lv_length: np.ndarray
    lv_diameter: np.ndarray
    wall_thickness: np.ndarray
    ef: float
    edv: float
    esv: float
    fps: int
    period_frames: int
    heart_rate: float
    ed_frame: int
    es_frame: int
    pixel_spacing: float
    record: dict


def _smooth(x: np.ndarray) -> np.ndarray:
    """3x3 binomial smoothing over the last two axes (edges repeated)."""
    for axis in (-2, -1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (1, 1)
        p = np.pad(x, pad, mode="edge")
        n = x.shape[axis]
        x = (p.take(range(0, n), axis) + 2 * p.take(range(1, n + 1), axis) + p.take(range(2, n + 2), axis)) / 4
    return x


def _ellipse(u: np.ndarray, v: np.ndarray, centre_u, semi_u, semi_v) -> np.ndarray:
    return ((u - centre_u) / semi_u) ** 2 + (v / semi_v) ** 2 <= 1.0


def sample_echo(rng: np.random.Generator, config: EchoConfig | None = None) -> EchoSample:
    """Draw one synthetic apical long-axis loop with ``rng`` (pure: no files are written)."""
    config = EchoConfig() if config is None else config
    u = rng.uniform
    height, width = config.frame_size
    num_frames = config.num_frames

    # timing: integer fps, even period so that ED and ES fall on frames, random phase
    fps = int(rng.integers(int(config.fps_range[0]), int(config.fps_range[1]) + 1))
    period = config.period_frames(fps, u(*config.heart_rate_range))
    ed_frame = int(rng.integers(0, period))
    es_frame = (ed_frame + period // 2) % period
    w = (1.0 - np.cos(2.0 * math.pi * (np.arange(num_frames) - ed_frame) / period)) / 2.0

    # exact LV geometry (mm): EF drawn first, every other parameter independently of it
    ef = float(u(*config.ef_range))
    length_ed = u(*config.lv_length_range)
    diameter_ed = length_ed * u(*config.lv_aspect_range)
    length_es = length_ed * (1.0 - u(*config.shortening_range))
    edv = math.pi * length_ed * diameter_ed**2 / 6.0
    esv = (1.0 - ef) * edv
    diameter_es = math.sqrt(6.0 * esv / (math.pi * length_es))
    lv_length = length_ed + (length_es - length_ed) * w
    lv_diameter = diameter_ed + (diameter_es - diameter_ed) * w

    # imaging geometry: transducer at the top centre, depth along rows
    depth = u(*config.depth_range)
    spacing = depth / height
    half_angle = math.radians(u(*config.sector_angle_range) / 2.0)
    x = ((np.arange(width) - (width - 1) / 2.0) * spacing)[None, :]
    y = ((np.arange(height) + 0.5) * spacing)[:, None]
    radius = np.hypot(x, y)
    sector = (radius <= depth) & (np.abs(np.arctan2(x, y)) <= half_angle) & (radius >= 0.02 * depth)
    tilt = math.radians(u(-config.max_tilt_deg, config.max_tilt_deg))
    apex_x, apex_y = u(-3.0, 3.0), u(25.0, 35.0)
    along = (x - apex_x) * math.sin(tilt) + (y - apex_y) * math.cos(tilt)  # from the apex towards the base
    across = (x - apex_x) * math.cos(tilt) - (y - apex_y) * math.sin(tilt)

    # per-frame ellipses, shapes (frames, 1, 1) against (height, width)
    half_l, half_d = (lv_length / 2.0)[:, None, None], (lv_diameter / 2.0)[:, None, None]
    wall_ed = u(*config.wall_thickness_range)
    a_ed, b_ed = length_ed / 2.0, diameter_ed / 2.0
    wall_area = math.pi * ((a_ed + wall_ed) * (b_ed + wall_ed) - a_ed * b_ed)
    # constant myocardial area: pi ((a + t)(b + t) - a b) = area  ->  t² + (a + b) t - area / pi = 0
    wall = (-(half_l + half_d) + np.sqrt((half_l + half_d) ** 2 + 4.0 * wall_area / math.pi)) / 2.0
    cavity = _ellipse(along, across, half_l, half_l, half_d)
    myocardium = _ellipse(along, across, half_l, half_l + wall, half_d + wall) & ~cavity
    atrium_u, atrium_v = u(14.0, 20.0), u(14.0, 20.0)
    filling = 1.0 + u(0.05, 0.25) * w[:, None, None]
    atrium_centre = 2.0 * half_l + wall + atrium_u * filling
    atrium = _ellipse(along, across, atrium_centre, atrium_u * filling, atrium_v * filling)
    atrium_wall = _ellipse(along, across, atrium_centre, atrium_u * filling + 2.5, atrium_v * filling + 2.5)

    # reflectivity, then speckle, attenuation, gain
    blood, tissue, muscle = u(0.01, 0.04), u(0.2, 0.35), u(0.55, 0.85)
    reflectivity = np.full((num_frames, height, width), tissue, dtype=np.float32)
    reflectivity[atrium_wall] = 0.8 * muscle
    reflectivity[atrium] = blood
    valve_plane = along > 1.8 * half_l  # basal myocardium: mitral annulus and leaflets, dimmer
    reflectivity[myocardium] = muscle
    reflectivity[myocardium & valve_plane] = 0.6 * muscle
    reflectivity[cavity] = blood
    reflectivity = _smooth(reflectivity)
    noise = rng.standard_normal((2, 1, height, width), dtype=np.float32)
    fresh = rng.standard_normal((2, num_frames, height, width), dtype=np.float32)
    correlated = math.sqrt(0.6) * noise + math.sqrt(0.4) * fresh
    speckle = np.hypot(_smooth(correlated[0]), _smooth(correlated[1])) / _SPECKLE_MEAN
    attenuation = np.exp(-u(0.0, 0.8) * radius / depth).astype(np.float32)
    intensity = u(*config.gain_range) * reflectivity * speckle * attenuation * sector
    video = np.clip(255.0 * intensity ** np.float32(0.8), 0, 255).astype(np.uint8)

    heart_rate = 60.0 * fps / period
    record = {
        "ef": ef,
        "edv_ml": edv / 1000.0,
        "esv_ml": esv / 1000.0,
        "lv_length_ed": length_ed,
        "lv_diameter_ed": diameter_ed,
        "lv_length_es": length_es,
        "lv_diameter_es": diameter_es,
        "wall_thickness_ed": wall_ed,
        "fps": fps,
        "period_frames": period,
        "heart_rate": heart_rate,
        "ed_frame": ed_frame,
        "es_frame": es_frame,
        "depth": depth,
        "pixel_spacing": spacing,
        "sector_angle_deg": math.degrees(2.0 * half_angle),
        "tilt_deg": math.degrees(tilt),
        "apex_x": apex_x,
        "apex_y": apex_y,
    }
    return EchoSample(
        video=video,
        cavity=cavity,
        sector=sector,
        lv_length=lv_length,
        lv_diameter=lv_diameter,
        wall_thickness=wall[:, 0, 0],
        ef=ef,
        edv=edv / 1000.0,
        esv=esv / 1000.0,
        fps=fps,
        period_frames=period,
        heart_rate=heart_rate,
        ed_frame=ed_frame,
        es_frame=es_frame,
        pixel_spacing=spacing,
        record=record,
    )


def generate_echo(
    output_dir: os.PathLike | str,
    num_samples: int = 200,
    seed: int = 0,
    frame_size: int | Sequence[int] = 112,
    num_frames: int = 96,
    fractions: Sequence[float] = (0.75, 0.125, 0.125),
    write_dicom: bool = False,
    progress: bool = False,
    **options,
) -> Path:
    """Generate synthetic echo loops in EchoNet-Dynamic's layout; return the path of ``FileList.csv``.

    Deterministic: the same arguments give byte-identical files.

    Args:
        output_dir: folder to write into (created if missing); videos go to ``Videos/``.
        num_samples: number of videos.
        seed: seed of all random draws (sample ``i`` uses ``numpy.random.default_rng([seed, i])``).
        frame_size: ``(height, width)`` in pixels.
        num_frames: frames per video.
        fractions: fractions of TRAIN, VAL and TEST videos.
        write_dicom: also write ultrasound cine DICOM files to ``DICOM/``.
        progress: show a progress bar.
        options: further :class:`EchoConfig` fields (frame rate, heart rate, EF and geometry ranges, codec).

    Example::

        file_list = generate_echo("data/echo", num_samples=200, seed=0)
    """
    config = EchoConfig(frame_size=frame_size, num_frames=num_frames, **options)
    seed = check_seed(seed)
    output_dir = Path(output_dir)
    counts = split_counts(num_samples, fractions)
    splits = np.repeat(SPLIT_NAMES, counts)[np.random.default_rng([seed]).permutation(num_samples)]
    width = max(4, len(str(num_samples - 1)))
    rows = []
    for index in tqdm(range(num_samples), desc="echo", unit="video", disable=not progress):
        sample = sample_echo(sample_rng(seed, index), config)
        name = f"Echo{index:0{width}d}"
        write_avi(output_dir / "Videos" / f"{name}.avi", sample.video, sample.fps, codec=config.codec)
        if write_dicom:
            columns = np.flatnonzero(sample.sector.any(axis=0))
            lines = np.flatnonzero(sample.sector.any(axis=1))
            # reference: the pixel below the transducer in the first row; its centre is 0.5 pixel deep
            reference_x = (config.frame_size[1] - 1) // 2
            offset_x = (reference_x - (config.frame_size[1] - 1) / 2.0) * sample.pixel_spacing
            write_ultrasound_cine_dicom(
                output_dir / "DICOM" / f"{name}.dcm",
                sample.video,
                fps=sample.fps,
                pixel_spacing_mm=sample.pixel_spacing,
                region=(columns[0], lines[0], columns[-1], lines[-1]),
                reference_pixel=(reference_x, 0),
                reference_position_mm=(offset_x, 0.5 * sample.pixel_spacing),
                uid_entropy=("monai-afpe synthetic echo", seed, name),
                patient_id=name,
                heart_rate=sample.heart_rate,
            )
        rows.append(
            {
                "FileName": name,
                "EF": 100.0 * sample.ef,
                "ESV": sample.esv,
                "EDV": sample.edv,
                "FrameHeight": config.frame_size[0],
                "FrameWidth": config.frame_size[1],
                "FPS": sample.fps,
                "NumberOfFrames": config.num_frames,
                "Split": str(splits[index]),
                "PixelSpacing": sample.pixel_spacing,
                "HeartRate": sample.heart_rate,
                "PeriodFrames": sample.period_frames,
                "EDFrame": sample.ed_frame,
                "ESFrame": sample.es_frame,
            }
        )
    return write_csv(output_dir / "FileList.csv", rows, FILELIST_COLUMNS)
