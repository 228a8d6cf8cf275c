"""A MONAI ``ImageReader`` for ultrasound cine DICOM (multi-frame 2D+t): ``(C, T, H, W)`` with ``(dt, dy, dx)``.

Echo clips are the video case of AFPE (arXiv 2509.02488): its best EchoNet encoding weighted time and
space very differently, so the time step must be read in seconds and the pixel size in millimetres.
An ultrasound file has no PixelSpacing: the pixel size is in the SequenceOfUltrasoundRegions
(PhysicalDeltaX / PhysicalDeltaY, in the unit given by PhysicalUnitsXDirection / YDirection), and the
frame interval in FrameTime, FrameTimeVector, CineRate or RecommendedDisplayFrameRate.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from monai.config import PathLike
from monai.data.image_reader import _copy_compatible_dict, _stack_images
from monai.utils import optional_import, require_pkg

from monai_afpe.data.readers.reader_base import PydicomDatasetReader, cine_metadata, pixel_array
from monai_afpe.data.readers.validation import (
    ImageMetadataError,
    check_spacing,
    check_spacing_argument,
    format_values,
)

pydicom, has_pydicom = optional_import("pydicom")

__all__ = ["ULTRASOUND_UNITS", "frame_interval", "ultrasound_pixel_spacing", "UltrasoundCineReader"]

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


def _present(ds: Any, keyword: str) -> bool:
    value = ds.get(keyword)
    return value is not None and not (isinstance(value, str) and not value.strip())


def frame_interval(ds: Any, source: PathLike) -> tuple[float, str]:
    """Time between frames in seconds, and the field it was read from.

    Fields in order of preference: FrameTime (ms), FrameTimeVector (ms between consecutive frames;
    the mean is used, with a warning when the intervals differ by more than 1%), CineRate (frames/s),
    RecommendedDisplayFrameRate (frames/s). A field that is present but zero, negative or not finite
    is an error, not a reason to try the next one.

    Raises:
        ImageMetadataError: none of the fields is present, or the first present one is invalid.
    """
    if _present(ds, "FrameTime"):
        return check_spacing(ds.FrameTime, source, _TIME_FIELDS[0], "ms")[0] / 1000.0, "FrameTime"
    if _present(ds, "FrameTimeVector"):
        # the first value is the time before the first frame (0); the others are frame-to-frame intervals
        values = np.asarray(ds.FrameTimeVector, dtype=np.float64).reshape(-1)
        intervals = np.asarray(check_spacing(values[1:] if values.size > 1 else values, source, _TIME_FIELDS[1], "ms"))
        mean = float(intervals.mean())
        if np.abs(intervals - mean).max() > 0.01 * mean:
            warnings.warn(
                f"{source}: {_TIME_FIELDS[1]}: frame intervals vary from {intervals.min():.6g} to "
                f"{intervals.max():.6g} ms; using their mean {mean:.6g} ms",
                stacklevel=2,
            )
        return mean / 1000.0, "FrameTimeVector"
    for field, keyword in zip(_TIME_FIELDS[2:], ("CineRate", "RecommendedDisplayFrameRate")):
        if _present(ds, keyword):
            return 1.0 / check_spacing(ds.get(keyword), source, field, "frames/s")[0], keyword
    raise ImageMetadataError(source, " / ".join(_TIME_FIELDS), "missing: the time between frames is unknown")


def ultrasound_pixel_spacing(ds: Any, source: PathLike) -> tuple[float, float]:
    """Pixel size ``(dy, dx)`` in mm from the 2D regions of SequenceOfUltrasoundRegions.

    Regions with RegionSpatialFormat 1 (2D tissue or flow) are used; their PhysicalUnitsX/YDirection
    must be 3 (cm; converted to mm) and all of them must give the same PhysicalDeltaX/Y. A region whose
    bounds (RegionLocationMinX0 ... MaxY1) fall outside the image is reported with a warning: its
    metadata was probably not updated when the image was cropped or resized, so its deltas may not
    describe this image.

    Raises:
        ImageMetadataError: no 2D region, a unit other than cm, zero / negative / non-finite deltas, or
            regions that disagree.
    """
    regions = [r for r in (ds.get("SequenceOfUltrasoundRegions") or []) if r.get("RegionSpatialFormat") == 1]
    if not regions:
        raise ImageMetadataError(
            source,
            _REGIONS,
            "missing, or holds no 2D region (RegionSpatialFormat 1): the pixel size is unknown "
            "(give pixel_spacing= to UltrasoundCineReader)",
        )
    rows, columns = int(ds.Rows), int(ds.Columns)
    sizes = []
    for index, region in enumerate(regions):
        where = f" in 2D region {index + 1}" if len(regions) > 1 else ""
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
                check_spacing(region.get(f"PhysicalDelta{axis}"), source, f"{_REGIONS} > PhysicalDelta{axis}", "cm")[0]
                for axis in "YX"
            )
        except ImageMetadataError as e:
            raise ImageMetadataError(source, e.field, e.problem + where) from None
        sizes.append((dy * 10.0, dx * 10.0))
        bounds = [
            region.get(k)
            for k in ("RegionLocationMinX0", "RegionLocationMinY0", "RegionLocationMaxX1", "RegionLocationMaxY1")
        ]
        if None not in bounds and (
            bounds[2] >= columns or bounds[3] >= rows or bounds[0] > bounds[2] or bounds[1] > bounds[3]
        ):
            warnings.warn(
                f"{source}: {_REGIONS} > RegionLocation: region x {bounds[0]}..{bounds[2]}, y {bounds[1]}..{bounds[3]}"
                f"{where} lies outside the {columns} x {rows} image; the region metadata was probably not updated "
                "when the image was cropped or resized, so PhysicalDeltaX/Y may not describe it (used as stored)",
                stacklevel=2,
            )
    if any(not np.allclose(size, sizes[0]) for size in sizes[1:]):
        raise ImageMetadataError(
            source,
            f"{_REGIONS} > PhysicalDeltaX/Y",
            "2D regions give different pixel sizes (dy, dx): " + "; ".join(format_values(size, "mm") for size in sizes),
        )
    return sizes[0]


@require_pkg(pkg_name="pydicom")
class UltrasoundCineReader(PydicomDatasetReader):
    """Load an ultrasound cine DICOM (multi-frame 2D+t) as ``(C, T, H, W)`` with spacing ``(dt, dy, dx)``.

    Frames are the time axis. The affine is ``diag(dt, dy, dx, 1)`` over the array axes ``(T, H, W)``:
    ``dt`` in seconds from :func:`frame_interval`, ``(dy, dx)`` in millimetres from
    :func:`ultrasound_pixel_spacing` (or ``pixel_spacing``). ``meta["spacing_units"]`` is
    ``("s", "mm", "mm")``. Colour data (pydicom converts YBR to RGB) gives ``C = 3``, grey data
    ``C = 1``. The image plane has no patient orientation, so the affine is not a RAS affine: do not
    apply orientation transforms to it.

    Usable with MONAI's loader: ``LoadImaged(keys="image", reader=UltrasoundCineReader())``.

    Args:
        pixel_spacing: ``(dy, dx)`` or one value, in mm, to use instead of the ultrasound regions (for
            files without regions, or whose regions are known to be wrong).
        kwargs: passed to ``pydicom.dcmread``.

    Raises:
        ImageMetadataError: from ``get_data``, naming the file and the field: fewer than 2 frames, no
            frame timing, no usable region.
    """

    def __init__(self, pixel_spacing: Sequence[float] | float | None = None, **kwargs):
        super().__init__(**kwargs)
        if pixel_spacing is not None:
            pixel_spacing = check_spacing_argument(pixel_spacing, "pixel_spacing", 2)
        self.pixel_spacing = pixel_spacing

    def get_data(self, img) -> tuple[np.ndarray, dict]:
        """``(C, T, H, W)`` array and metadata; several files are concatenated along the channel axis."""
        arrays: list[np.ndarray] = []
        compatible_meta: dict = {}
        for ds, source in zip(img if isinstance(img, list) else [img], self._sources):  # a Dataset is iterable
            frames = int(ds.get("NumberOfFrames") or 1)
            if frames < 2:
                raise ImageMetadataError(
                    source,
                    "NumberOfFrames (0028,0008)",
                    f"{frames} frame: too few dimensions for a cine (T, H, W); at least 2 frames are needed",
                )
            dt, time_field = frame_interval(ds, source)
            dy, dx = self.pixel_spacing or ultrasound_pixel_spacing(ds, source)
            array = pixel_array(ds, source)  # (T, H, W) or (T, H, W, samples)
            array = array[None] if array.ndim == 3 else np.moveaxis(array, -1, 0)
            arrays.append(array)
            meta = cine_metadata(dt, dy, dx, array.shape[1:], frame_time_source=time_field)
            _copy_compatible_dict(meta, compatible_meta)
        return _stack_images(arrays, compatible_meta), compatible_meta
