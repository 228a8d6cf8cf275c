"""Geometry of a stack of DICOM slices or frames: where each slice's geometry is read from, and its validation.

A volume's slice spacing is the step between the slices' ImagePositionPatient values along the slice
normal, not SliceThickness (docs/design.md §3.3). AFPE scales (arXiv 2509.02488) are derived from that
spacing, so every reader of a stack (:class:`~monai_afpe.data.readers.DicomSeriesReader`,
:class:`~monai_afpe.data.readers.EnhancedDicomReader`, :class:`~monai_afpe.data.readers.SimpleITKReader`)
describes its slices as :class:`SliceGeometry` and validates them with :func:`check_slice_geometry`
through :class:`SliceStackMixin`, which owns the ``tolerance`` of the steps.

A classic slice states its geometry in top-level tags (:meth:`SliceGeometry.from_dataset`); a frame of an
enhanced multi-frame file in functional group macros (PS3.3 C.7.6.16), per frame
(PerFrameFunctionalGroupsSequence) or shared by all frames (SharedFunctionalGroupsSequence):
PixelMeasuresSequence (PixelSpacing, SliceThickness, SpacingBetweenSlices), PlanePositionSequence
(ImagePositionPatient) and PlaneOrientationSequence (ImageOrientationPatient), or, for an Enhanced US
Volume, its planes in the volume frame of reference (PlanePositionVolumeSequence,
PlaneOrientationVolumeSequence) (:meth:`SliceGeometry.from_frame`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from monai.config import PathLike

from monai_afpe.data.readers.validation import (
    ImageMetadataError,
    check_metadata_spacing,
    format_list,
    format_values,
    is_missing,
)
from monai_afpe.validation import check_tolerance

__all__ = [
    "DICOM_FIELDS",
    "ENHANCED_DICOM_FIELDS",
    "ROUNDING_TOLERANCE",
    "VOLUME_FIELDS",
    "SliceGeometry",
    "SliceStackMixin",
    "check_slice_geometry",
    "functional_group",
]

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

ENHANCED_DICOM_FIELDS = {
    "pixel_spacing": "PixelMeasuresSequence > PixelSpacing (0028,0030)",
    "slice_thickness": "PixelMeasuresSequence > SliceThickness (0018,0050)",
    "spacing_between_slices": "PixelMeasuresSequence > SpacingBetweenSlices (0018,0088)",
    "position": "PlanePositionSequence > ImagePositionPatient (0020,0032)",
    "orientation": "PlaneOrientationSequence > ImageOrientationPatient (0020,0037)",
    "rows_columns": "Rows, Columns (0028,0010), (0028,0011)",
}
"""Field names used in messages for the frames of an enhanced file: the functional group macro and the attribute."""

VOLUME_FIELDS = {
    **ENHANCED_DICOM_FIELDS,
    "position": "PlanePositionVolumeSequence > ImagePositionVolume (0020,9301)",
    "orientation": "PlaneOrientationVolumeSequence > ImageOrientationVolume (0020,9302)",
}
"""Field names of an Enhanced US Volume's planes in its volume frame of reference."""


def functional_group(ds: Any, frame: int, sequence: str) -> Any:
    """The item of functional group macro ``sequence`` that applies to ``frame`` (0-based), or ``None``.

    A frame's own item in PerFrameFunctionalGroupsSequence wins over SharedFunctionalGroupsSequence
    (PS3.3 C.7.6.16).

    Args:
        ds: a pydicom dataset of an enhanced multi-frame image.
        frame: 0-based frame index.
        sequence: keyword of the macro, e.g. ``"PixelMeasuresSequence"``.
    """
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    candidates = (per_frame[frame] if per_frame and frame < len(per_frame) else None, shared[0] if shared else None)
    for groups in candidates:
        if groups is not None and groups.get(sequence):
            return groups[sequence][0]
    return None


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

    @classmethod
    def from_frame(cls, ds: Any, frame: int, volume: bool = False) -> SliceGeometry:
        """The geometry of frame ``frame`` (0-based) of an enhanced multi-frame pydicom dataset, from its functional
        groups (messages name them with :data:`ENHANCED_DICOM_FIELDS`).

        Args:
            ds: the dataset.
            frame: 0-based frame index; the slice is named ``"frame <frame + 1>"``.
            volume: read the plane in the volume frame of reference (PlanePositionVolumeSequence,
                PlaneOrientationVolumeSequence, as an Enhanced US Volume may state it; messages name them with
                :data:`VOLUME_FIELDS`) instead of the patient's.
        """

        def value(sequence: str, keyword: str) -> Any:
            item = functional_group(ds, frame, sequence)
            return None if item is None else item.get(keyword)

        suffix, patient = ("Volume", "Volume") if volume else ("", "Patient")
        return cls(
            name=f"frame {frame + 1}",
            position=value(f"PlanePosition{suffix}Sequence", f"ImagePosition{patient}"),
            orientation=value(f"PlaneOrientation{suffix}Sequence", f"ImageOrientation{patient}"),
            pixel_spacing=value("PixelMeasuresSequence", "PixelSpacing"),
            slice_thickness=value("PixelMeasuresSequence", "SliceThickness"),
            spacing_between_slices=value("PixelMeasuresSequence", "SpacingBetweenSlices"),
        )


def _vector(value: Any, length: int, source: str, field: str, where: str) -> np.ndarray:
    if is_missing(value):
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

    Raises:
        ValueError: ``tolerance`` is not a finite number >= 0.
    """
    tolerance = check_tolerance(tolerance, "tolerance", unit="mm")
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
            spacings.append(np.asarray(check_metadata_spacing(s.pixel_spacing, source, fields["pixel_spacing"])))
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
            source,
            fields["series_uid"],
            f"inconsistent series: {len(series)} series in one stack: {format_list(counts)}",
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
            f"slices share a position along the slice normal ({format_list(repeated)}); "
            "the stack may hold several series, acquisitions or time points",
        )
    if not (np.all(steps > 0) or np.all(steps < 0)):
        backwards = [p for p, step in zip(pairs, steps) if np.sign(step) != np.sign(np.median(steps))]
        raise ImageMetadataError(
            source,
            fields["position"],
            f"inconsistent series: slice positions do not advance in one direction in stack order "
            f"(steps back at {format_list(backwards)})",
        )
    median = float(np.median(steps))
    deviation = np.abs(steps - median)
    if deviation.max() > ROUNDING_TOLERANCE:
        offending = [
            f"{p}: {abs(step):.6g} mm" for p, step, d in zip(pairs, steps, deviation) if d > ROUNDING_TOLERANCE
        ]
        problem = (
            f"slice positions are not uniformly spaced along the slice normal: steps differ from the median "
            f"{abs(median):.6g} mm by up to {deviation.max():.6g} mm ({format_list(offending)})"
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
        if is_missing(value):
            continue
        if abs(float(value) - abs(mean)) > ROUNDING_TOLERANCE:
            warnings.warn(
                f"{source}: {fields[key]}: {float(value):.6g} mm disagrees with the {abs(mean):.6g} mm step between "
                f"slice positions ({fields['position']}); the step is used",
                stacklevel=2,
            )
    return step


class SliceStackMixin:
    """Mixin of the readers that stack DICOM slices or frames: the ``tolerance`` of the slice steps, checked once at
    construction, and :meth:`check_slices`.

    Args:
        tolerance: largest deviation (mm) of a slice step from the median step accepted with a warning (the
            mean step is then used); larger deviations raise. Default 0: any real non-uniformity raises.
        kwargs: passed to the next class in the method resolution order (the MONAI ``ImageReader``).

    Raises:
        ValueError: ``tolerance`` is not a finite number >= 0.
    """

    def __init__(self, tolerance: float = 0.0, **kwargs):
        self.tolerance = check_tolerance(tolerance, "tolerance", unit="mm")
        super().__init__(**kwargs)

    def check_slices(
        self, slices: Sequence[SliceGeometry], source: PathLike, fields: Mapping[str, str] | None = None
    ) -> np.ndarray | None:
        """:func:`check_slice_geometry` of ``slices`` with this reader's ``tolerance``: the stack's slice step."""
        return check_slice_geometry(slices, source, self.tolerance, fields)
