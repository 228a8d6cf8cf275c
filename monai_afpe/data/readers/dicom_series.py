"""DICOM slice-stack geometry: validation of slice positions, and a validating ``PydicomReader``.

A volume's slice spacing is the step between the slices' ImagePositionPatient values along the slice
normal, not SliceThickness (docs/design.md §3.3). MONAI's :class:`~monai.data.PydicomReader` stacks a folder's
files in InstanceNumber order and builds the affine from the first and last positions, but it checks
neither that the slices are evenly spaced nor that they share one orientation, and it silently uses
1 mm when PixelSpacing is missing. AFPE scales (arXiv 2509.02488) are derived from that spacing, so
:class:`DicomSeriesReader` validates the geometry first and then lets ``PydicomReader`` do the reading.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from monai.config import PathLike
from monai.data import PydicomReader
from monai.utils import MetaKeys, ensure_tuple, optional_import

from monai_afpe.data.readers.validation import ImageMetadataError, check_spacing, format_values

pydicom, _ = optional_import("pydicom")

__all__ = ["DICOM_FIELDS", "ROUNDING_TOLERANCE", "SliceGeometry", "check_slice_geometry", "DicomSeriesReader"]

ROUNDING_TOLERANCE = 1e-3
"""Differences up to this (mm for positions and spacings, unitless for direction cosines) are treated
as decimal rounding of DICOM DS strings and accepted silently."""

DICOM_FIELDS = {
    "pixel_spacing": "PixelSpacing (0028,0030)",
    "orientation": "ImageOrientationPatient (0020,0037)",
    "position": "ImagePositionPatient (0020,0032)",
    "slice_thickness": "SliceThickness (0018,0050)",
    "spacing_between_slices": "SpacingBetweenSlices (0018,0088)",
    "rows_columns": "Rows, Columns (0028,0010), (0028,0011)",
    "series_uid": "SeriesInstanceUID (0020,000E)",
}
"""Field names used in messages, keyed by :class:`SliceGeometry` attribute."""

_MAX_LISTED = 5  # offending slices named in one message


@dataclass(frozen=True)
class SliceGeometry:
    """Geometry of one slice of a stack, as stored (values are parsed and checked by :func:`check_slice_geometry`).

    Args:
        name: the slice's label in messages (a file name, or ``"frame 3"``).
        position: ImagePositionPatient, the LPS position (mm) of the first pixel's centre.
        orientation: ImageOrientationPatient, row then column direction cosines (6 values).
        pixel_spacing: PixelSpacing, (row spacing, column spacing) in mm.
        rows_columns: (Rows, Columns).
        slice_thickness: SliceThickness in mm.
        spacing_between_slices: SpacingBetweenSlices in mm.
        series_uid: SeriesInstanceUID.
    """

    name: str
    position: Any = None
    orientation: Any = None
    pixel_spacing: Any = None
    rows_columns: tuple[int, int] | None = None
    slice_thickness: Any = None
    spacing_between_slices: Any = None
    series_uid: str | None = None

    @classmethod
    def from_dataset(cls, ds: Any, name: str) -> SliceGeometry:
        """The geometry of a classic (single-frame) pydicom dataset."""
        rows, columns = ds.get("Rows"), ds.get("Columns")
        return cls(
            name=name,
            position=ds.get("ImagePositionPatient"),
            orientation=ds.get("ImageOrientationPatient"),
            pixel_spacing=ds.get("PixelSpacing"),
            rows_columns=None if rows is None or columns is None else (int(rows), int(columns)),
            slice_thickness=ds.get("SliceThickness"),
            spacing_between_slices=ds.get("SpacingBetweenSlices"),
            series_uid=ds.get("SeriesInstanceUID"),
        )


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown if len(items) <= _MAX_LISTED else f"{shown} and {len(items) - _MAX_LISTED} more"


def _vector(value: Any, length: int, source: str, field: str, where: str) -> np.ndarray:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ImageMetadataError(source, field, f"missing{where}")
    try:
        vector = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ImageMetadataError(source, field, f"expected {length} numbers{where}, got {value!r}") from None
    if vector.size != length or not np.isfinite(vector).all():
        raise ImageMetadataError(source, field, f"expected {length} finite numbers{where}, got {value!r}")
    return vector


def _same(values: Sequence[Any], names: Sequence[str], source: str, field: str, what: str) -> None:
    """Raise when a per-slice value differs from the first slice's (arrays compared up to rounding)."""
    for value, name in zip(values[1:], names[1:]):
        equal = (
            value == values[0]
            if not isinstance(value, np.ndarray)
            else np.allclose(value, values[0], rtol=0.0, atol=ROUNDING_TOLERANCE)
        )
        if not equal:
            first, other = (
                (format_values(values[0]), format_values(value))
                if isinstance(value, np.ndarray)
                else (values[0], value)
            )
            raise ImageMetadataError(
                source,
                field,
                f"inconsistent series: {what} differ between slices ({first} in {names[0]}, {other} in {name})",
            )


def check_slice_geometry(
    slices: Sequence[SliceGeometry],
    source: PathLike,
    tolerance: float = 0.0,
    fields: Mapping[str, str] | None = None,
) -> np.ndarray | None:
    """Validate the geometry of a stack of slices, given in stack order, and return its slice step.

    Errors (:class:`~monai_afpe.data.readers.ImageMetadataError`, naming ``source``, the field and the
    offending slices):

    - a slice lacks PixelSpacing, or it is zero, negative, NaN or infinite;
    - a slice lacks ImageOrientationPatient, or its row and column directions are not unit vectors at
      right angles; or lacks a finite ImagePositionPatient;
    - the slices disagree on PixelSpacing, ImageOrientationPatient, Rows/Columns or SeriesInstanceUID
      (an inconsistent series, e.g. a folder that mixes planes or series);
    - two slices share a position along the slice normal, or the positions do not advance in one
      direction in stack order;
    - the steps between consecutive positions, projected on the slice normal (row direction x column
      direction), differ from their median by more than ``tolerance`` mm (non-uniform slices, e.g. a
      missing slice).

    Warnings: non-uniform steps within ``tolerance`` (the stack's mean step is then used, as MONAI's
    readers do); positions that drift within the slice plane (gantry tilt: the affine is sheared); a
    SliceThickness or SpacingBetweenSlices that differs from the step of the positions.

    Args:
        slices: the slices in the order they are stacked.
        source: the folder or file, for messages.
        tolerance: largest deviation (mm) of a slice step from the median step that is accepted with a
            warning instead of an error. Deviations up to :data:`ROUNDING_TOLERANCE` are always accepted.
        fields: field names for messages, overriding :data:`DICOM_FIELDS` per attribute (e.g. to name
            the functional group an enhanced DICOM value comes from).

    Returns:
        the mean step between consecutive slice positions, ``(last - first) / (n - 1)``, as an LPS
        vector in mm (the slice column of the affine), or ``None`` for a single slice.
    """
    if not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0 (mm), got {tolerance!r}.")
    source = str(source)
    if not slices:
        raise ImageMetadataError(source, "slices", "no DICOM slices to stack")
    fields = {**DICOM_FIELDS, **(fields or {})}
    names = [s.name for s in slices]

    def where(name: str) -> str:
        return f" in {name}" if len(slices) > 1 else ""

    spacings, orientations, positions = [], [], []
    for s in slices:
        try:
            spacings.append(np.asarray(check_spacing(s.pixel_spacing, source, fields["pixel_spacing"])))
        except ImageMetadataError as e:
            raise ImageMetadataError(source, e.field, e.problem + where(s.name)) from None
        if len(spacings[-1]) != 2:
            raise ImageMetadataError(
                source, fields["pixel_spacing"], f"expected 2 values{where(s.name)}, got {s.pixel_spacing!r}"
            )
        orientation = _vector(s.orientation, 6, source, fields["orientation"], where(s.name))
        row, col = orientation[:3], orientation[3:]
        if (
            abs(np.linalg.norm(row) - 1) > ROUNDING_TOLERANCE
            or abs(np.linalg.norm(col) - 1) > ROUNDING_TOLERANCE
            or abs(row @ col) > ROUNDING_TOLERANCE
        ):
            raise ImageMetadataError(
                source,
                fields["orientation"],
                f"row and column directions must be unit vectors at right angles{where(s.name)}, "
                f"got {format_values(orientation)}",
            )
        orientations.append(orientation)
        positions.append(_vector(s.position, 3, source, fields["position"], where(s.name)))
    _same(spacings, names, source, fields["pixel_spacing"], "pixel spacings")
    _same(orientations, names, source, fields["orientation"], "orientations")
    _same([s.rows_columns for s in slices], names, source, fields["rows_columns"], "image sizes")
    series = sorted({s.series_uid for s in slices if s.series_uid})
    if len(series) > 1:
        counts = [f"{uid} ({sum(s.series_uid == uid for s in slices)} files)" for uid in series]
        raise ImageMetadataError(
            source, fields["series_uid"], f"inconsistent series: {len(series)} series in one stack: {_listed(counts)}"
        )
    if len(slices) == 1:
        return None

    normal = np.cross(orientations[0][:3], orientations[0][3:])
    positions = np.stack(positions)
    along = positions @ normal
    steps = np.diff(along)
    pairs = [f"{a} -> {b}" for a, b in zip(names[:-1], names[1:])]
    repeated = [f"{p} at {z:.6g} mm" for p, z, step in zip(pairs, along, steps) if abs(step) <= ROUNDING_TOLERANCE]
    if repeated:
        raise ImageMetadataError(
            source,
            fields["position"],
            f"slices share a position along the slice normal ({_listed(repeated)}); "
            "the stack may hold several series, acquisitions or time points",
        )
    if not (np.all(steps > 0) or np.all(steps < 0)):
        backwards = [p for p, step in zip(pairs, steps) if np.sign(step) != np.sign(np.median(steps))]
        raise ImageMetadataError(
            source,
            fields["position"],
            f"inconsistent series: slice positions do not advance in one direction in stack order "
            f"(steps back at {_listed(backwards)})",
        )
    median = float(np.median(steps))
    deviation = np.abs(steps - median)
    if deviation.max() > ROUNDING_TOLERANCE:
        offending = [
            f"{p}: {abs(step):.6g} mm" for p, step, d in zip(pairs, steps, deviation) if d > ROUNDING_TOLERANCE
        ]
        problem = (
            f"slice positions are not uniformly spaced along the slice normal: steps differ from the median "
            f"{abs(median):.6g} mm by up to {deviation.max():.6g} mm ({_listed(offending)})"
        )
        if deviation.max() > tolerance:
            raise ImageMetadataError(
                source,
                fields["position"],
                f"{problem}; missing or uneven slices? (a tolerance >= {deviation.max():.3g} mm accepts this "
                "with a warning and the mean step)",
            )
        warnings.warn(f"{source}: {fields['position']}: {problem}; using the mean step", stacklevel=2)
    step = (positions[-1] - positions[0]) / (len(slices) - 1)
    mean = float(step @ normal)
    drift = step - mean * normal
    if np.linalg.norm(drift) > ROUNDING_TOLERANCE:
        warnings.warn(
            f"{source}: {fields['position']}: slice positions also move by {np.linalg.norm(drift):.6g} mm per "
            "slice within the slice plane (gantry tilt?); the affine is sheared",
            stacklevel=2,
        )
    for key in ("slice_thickness", "spacing_between_slices"):
        value = getattr(slices[0], key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if abs(float(value) - abs(mean)) > ROUNDING_TOLERANCE:
            warnings.warn(
                f"{source}: {fields[key]}: {float(value):.6g} mm disagrees with the {abs(mean):.6g} mm step between "
                f"slice positions ({fields['position']}); the step is used",
                stacklevel=2,
            )
    return step


@dataclass(frozen=True)
class _NoDicom:
    """What :meth:`DicomSeriesReader.read` returns for a folder without a DICOM file."""

    source: str


class DicomSeriesReader(PydicomReader):
    """MONAI's :class:`~monai.data.PydicomReader` with the slice geometry validated before reading.

    Reads a DICOM series folder (or a classic single-frame DICOM file) exactly as ``PydicomReader``
    does: slices stacked in InstanceNumber order, array ``(columns, rows, slices)`` with the default
    ``swap_ij=True``, affine in RAS whose third column is the step between the first and last
    ImagePositionPatient, ``(last - first) / (n - 1)``. Before that, :func:`check_slice_geometry`
    checks the slices (PixelSpacing present and positive, one orientation, one series, uniformly
    spaced positions along the slice normal) so that the spacing in the affine is the true one; it
    warns when SliceThickness or SpacingBetweenSlices disagree with the step of the positions.

    Multi-frame files are refused (use :class:`~monai_afpe.data.readers.EnhancedDicomReader` or
    :class:`~monai_afpe.data.readers.UltrasoundCineReader`), as are single files without
    ImagePositionPatient / ImageOrientationPatient, whose geometry ``PydicomReader`` would replace by an
    identity affine (an ultrasound image calibrated only by its regions is pointed to
    :class:`~monai_afpe.data.readers.UltrasoundImageReader`).

    ``meta["spacing_units"]`` is ``("mm",) * spatial_dims``.

    Args:
        tolerance: largest deviation (mm) of a slice step from the median step accepted with a warning
            (the mean step is then used); larger deviations raise. Default 0: any real non-uniformity
            raises.
        kwargs: passed to :class:`~monai.data.PydicomReader` (``channel_dim``, ``affine_lps_to_ras``,
            ``swap_ij``, ``fname_regex``, ...).

    Raises:
        ImageMetadataError: from ``get_data``, naming the folder or file, the field and the offending
            files.
    """

    def __init__(self, tolerance: float = 0.0, **kwargs):
        if not np.isfinite(tolerance) or tolerance < 0:
            raise ValueError(f"tolerance must be a finite number >= 0 (mm), got {tolerance!r}.")
        super().__init__(**kwargs)
        self.tolerance = float(tolerance)
        self._sources: list[str] = []

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs):
        """Read the files as :meth:`PydicomReader.read` does, remembering the folders or files given.

        A folder without a DICOM file (``PydicomReader`` fails on it with an ``IndexError``) is reported by
        :meth:`get_data`, so that ``LoadImage`` reports it rather than trying its other readers.
        """
        self._sources = [str(name) for name in ensure_tuple(data)]
        for source in self._sources:
            if os.path.isdir(source):  # the files PydicomReader would try, as it picks them
                names = [os.path.join(source, n) for n in sorted(os.listdir(source))]
                names = [n for n in names if self.fname_regex is None or re.match(self.fname_regex, n)]
                if not any(os.path.isfile(n) and pydicom.misc.is_dicom(n) for n in names):
                    return _NoDicom(source)
        return super().read(data, **kwargs)

    def get_data(self, data) -> tuple[np.ndarray, dict]:
        """Validate the geometry of each series or file, then read it with :meth:`PydicomReader.get_data`.

        Raises:
            ImageMetadataError: a folder holds no DICOM file (field ``slices``), the geometry is invalid (see
                :func:`check_slice_geometry`), an image file lacks InstanceNumber, or the pixel data cannot be
                decoded (field ``PixelData (7FE0,0010)``).
        """
        if isinstance(data, _NoDicom):
            raise ImageMetadataError(data.source, "slices", "no DICOM file in the folder")
        items = [data] if len(self._sources) == 1 else list(data)
        for source, item, names in zip(self._sources, items, self.filenames):
            if isinstance(item, list):
                self._check_series(item, names, source)
            else:
                self._check_file(item, names)
        try:
            array, meta = super().get_data(data)
        except ValueError as error:  # pydicom: pixel data shorter than Rows x Columns x ... says
            source = self._sources[0] if len(self._sources) == 1 else ", ".join(self._sources)
            raise ImageMetadataError(source, "PixelData (7FE0,0010)", f"cannot be decoded: {error}") from error
        meta["spacing_units"] = ("mm",) * len(meta[MetaKeys.SPATIAL_SHAPE])
        return array, meta

    def _check_series(self, datasets: list, names: Sequence[PathLike], source: str) -> None:
        unordered = [
            os.path.basename(str(n))
            for ds, n in zip(datasets, names)
            if "InstanceNumber" not in ds and "PixelData" in ds
        ]
        if unordered:  # PydicomReader would drop them with a warning: a volume with slices missing
            raise ImageMetadataError(
                source,
                "InstanceNumber (0020,0013)",
                f"missing in image file(s) {_listed(unordered)}: no place in the stack (PydicomReader would skip them)",
            )
        # the stack order of PydicomReader: files with an InstanceNumber, sorted by it (stable)
        stack = sorted(
            ((ds, os.path.basename(str(n))) for ds, n in zip(datasets, names) if "InstanceNumber" in ds),
            key=lambda pair: pair[0].InstanceNumber,
        )
        if not stack:
            raise ImageMetadataError(source, "InstanceNumber (0020,0013)", "missing in every file: no stack order")
        for ds, name in stack:
            if int(ds.get("NumberOfFrames") or 1) > 1:
                raise ImageMetadataError(
                    source,
                    "NumberOfFrames (0028,0008)",
                    f"{ds.NumberOfFrames} frames in {name}: not a single-slice file",
                )
        check_slice_geometry([SliceGeometry.from_dataset(ds, name) for ds, name in stack], source, self.tolerance)

    def _check_file(self, ds: Any, source: PathLike) -> None:
        frames = int(ds.get("NumberOfFrames") or 1)
        if frames > 1:
            raise ImageMetadataError(
                source,
                "NumberOfFrames (0028,0008)",
                f"{frames} frames: a multi-frame file (read it with EnhancedDicomReader or UltrasoundCineReader)",
            )
        if "SequenceOfUltrasoundRegions" in ds and "PixelSpacing" not in ds:
            raise ImageMetadataError(
                source,
                DICOM_FIELDS["pixel_spacing"],
                "missing: an ultrasound image calibrated only by its SequenceOfUltrasoundRegions (0018,6011); "
                "read it with UltrasoundImageReader (load_image picks it)",
            )
        check_slice_geometry([SliceGeometry.from_dataset(ds, os.path.basename(str(source)))], source, self.tolerance)
