"""MONAI ``ImageReader``s for ultrasound DICOM: cines ``(C, T, H, W)`` with ``(dt, dy, dx)``, still images ``(C, H, W)``.

Echo clips are the video case of AFPE (arXiv 2509.02488): its best EchoNet encoding weighted time and
space very differently, so the time step must be read in seconds and the pixel size in millimetres.
An ultrasound file has no PixelSpacing: the pixel size is in the SequenceOfUltrasoundRegions
(PhysicalDeltaX / PhysicalDeltaY, in the unit given by PhysicalUnitsXDirection / YDirection), read by
:func:`ultrasound_pixel_spacing` for both readers, and the frame interval of a cine in FrameTime,
FrameTimeVector, CineRate or RecommendedDisplayFrameRate (:func:`frame_interval`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from monai.config import PathLike
from monai.utils import optional_import, require_pkg

from monai_afpe.data.readers.reader_base import PydicomDatasetReader, cine_metadata, image_metadata, pixel_array
from monai_afpe.data.readers.validation import (
    ImageMetadataError,
    check_metadata_spacing,
    format_values,
    is_missing,
)
from monai_afpe.validation import check_per_axis

pydicom, has_pydicom = optional_import("pydicom")

__all__ = [
    "ULTRASOUND_UNITS",
    "frame_interval",
    "ultrasound_pixel_spacing",
    "UltrasoundCineReader",
    "UltrasoundImageReader",
]

ULTRASOUND_UNITS = {
    0: "none",
    1: "percent",
    2: "dB",
    3: "cm",
    4: "seconds",
    5: "hertz",
    6: "dB/seconds",
    7: "cm/sec",
    8: "cm2",
    9: "cm2/sec",
    10: "cm3",
    11: "cm3/sec",
    12: "degrees",
}
"""PhysicalUnitsXDirection / YDirection codes (PS3.3 C.8.5.5.1.15); only 3 (cm) measures pixel size."""

_TIME_FIELDS = (
    "FrameTime (0018,1063)",
    "FrameTimeVector (0018,1065)",
    "CineRate (0018,0040)",
    "RecommendedDisplayFrameRate (0008,2144)",
)
_REGIONS = "SequenceOfUltrasoundRegions (0018,6011)"


def frame_interval(ds: Any, source: PathLike) -> tuple[float, str]:
    """Time between frames in seconds, and the field it was read from.

    Fields in order of preference: FrameTime (ms), FrameTimeVector (ms between consecutive frames;
    the mean is used, with a warning when the intervals differ by more than 1%), CineRate (frames/s),
    RecommendedDisplayFrameRate (frames/s). A field that is present but zero, negative or not finite
    is an error, not a reason to try the next one.

    Raises:
        ImageMetadataError: none of the fields is present, or the first present one is invalid.
    """
    if not is_missing(ds.get("FrameTime")):
        return check_metadata_spacing(ds.FrameTime, source, _TIME_FIELDS[0], "ms")[0] / 1000.0, "FrameTime"
    if not is_missing(ds.get("FrameTimeVector")):
        # the first value is the time before the first frame (0); the others are frame-to-frame intervals
        values = np.asarray(ds.FrameTimeVector, dtype=np.float64).reshape(-1)
        intervals = np.asarray(
            check_metadata_spacing(values[1:] if values.size > 1 else values, source, _TIME_FIELDS[1], "ms")
        )
        mean = float(intervals.mean())
        if np.abs(intervals - mean).max() > 0.01 * mean:
            warnings.warn(
                f"{source}: {_TIME_FIELDS[1]}: frame intervals vary from {intervals.min():.6g} to "
                f"{intervals.max():.6g} ms; using their mean {mean:.6g} ms",
                stacklevel=2,
            )
        return mean / 1000.0, "FrameTimeVector"
    for field, keyword in zip(_TIME_FIELDS[2:], ("CineRate", "RecommendedDisplayFrameRate")):
        if not is_missing(ds.get(keyword)):
            return 1.0 / check_metadata_spacing(ds.get(keyword), source, field, "frames/s")[0], keyword
    raise ImageMetadataError(source, " / ".join(_TIME_FIELDS), "missing: the time between frames is unknown")


def _region_bounds(region: Any) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` of a region (RegionLocationMinX0 ... MaxY1), or ``None`` when a bound is missing."""
    bounds = [
        region.get(k)
        for k in ("RegionLocationMinX0", "RegionLocationMinY0", "RegionLocationMaxX1", "RegionLocationMaxY1")
    ]
    return None if None in bounds else tuple(int(b) for b in bounds)


def _region_area(bounds: tuple[int, int, int, int] | None) -> int:
    """Pixels inside ``bounds`` (inclusive), 0 when unknown or inverted."""
    if bounds is None or bounds[0] > bounds[2] or bounds[1] > bounds[3]:
        return 0
    return (bounds[2] - bounds[0] + 1) * (bounds[3] - bounds[1] + 1)


def _region_size(region: Any, source: PathLike, where: str) -> tuple[float, float]:
    """``(dy, dx)`` in mm of one region; its unit codes must be 3 (cm) and its deltas finite and > 0."""
    for axis in ("X", "Y"):
        code = region.get(f"PhysicalUnits{axis}Direction")
        if code != 3:
            raise ImageMetadataError(
                source,
                f"{_REGIONS} > PhysicalUnits{axis}Direction",
                f"code {code} ({ULTRASOUND_UNITS.get(code, 'unknown')}){where}; only 3 (cm) gives a pixel size",
            )
    try:
        dy, dx = (
            check_metadata_spacing(
                region.get(f"PhysicalDelta{axis}"), source, f"{_REGIONS} > PhysicalDelta{axis}", "cm"
            )[0]
            for axis in "YX"
        )
    except ImageMetadataError as e:
        raise ImageMetadataError(source, e.field, e.problem + where) from None
    return dy * 10.0, dx * 10.0


def ultrasound_pixel_spacing(ds: Any, source: PathLike) -> tuple[float, float]:
    """Pixel size ``(dy, dx)`` in mm from the 2D regions of SequenceOfUltrasoundRegions.

    The one place where this package reads ultrasound calibration: :class:`UltrasoundCineReader` and
    :class:`UltrasoundImageReader` both use it. Only regions with RegionSpatialFormat 1 (2D tissue or
    flow) describe a pixel size. The region used is the largest 2D tissue region (RegionDataType 1; any
    2D region when none is tissue), by the area of its bounds (RegionLocationMinX0 ... MaxY1), the
    first on a tie: the region holding the image data. Its PhysicalUnitsX/YDirection must be 3 (cm,
    converted to mm) and its PhysicalDeltaX/Y finite and > 0.

    The other 2D regions in cm are compared with it (regions in other units are not about pixel size
    and are not compared): when one gives a different size, a warning names the sizes and the chosen
    region's is used, if that region is strictly larger than every disagreeing tissue region;
    otherwise (equal or unknown areas) there is no region to prefer and it is an error. A region whose bounds
    fall outside the image is reported with a warning: its metadata was probably not updated when the
    image was cropped or resized, so its deltas may not describe this image.

    Regions are named by their item number in the sequence (``item 2``) when there are several.

    Raises:
        ImageMetadataError: no 2D region; the chosen region in a unit other than cm (the code is named)
            or with zero / negative / non-finite deltas; disagreeing regions without a largest one.
    """
    items = list(ds.get("SequenceOfUltrasoundRegions") or [])
    regions = [(number, r) for number, r in enumerate(items, 1) if r.get("RegionSpatialFormat") == 1]
    if not regions:
        raise ImageMetadataError(
            source,
            _REGIONS,
            "missing, or holds no 2D region (RegionSpatialFormat 1): the pixel size is unknown "
            "(give pixel_spacing= to the reader or to load_image, or --pixel-spacing to monai-afpe info)",
        )
    several = len(items) > 1

    def where(number: int) -> str:
        return f" in item {number}" if several else ""

    rows, columns = int(ds.Rows), int(ds.Columns)
    for number, region in regions:
        bounds = _region_bounds(region)
        if bounds is not None and (
            bounds[2] >= columns or bounds[3] >= rows or bounds[0] > bounds[2] or bounds[1] > bounds[3]
        ):
            warnings.warn(
                f"{source}: {_REGIONS} > RegionLocation: region x {bounds[0]}..{bounds[2]}, y {bounds[1]}..{bounds[3]}"
                f"{where(number)} lies outside the {columns} x {rows} image; the region metadata was probably not "
                "updated when the image was cropped or resized, so PhysicalDeltaX/Y may not describe it (used as stored)",
                stacklevel=2,
            )
    tissue = [(n, r) for n, r in regions if r.get("RegionDataType") == 1] or regions
    chosen, region = max(tissue, key=lambda item: _region_area(_region_bounds(item[1])))  # first of the largest
    size = _region_size(region, source, where(chosen))
    others = []
    for number, other in regions:
        if number == chosen or any(other.get(f"PhysicalUnits{axis}Direction") != 3 for axis in "XY"):
            continue
        other_size = _region_size(other, source, where(number))
        if not np.allclose(other_size, size):
            others.append((number, other, other_size))
    if others:
        sizes = "; ".join(
            f"item {n}: {format_values(s, 'mm')}"
            for n, _, s in sorted([(chosen, region, size)] + others, key=lambda item: item[0])
        )
        problem = f"2D regions give different pixel sizes (dy, dx): {sizes}"
        area = _region_area(_region_bounds(region))
        candidates = {n for n, _ in tissue}
        if any(n in candidates and _region_area(_region_bounds(other)) >= area for n, other, _ in others):
            raise ImageMetadataError(
                source,
                f"{_REGIONS} > PhysicalDeltaX/Y",
                f"{problem}; no largest 2D tissue region to prefer (give pixel_spacing= to use another size)",
            )
        warnings.warn(
            f"{source}: {_REGIONS} > PhysicalDeltaX/Y: {problem}; using item {chosen}, the largest 2D tissue region "
            f"({area} pixels)",
            stacklevel=2,
        )
    return size


class _UltrasoundRegionReader(PydicomDatasetReader):
    """Shared by the ultrasound readers: ``pixel_spacing`` instead of the regions."""

    def __init__(self, pixel_spacing: Sequence[float] | float | None = None, **kwargs):
        super().__init__(**kwargs)
        if pixel_spacing is not None:
            pixel_spacing = check_per_axis(pixel_spacing, 2, "pixel_spacing")
        self.pixel_spacing = pixel_spacing


@require_pkg(pkg_name="pydicom")
class UltrasoundCineReader(_UltrasoundRegionReader):
    """Load an ultrasound cine DICOM (multi-frame 2D+t) as ``(C, T, H, W)`` with spacing ``(dt, dy, dx)``.

    Frames are the time axis. The affine is ``diag(dt, dy, dx, 1)`` over the array axes ``(T, H, W)``:
    ``dt`` in seconds from :func:`frame_interval`, ``(dy, dx)`` in millimetres from
    :func:`ultrasound_pixel_spacing` (or ``pixel_spacing``). ``meta["spacing_units"]`` is
    ``("s", "mm", "mm")``. Colour data (pydicom converts YBR to RGB) gives ``C = 3``, grey data
    ``C = 1``. The image plane has no patient orientation, so the affine is not a RAS affine: do not
    apply orientation transforms to it.

    Usable with MONAI's loader: ``LoadImaged(keys="image", reader=UltrasoundCineReader())``. Several files
    are concatenated along the channel axis.

    Args:
        pixel_spacing: ``(dy, dx)`` or one value, in mm, to use instead of the ultrasound regions (for
            files without regions, or whose regions are known to be wrong).
        kwargs: passed to ``pydicom.dcmread``.

    Raises:
        ImageMetadataError: from ``get_data``, naming the file and the field: fewer than 2 frames, no
            frame timing, no usable region.
    """

    def get_one(self, img: Any, index: int) -> tuple[np.ndarray, dict]:
        """``(C, T, H, W)`` array and metadata of one file."""
        ds, source = img, self._sources[index]
        frames = int(ds.get("NumberOfFrames") or 1)
        if frames < 2:
            raise ImageMetadataError(
                source,
                "NumberOfFrames (0028,0008)",
                f"{frames} frame: too few dimensions for a cine (T, H, W); at least 2 frames are needed "
                "(UltrasoundImageReader, which load_image picks, reads it as a 2D image)",
            )
        dt, time_field = frame_interval(ds, source)
        dy, dx = self.pixel_spacing or ultrasound_pixel_spacing(ds, source)
        array = pixel_array(ds, source)  # (T, H, W) or (T, H, W, samples)
        array = array[None] if array.ndim == 3 else np.moveaxis(array, -1, 0)
        return array, cine_metadata(dt, dy, dx, array.shape[1:], frame_time_source=time_field)


@require_pkg(pkg_name="pydicom")
class UltrasoundImageReader(_UltrasoundRegionReader):
    """Load a single-frame ultrasound DICOM image as ``(C, H, W)`` with spacing ``(dy, dx)`` in mm.

    For Ultrasound Image Storage (and its retired predecessor), or an ultrasound multi-frame file that
    holds one frame (NumberOfFrames absent or 1): a still image whose only calibration is its
    SequenceOfUltrasoundRegions. ``(dy, dx)`` comes from :func:`ultrasound_pixel_spacing` (the largest
    2D tissue region, cm converted to mm) or ``pixel_spacing``; the affine is ``diag(dy, dx, 1, 1)``
    over the array axes ``(H, W)``, not a patient affine (``meta["patient_affine"]`` is ``False``), and
    ``meta["spacing_units"]`` is ``("mm", "mm")``. Colour data (pydicom converts YBR to RGB) gives
    ``C = 3``, grey data ``C = 1``.

    Usable with MONAI's loader: ``LoadImaged(keys="image", reader=UltrasoundImageReader())``. Several files
    are concatenated along the channel axis.

    Args:
        pixel_spacing: ``(dy, dx)`` or one value, in mm, to use instead of the ultrasound regions.
        kwargs: passed to ``pydicom.dcmread``.

    Raises:
        ImageMetadataError: from ``get_data``, naming the file and the field: more than one frame (a cine,
            for :class:`UltrasoundCineReader`), no usable region.
    """

    def get_one(self, img: Any, index: int) -> tuple[np.ndarray, dict]:
        """``(C, H, W)`` array and metadata of one file."""
        ds, source = img, self._sources[index]
        frames = int(ds.get("NumberOfFrames") or 1)
        if frames != 1:
            raise ImageMetadataError(
                source,
                "NumberOfFrames (0028,0008)",
                f"{frames} frames: not a single image (read a cine with UltrasoundCineReader)",
            )
        dy, dx = self.pixel_spacing or ultrasound_pixel_spacing(ds, source)
        array = pixel_array(ds, source)  # (H, W) or (H, W, samples); pydicom drops a single frame's axis
        samples = int(ds.get("SamplesPerPixel") or 1)
        if array.ndim == (2 if samples == 1 else 3) + 1:
            array = array[0]
        array = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
        return array, image_metadata(dy, dx, array.shape[1:])
