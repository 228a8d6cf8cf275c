"""A MONAI ``ImageReader`` for enhanced multi-frame DICOM volumes (Enhanced CT / MR / PET, ...).

An enhanced multi-frame file stores one volume as frames; its geometry is not in top-level tags but in
functional group macros (PS3.3 C.7.6.16), per frame (PerFrameFunctionalGroupsSequence) or shared by all
frames (SharedFunctionalGroupsSequence): PixelMeasuresSequence (PixelSpacing, SliceThickness,
SpacingBetweenSlices), PlanePositionSequence (ImagePositionPatient) and PlaneOrientationSequence
(ImageOrientationPatient). MONAI's ``PydicomReader`` reads none of them for images (it falls back to an
identity affine), so AFPE scales (arXiv 2509.02488) would be derived from a 1 mm guess.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from monai.data.image_reader import _copy_compatible_dict, _stack_images
from monai.data.utils import orientation_ras_lps
from monai.utils import MetaKeys, SpaceKeys, optional_import, require_pkg

from monai_afpe.data.readers.dicom_series import SliceGeometry, check_slice_geometry
from monai_afpe.data.readers.reader_base import PydicomDatasetReader, pixel_array
from monai_afpe.data.readers.validation import ImageMetadataError

pydicom, has_pydicom = optional_import("pydicom")

__all__ = ["ENHANCED_DICOM_FIELDS", "functional_group", "EnhancedDicomReader"]

ENHANCED_DICOM_FIELDS = {
    "pixel_spacing": "PixelMeasuresSequence > PixelSpacing (0028,0030)",
    "slice_thickness": "PixelMeasuresSequence > SliceThickness (0018,0050)",
    "spacing_between_slices": "PixelMeasuresSequence > SpacingBetweenSlices (0018,0088)",
    "position": "PlanePositionSequence > ImagePositionPatient (0020,0032)",
    "orientation": "PlaneOrientationSequence > ImageOrientationPatient (0020,0037)",
    "rows_columns": "Rows, Columns (0028,0010), (0028,0011)",
}
"""Field names used in messages: the functional group macro and the attribute."""


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


def _frame_geometry(ds: Any, frame: int) -> SliceGeometry:
    def value(sequence: str, keyword: str) -> Any:
        item = functional_group(ds, frame, sequence)
        return None if item is None else item.get(keyword)

    return SliceGeometry(
        name=f"frame {frame + 1}",
        position=value("PlanePositionSequence", "ImagePositionPatient"),
        orientation=value("PlaneOrientationSequence", "ImageOrientationPatient"),
        pixel_spacing=value("PixelMeasuresSequence", "PixelSpacing"),
        slice_thickness=value("PixelMeasuresSequence", "SliceThickness"),
        spacing_between_slices=value("PixelMeasuresSequence", "SpacingBetweenSlices"),
    )


@require_pkg(pkg_name="pydicom")
class EnhancedDicomReader(PydicomDatasetReader):
    """Load an enhanced multi-frame DICOM file as a volume with the affine from its functional groups.

    The output follows MONAI's :class:`~monai.data.PydicomReader` conventions for a series: array
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

    ``meta["spacing_units"]`` is ``("mm",) * spatial_dims``.

    Args:
        affine_lps_to_ras: convert the affine from DICOM's LPS to RAS (default), as MONAI's readers do.
        tolerance: largest deviation (mm) of a frame step from the median step accepted with a warning.
        kwargs: passed to ``pydicom.dcmread``.

    Raises:
        ImageMetadataError: from ``get_data``, naming the file and the functional group field.
    """

    def __init__(self, affine_lps_to_ras: bool = True, tolerance: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if not np.isfinite(tolerance) or tolerance < 0:
            raise ValueError(f"tolerance must be a finite number >= 0 (mm), got {tolerance!r}.")
        self.affine_lps_to_ras = affine_lps_to_ras
        self.tolerance = float(tolerance)

    def get_data(self, img) -> tuple[np.ndarray, dict]:
        """Array and metadata of the volume(s); several files are stacked as channels (a new first axis)."""
        arrays: list[np.ndarray] = []
        compatible_meta: dict = {}
        for ds, source in zip(img if isinstance(img, list) else [img], self._sources):  # a Dataset is iterable
            array, meta = self._volume(ds, source)
            arrays.append(array)
            _copy_compatible_dict(meta, compatible_meta)
        return _stack_images(arrays, compatible_meta), compatible_meta

    def _volume(self, ds: Any, source: str) -> tuple[np.ndarray, dict]:
        if ds.get("NumberOfFrames") is None:
            raise ImageMetadataError(source, "NumberOfFrames (0028,0008)", "missing: not a multi-frame file")
        frames = int(ds.NumberOfFrames)
        per_frame = ds.get("PerFrameFunctionalGroupsSequence")
        if per_frame is None and not ds.get("SharedFunctionalGroupsSequence"):
            raise ImageMetadataError(
                source,
                "PerFrameFunctionalGroupsSequence (5200,9230)",
                "missing, and no SharedFunctionalGroupsSequence (5200,9229): not an enhanced multi-frame file",
            )
        if per_frame is not None and len(per_frame) != frames:
            raise ImageMetadataError(
                source,
                "PerFrameFunctionalGroupsSequence (5200,9230)",
                f"{len(per_frame)} items for NumberOfFrames {frames}",
            )
        slices = [_frame_geometry(ds, frame) for frame in range(frames)]
        step = check_slice_geometry(slices, source, self.tolerance, fields=ENHANCED_DICOM_FIELDS)

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
        return array, meta

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
