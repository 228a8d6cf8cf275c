"""A MONAI ``ImageReader`` for enhanced multi-frame DICOM (Enhanced CT / MR / PET / US Volume, Legacy Converted, ...) and
projection X-ray (CR, DX, MG, XA, XRF).

An enhanced multi-frame file stores one volume as frames; its geometry is not in top-level tags but in
functional group macros, the same in every enhanced SOP class (:data:`ENHANCED_MULTIFRAME_STORAGE`), read
by :meth:`~monai_afpe.data.readers.SliceGeometry.from_frame`. MONAI's ``PydicomReader`` reads none of them
for images (it falls back to an identity affine), so AFPE scales (arXiv 2509.02488) would be derived from a
1 mm guess.

Projection X-ray (CR, DX, MG, intra-oral, and XA and XRF classic and enhanced: :data:`PROJECTION_XRAY_STORAGE`)
has no plane position: a radiograph is read as a 2D image ``(C, H, W)``, the frames of XA / XRF as time points of
one projection, a cine ``(C, T, H, W)``, both with the pixel size of :func:`projection_pixel_spacing` (the DICOM
rule: calibrated PixelSpacing, else ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor, else
ImagerPixelSpacing at the detector, with a warning whenever it is not a calibrated PixelSpacing).

The pixels are read with pydicom and the affine is built here, not read by SimpleITK (GDCM), which
does read Enhanced CT / MR / PET, Legacy Converted, X-Ray 3D, Breast Tomosynthesis, IVOCT and
Ophthalmic Tomography frames with the same spacing, directions and origin as this reader (SimpleITK
2.5.7, the files of ``tests/readers_testdata.py``), but not every file this reader serves:

- an Enhanced US Volume (1.2.840.10008.5.1.4.1.1.6.2), with patient planes or only volume-frame ones,
  comes back as 1 x 1 x 1 mm with an identity direction and origin 0, without an error;
- a stack whose steps are uneven within ``tolerance`` (frames at 0, 2, 4.2, 6 mm) comes back as
  1 x 1 x 1 mm, in-plane spacing included, where this reader warns and uses the 2 mm mean step;
- Enhanced XA frames come back as a 1 mm third spatial axis, not as time points;
- a Parametric Map (1.2.840.10008.5.1.4.1.1.30) is refused ("Unable to determine ImageIO reader").

``tests/test_readers_enhanced_dicom.py::test_simpleitk_reads_some_enhanced_files_with_the_wrong_geometry``
checks these cases against the installed SimpleITK.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from monai.data.utils import orientation_ras_lps
from monai.utils import MetaKeys, SpaceKeys, optional_import, require_pkg

from monai_afpe.data.readers.reader_base import PydicomDatasetReader, cine_metadata, image_metadata, pixel_array
from monai_afpe.data.readers.slice_geometry import (
    ENHANCED_DICOM_FIELDS,
    ROUNDING_TOLERANCE,
    VOLUME_FIELDS,
    SliceGeometry,
    SliceStackMixin,
    functional_group,
)
from monai_afpe.data.readers.ultrasound_cine import frame_interval
from monai_afpe.data.readers.validation import ImageMetadataError, check_metadata_spacing, format_values, is_missing

pydicom, has_pydicom = optional_import("pydicom")

__all__ = ["ENHANCED_MULTIFRAME_STORAGE", "PROJECTION_XRAY_STORAGE", "projection_pixel_spacing", "EnhancedDicomReader"]

ENHANCED_MULTIFRAME_STORAGE = {
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.2.2": "Legacy Converted Enhanced CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.3": "Enhanced MR Color Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.130": "Enhanced PET Image Storage",
    "1.2.840.10008.5.1.4.1.1.128.1": "Legacy Converted Enhanced PET Image Storage",
    "1.2.840.10008.5.1.4.1.1.6.2": "Enhanced US Volume Storage",
    "1.2.840.10008.5.1.4.1.1.12.1.1": "Enhanced XA Image Storage",
    "1.2.840.10008.5.1.4.1.1.12.2.1": "Enhanced XRF Image Storage",
    "1.2.840.10008.5.1.4.1.1.13.1.1": "X-Ray 3D Angiographic Image Storage",
    "1.2.840.10008.5.1.4.1.1.13.1.2": "X-Ray 3D Craniofacial Image Storage",
    "1.2.840.10008.5.1.4.1.1.13.1.3": "Breast Tomosynthesis Image Storage",
    "1.2.840.10008.5.1.4.1.1.14.1": "Intravascular OCT Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.14.2": "Intravascular OCT Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.30": "Parametric Map Storage",
    "1.2.840.10008.5.1.4.1.1.77.1.5.4": "Ophthalmic Tomography Image Storage",
}
"""Enhanced multi-frame image SOP classes (SOPClassUID -> name): their geometry is in functional groups, and
``select_reader`` gives them to :class:`EnhancedDicomReader` (as any file with functional groups)."""

PROJECTION_XRAY_STORAGE = {
    "1.2.840.10008.5.1.4.1.1.1": "Computed Radiography Image Storage",
    "1.2.840.10008.5.1.4.1.1.1.1": "Digital X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "Digital X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.1.2": "Digital Mammography X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.2.1": "Digital Mammography X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.1.3": "Digital Intra-Oral X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.3.1": "Digital Intra-Oral X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.12.1": "X-Ray Angiographic Image Storage",
    "1.2.840.10008.5.1.4.1.1.12.1.1": "Enhanced XA Image Storage",
    "1.2.840.10008.5.1.4.1.1.12.2": "X-Ray Radiofluoroscopic Image Storage",
    "1.2.840.10008.5.1.4.1.1.12.2.1": "Enhanced XRF Image Storage",
}
"""Projection X-ray SOP classes (SOPClassUID -> name): projection radiography (CR, DX, MG, intra-oral) and XA / XRF,
classic and enhanced. No plane position; frames, if several, are time points. :class:`EnhancedDicomReader` reads
them as a 2D image (or a cine) with the pixel size of :func:`projection_pixel_spacing`."""

_PIXEL_SPACING_FIELDS = (
    ("PixelMeasuresSequence", "PixelSpacing", "PixelMeasuresSequence > PixelSpacing (0028,0030)"),
    (None, "PixelSpacing", "PixelSpacing (0028,0030)"),
)
_IMAGER_SPACING_FIELDS = (
    (
        "FramePixelDataPropertiesSequence",
        "ImagerPixelSpacing",
        "FramePixelDataPropertiesSequence > ImagerPixelSpacing (0018,1164)",
    ),
    (None, "ImagerPixelSpacing", "ImagerPixelSpacing (0018,1164)"),
)
_MAGNIFICATION_FIELD = "EstimatedRadiographicMagnificationFactor (0018,1114)"


def projection_refusal(source: str, sop_class: str) -> ImageMetadataError:
    """The error of a reader that does not read projection X-ray files (``sop_class`` in :data:`PROJECTION_XRAY_STORAGE`),
    pointing to :class:`EnhancedDicomReader`."""
    return ImageMetadataError(
        source,
        "SOPClassUID (0008,0016)",
        f"{PROJECTION_XRAY_STORAGE[sop_class]}: a projection X-ray image has no plane position, its frames are time "
        "points, not slices, and its pixel size follows the projection rule (PixelSpacing / ImagerPixelSpacing); "
        "read it with EnhancedDicomReader (load_image picks it)",
    )


def _sop_name(ds: Any) -> str:
    uid = str(ds.get("SOPClassUID") or "")
    return PROJECTION_XRAY_STORAGE.get(uid) or ENHANCED_MULTIFRAME_STORAGE.get(uid) or uid or "SOPClassUID missing"


def _label(field: str) -> str:
    """``"PixelSpacing (0028,0030)"`` -> ``"PixelSpacing"``: a field without its tag, for ``meta["spacing_source"]``."""
    return field.rsplit(" (", 1)[0]


def _element(ds: Any, keyword: str, source: str, field: str) -> Any:
    """``ds.get(keyword)``, or an error naming the field when pydicom cannot convert the stored value (a DS "abc")."""
    try:
        return ds.get(keyword)
    except (ValueError, TypeError) as error:
        raise ImageMetadataError(source, field, f"expected numbers, cannot read the stored value ({error})") from None


def _first_spacing(ds: Any, source: str, fields) -> tuple[tuple[float, float], str] | None:
    """``(dy, dx)`` and the field of the first of ``fields`` present (functional group or top level), checked; None
    when none is present.

    Raises:
        ImageMetadataError: the first present field is not two finite values > 0, or differs between frames.
    """
    frames = int(ds.get("NumberOfFrames") or 1)
    for sequence, keyword, field in fields:
        if sequence is None:
            values = [_element(ds, keyword, source, field)]
        else:
            items = [functional_group(ds, frame, sequence) for frame in range(frames)]
            values = [None if item is None else _element(item, keyword, source, field) for item in items]
        if all(is_missing(v) for v in values):
            continue
        if all(repr(v) == repr(values[0]) for v in values):  # shared, or the same in every frame
            values = values[:1]
        sizes = []
        for frame, value in enumerate(values):
            where = f" in frame {frame + 1}" if len(values) > 1 else ""
            try:
                size = check_metadata_spacing(value, source, field)
            except ImageMetadataError as e:
                raise ImageMetadataError(source, field, e.problem + where) from None
            if len(size) != 2:
                raise ImageMetadataError(source, field, f"expected 2 values{where}, got {value!r}")
            sizes.append(size)
        for frame, size in enumerate(sizes[1:], 2):
            if not np.allclose(size, sizes[0], rtol=0.0, atol=ROUNDING_TOLERANCE):
                raise ImageMetadataError(
                    source,
                    field,
                    f"differs between frames ({format_values(sizes[0], 'mm')} in frame 1, "
                    f"{format_values(size, 'mm')} in frame {frame})",
                )
        return (float(sizes[0][0]), float(sizes[0][1])), field
    return None


def _calibration(ds: Any) -> str | None:
    """PixelSpacingCalibrationType (0028,0A02), else PixelSpacingCalibrationDescription (0028,0A04), at the top level
    or in the first frame's PixelMeasuresSequence; None when neither is stated."""
    item = functional_group(ds, 0, "PixelMeasuresSequence")
    for keyword in ("PixelSpacingCalibrationType", "PixelSpacingCalibrationDescription"):
        for where in (ds, item):
            value = None if where is None else where.get(keyword)
            if not is_missing(value):
                return " ".join(str(value).split())
    return None


def _magnification(ds: Any, source: str) -> float | None:
    """EstimatedRadiographicMagnificationFactor (SID / SOD), checked; None when absent or empty.

    Raises:
        ImageMetadataError: not one finite number >= 1.
    """
    value = _element(ds, "EstimatedRadiographicMagnificationFactor", source, _MAGNIFICATION_FIELD)
    if is_missing(value):
        return None
    try:
        values = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        values = np.asarray([])
    if values.size != 1 or not (np.isfinite(values[0]) and values[0] >= 1.0):
        raise ImageMetadataError(
            source,
            _MAGNIFICATION_FIELD,
            f"expected one finite number >= 1 (source-to-detector over source-to-object distance: the detector is "
            f"never nearer the source than the patient), got {value}",
        )
    return float(values[0])


def projection_pixel_spacing(ds: Any, source: str) -> tuple[tuple[float, float], str]:
    """Pixel size ``(dy, dx)`` in mm of a projection X-ray image (CR, DX, MG, XA, XRF, ...), and where it came from.

    DICOM PS3.3 10.7.1.1 and C.8.11.4: PixelSpacing (0028,0030) is the pixel size in the patient,
    ImagerPixelSpacing (0018,1164) the one at the detector, larger by the geometric magnification, which
    EstimatedRadiographicMagnificationFactor (0018,1114, SID / SOD) estimates. The rule, for the first present of
    each field (PixelMeasuresSequence > PixelSpacing, then PixelSpacing; FramePixelDataPropertiesSequence >
    ImagerPixelSpacing, then ImagerPixelSpacing):

    1. PixelSpacing with PixelSpacingCalibrationType (or ...Description) stated: used, calibrated, no warning.
    2. PixelSpacing without a stated calibration but different from ImagerPixelSpacing (so corrected for the
       magnification or calibrated, as the standard says), or without ImagerPixelSpacing to compare with: used,
       with a warning.
    3. Otherwise (no PixelSpacing, or one equal to ImagerPixelSpacing and not calibrated) ImagerPixelSpacing
       divided by EstimatedRadiographicMagnificationFactor when given, else ImagerPixelSpacing as stored, at the
       detector (sizes in the anatomy come out larger by the magnification, 1.1-1.2 for a chest PA); both with
       a warning.

    Every warning names ``source`` and the field used. The second value returned says where the spacing came from
    (``meta["spacing_source"]`` of the readers), e.g. ``"PixelSpacing (calibrated: GEOMETRY)"``,
    ``"ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor 1.15"``,
    ``"ImagerPixelSpacing (detector plane, no magnification)"``.

    Raises:
        ImageMetadataError: neither PixelSpacing nor ImagerPixelSpacing is present; a field used (or compared
            with) is not two finite values > 0 or differs between frames; EstimatedRadiographicMagnificationFactor
            is not one finite number >= 1. A field present but invalid is an error, not a reason to try the next.
    """
    sop = _sop_name(ds)
    pixel = _first_spacing(ds, source, _PIXEL_SPACING_FIELDS)
    note = "no PixelSpacing"
    if pixel is not None:
        spacing, field = pixel
        calibration = _calibration(ds)
        if calibration is not None:
            return spacing, f"{_label(field)} (calibrated: {calibration})"
        imager = _first_spacing(ds, source, _IMAGER_SPACING_FIELDS)
        if imager is None:
            warnings.warn(
                f"{source}: {field}: a projection X-ray image ({sop}): using {format_values(spacing, 'mm')} as the "
                "pixel size in the patient; with neither PixelSpacingCalibrationType nor ImagerPixelSpacing, whether "
                "it was corrected for the geometric magnification cannot be told (if not, sizes in the anatomy come "
                "out larger by it)",
                stacklevel=2,
            )
            return spacing, f"{_label(field)} (calibration not stated)"
        if not np.allclose(spacing, imager[0], rtol=0.0, atol=ROUNDING_TOLERANCE):
            warnings.warn(
                f"{source}: {field}: a projection X-ray image ({sop}): using {format_values(spacing, 'mm')}, the "
                f"pixel size in the plane it was calibrated for (PixelSpacingCalibrationType: not stated; it differs "
                f"from {imager[1]} {format_values(imager[0], 'mm')}, so it was corrected for the magnification or "
                "calibrated); anatomy nearer the source or the detector is magnified differently",
                stacklevel=2,
            )
            return spacing, f"{_label(field)} (calibration type not stated)"
        note = f"{field} equals it and no PixelSpacingCalibrationType is stated: not calibrated"
    else:
        imager = _first_spacing(ds, source, _IMAGER_SPACING_FIELDS)
    if imager is None:
        groups = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
        also = (
            ", also in the functional groups (PixelMeasuresSequence, FramePixelDataPropertiesSequence)"
            if groups
            else ""
        )
        raise ImageMetadataError(
            source,
            "PixelSpacing (0028,0030) / ImagerPixelSpacing (0018,1164)",
            f"missing{also}: a projection X-ray image ({sop}) without calibration; the pixel size is unknown",
        )
    spacing, field = imager
    factor = _magnification(ds, source)
    if factor is not None:
        corrected = (spacing[0] / factor, spacing[1] / factor)
        warnings.warn(
            f"{source}: {field} / {_MAGNIFICATION_FIELD}: a projection X-ray image ({sop}): {note}; using "
            f"{format_values(spacing, 'mm')} / {factor:.6g} = {format_values(corrected, 'mm')}, the pixel size at "
            "the detector scaled to the plane the magnification was estimated for; anatomy nearer the source or the "
            "detector is magnified differently",
            stacklevel=2,
        )
        return corrected, f"{_label(field)} / EstimatedRadiographicMagnificationFactor {factor:.6g}"
    warnings.warn(
        f"{source}: {field}: a projection X-ray image ({sop}): {note}; using {format_values(spacing, 'mm')}, the pixel "
        "size at the detector: in the patient, pixels are smaller by the geometric magnification, which is not "
        f"applied (no {_MAGNIFICATION_FIELD}): sizes in the anatomy come out larger by it, typically 1.1-1.2 for a "
        "chest PA radiograph",
        stacklevel=2,
    )
    return spacing, f"{_label(field)} (detector plane, no magnification)"


@require_pkg(pkg_name="pydicom")
class EnhancedDicomReader(SliceStackMixin, PydicomDatasetReader):
    """Load an enhanced multi-frame DICOM file as a volume with the affine from its functional groups.

    Every enhanced SOP class (:data:`ENHANCED_MULTIFRAME_STORAGE`: Enhanced CT / MR / PET / US Volume,
    the Legacy Converted ones, ...) has the same geometry macros and is read the same way. The output
    follows MONAI's :class:`~monai.data.PydicomReader` conventions for a series: array
    ``(columns, rows, frames)`` (channels last for colour data), frames in file order, affine in RAS
    (unless ``affine_lps_to_ras=False``) with columns ``row direction * column spacing``,
    ``column direction * row spacing``, ``(last - first ImagePositionPatient) / (frames - 1)`` and the
    first frame's position. A single-frame file gives a 2D image ``(columns, rows)``.

    The frames' geometry is validated with :func:`~monai_afpe.data.readers.check_slice_geometry`
    (PixelSpacing present and positive, one orientation, uniformly spaced positions along the slice
    normal; warnings when SliceThickness / SpacingBetweenSlices disagree with the position step).
    Stored values are rescaled to float32 with RescaleSlope / RescaleIntercept from each frame's
    PixelValueTransformationSequence (or top-level tags) when present. Files holding several stacks
    or time points (positions that repeat) are refused.

    An Enhanced US Volume without patient planes (no PlanePositionSequence / PlaneOrientationSequence)
    is read from its volume frame of reference (PlanePositionVolumeSequence > ImagePositionVolume,
    PlaneOrientationVolumeSequence > ImageOrientationVolume) with a warning: the spacing holds, the
    affine's directions are the transducer volume's, not the patient's (``meta["patient_affine"]`` is
    ``False``).

    Projection X-ray files (CR, DX, MG, intra-oral; XA, XRF, classic or enhanced: :data:`PROJECTION_XRAY_STORAGE`)
    have no plane position; their frames are time points. They are read as a cine ``(C, T, H, W)`` with spacing
    ``(dt, dy, dx)`` (``dt`` in seconds by :func:`~monai_afpe.data.readers.frame_interval`), or a
    single frame (a radiograph) as ``(C, H, W)`` with ``(dy, dx)``; the pixel size comes from
    :func:`projection_pixel_spacing` (a warning unless it is a calibrated PixelSpacing), and
    ``meta["spacing_source"]`` says which field it came from. Neither affine is a patient affine
    (``meta["patient_affine"]`` is ``False``).

    ``meta["spacing_units"]`` is ``("mm",) * spatial_dims`` (``("s", "mm", "mm")`` for a projection cine).
    Several files are stacked as channels (a new first axis).

    Args:
        affine_lps_to_ras: convert the affine from DICOM's LPS to RAS (default), as MONAI's readers do.
        tolerance: largest deviation (mm) of a frame step from the median step accepted with a warning.
        kwargs: passed to ``pydicom.dcmread``.

    Raises:
        ValueError: ``tolerance`` is not a finite number >= 0.
        ImageMetadataError: from ``get_data``, naming the file and the functional group field.
    """

    def __init__(self, affine_lps_to_ras: bool = True, tolerance: float = 0.0, **kwargs):
        super().__init__(tolerance=tolerance, **kwargs)
        self.affine_lps_to_ras = affine_lps_to_ras

    def get_one(self, img: Any, index: int) -> tuple[np.ndarray, dict]:
        """Array and metadata of one file: a volume, or a projection X-ray cine or image."""
        source = self._sources[index]
        if str(img.get("SOPClassUID") or "") in PROJECTION_XRAY_STORAGE:
            return self._projection(img, source)
        return self._volume(img, source)

    def _volume(self, ds: Any, source: str) -> tuple[np.ndarray, dict]:
        if ds.get("NumberOfFrames") is None:
            raise ImageMetadataError(source, "NumberOfFrames (0028,0008)", "missing: not a multi-frame file")
        frames = int(ds.NumberOfFrames)
        per_frame = ds.get("PerFrameFunctionalGroupsSequence")
        if per_frame is None and not ds.get("SharedFunctionalGroupsSequence"):
            uid = str(ds.get("SOPClassUID") or "")
            claim = (
                f", although its SOPClassUID is {ENHANCED_MULTIFRAME_STORAGE[uid]}"
                if uid in ENHANCED_MULTIFRAME_STORAGE
                else ""
            )
            raise ImageMetadataError(
                source,
                "PerFrameFunctionalGroupsSequence (5200,9230)",
                "missing, and no SharedFunctionalGroupsSequence (5200,9229): not an enhanced multi-frame file"
                f"{claim}; its frames have no geometry",
            )
        if per_frame is not None and len(per_frame) != frames:
            raise ImageMetadataError(
                source,
                "PerFrameFunctionalGroupsSequence (5200,9230)",
                f"{len(per_frame)} items for NumberOfFrames {frames}",
            )
        volume = not any(
            functional_group(ds, frame, sequence) is not None
            for frame in range(frames)
            for sequence in ("PlanePositionSequence", "PlaneOrientationSequence")
        ) and any(functional_group(ds, frame, "PlanePositionVolumeSequence") is not None for frame in range(frames))
        slices = [SliceGeometry.from_frame(ds, frame, volume) for frame in range(frames)]
        fields = VOLUME_FIELDS if volume else ENHANCED_DICOM_FIELDS
        step = self.check_slices(slices, source, fields)
        if volume:
            warnings.warn(
                f"{source}: {fields['position']}: no patient plane position or orientation (PlanePositionSequence, "
                f"PlaneOrientationSequence) in this {_sop_name(ds)} file: its planes are read in the volume frame of "
                "reference; the spacing holds, but the affine's directions are the transducer volume's, not the patient's",
                stacklevel=2,
            )

        array = pixel_array(ds, source)
        array = array[None] if frames == 1 else array  # (frames, rows, columns[, samples])
        array = self._rescale(ds, array)
        array = np.swapaxes(array, 0, 2)  # (columns, rows, frames[, samples]), as PydicomReader stacks a series
        if frames == 1:
            array = array[:, :, 0]

        orientation = np.asarray(slices[0].orientation, dtype=np.float64)
        row_spacing, column_spacing = np.asarray(slices[0].pixel_spacing, dtype=np.float64)
        affine = np.eye(4)
        affine[:3, 0] = orientation[:3] * column_spacing
        affine[:3, 1] = orientation[3:] * row_spacing
        affine[:3, 2] = np.cross(orientation[:3], orientation[3:]) if step is None else step
        affine[:3, 3] = np.asarray(slices[0].position, dtype=np.float64)
        if self.affine_lps_to_ras:
            affine = orientation_ras_lps(affine)

        spatial_shape = array.shape[: 3 if frames > 1 else 2]
        meta = {
            MetaKeys.ORIGINAL_AFFINE: affine,
            MetaKeys.AFFINE: affine.copy(),
            MetaKeys.SPACE: SpaceKeys.RAS if self.affine_lps_to_ras else SpaceKeys.LPS,
            MetaKeys.SPATIAL_SHAPE: np.asarray(spatial_shape),
            MetaKeys.ORIGINAL_CHANNEL_DIM: float("nan") if array.ndim == len(spatial_shape) else -1,
            "spacing_units": ("mm",) * len(spatial_shape),
        }
        if volume:
            meta["patient_affine"] = False
        return array, meta

    def _projection(self, ds: Any, source: str) -> tuple[np.ndarray, dict]:
        """A projection X-ray file: ``(C, T, H, W)`` with ``(dt, dy, dx)``, or one frame as ``(C, H, W)`` with ``(dy, dx)``."""
        frames = int(ds.get("NumberOfFrames") or 1)
        dt, time_field = frame_interval(ds, source) if frames > 1 else (None, None)
        (dy, dx), spacing_source = projection_pixel_spacing(ds, source)
        array = pixel_array(ds, source)
        samples = int(ds.get("SamplesPerPixel") or 1)
        if array.ndim == (2 if samples == 1 else 3):
            array = array[None]  # (frames, rows, columns[, samples])
        array = self._rescale(ds, array)
        array = array[:, None] if samples == 1 else np.moveaxis(array, -1, 1)  # (frames, C, rows, columns)
        if frames == 1:
            return array[0], image_metadata(dy, dx, array.shape[2:], spacing_source=spacing_source)
        return np.swapaxes(array, 0, 1), cine_metadata(
            dt,
            dy,
            dx,
            (frames, *array.shape[2:]),
            frame_time_source=time_field,
            patient_affine=False,
            spacing_source=spacing_source,
        )

    @staticmethod
    def _rescale(ds: Any, array: np.ndarray) -> np.ndarray:
        """Apply each frame's RescaleSlope / RescaleIntercept (functional group, else top level), if any."""
        slopes, intercepts = [], []
        for frame in range(array.shape[0]):
            item = functional_group(ds, frame, "PixelValueTransformationSequence")
            source = item if item is not None and "RescaleSlope" in item else ds
            slopes.append(float(source.get("RescaleSlope", 1.0)))
            intercepts.append(float(source.get("RescaleIntercept", 0.0)))
        if all(s == 1.0 for s in slopes) and all(i == 0.0 for i in intercepts):
            return array
        shape = (-1,) + (1,) * (array.ndim - 1)
        slope = np.asarray(slopes, dtype=np.float32).reshape(shape)
        intercept = np.asarray(intercepts, dtype=np.float32).reshape(shape)
        return array.astype(np.float32) * slope + intercept
