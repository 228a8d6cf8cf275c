"""A validating ``PydicomReader`` for DICOM series folders and classic single-frame files.

MONAI's :class:`~monai.data.PydicomReader` stacks a folder's files in InstanceNumber order and builds the
affine from the first and last positions, but it checks neither that the slices are evenly spaced nor
that they share one orientation, and it silently uses 1 mm when PixelSpacing is missing. AFPE scales
(arXiv 2509.02488) are derived from the slice spacing, so :class:`DicomSeriesReader` validates the
geometry first (:func:`~monai_afpe.data.readers.check_slice_geometry`) and then lets ``PydicomReader`` do
the reading.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from monai.config import PathLike
from monai.data import PydicomReader
from monai.utils import MetaKeys, ensure_tuple, optional_import

from monai_afpe.data.readers.enhanced_dicom import PROJECTION_XRAY_STORAGE, projection_refusal
from monai_afpe.data.readers.slice_geometry import DICOM_FIELDS, SliceGeometry, SliceStackMixin
from monai_afpe.data.readers.validation import ImageMetadataError, format_list

pydicom, _ = optional_import("pydicom")

__all__ = ["DicomSeriesReader"]


@dataclass(frozen=True)
class _NoDicom:
    """What :meth:`DicomSeriesReader.read` returns for a folder without a DICOM file."""

    source: str


class DicomSeriesReader(SliceStackMixin, PydicomReader):
    """MONAI's :class:`~monai.data.PydicomReader` with the slice geometry validated before reading.

    Reads a DICOM series folder (or a classic single-frame DICOM file) exactly as ``PydicomReader``
    does: slices stacked in InstanceNumber order, array ``(columns, rows, slices)`` with the default
    ``swap_ij=True``, affine in RAS whose third column is the step between the first and last
    ImagePositionPatient, ``(last - first) / (n - 1)``. Before that,
    :func:`~monai_afpe.data.readers.check_slice_geometry` checks the slices (PixelSpacing present and positive, one orientation, one series, uniformly
    spaced positions along the slice normal) so that the spacing in the affine is the true one; it
    warns when SliceThickness or SpacingBetweenSlices disagree with the step of the positions.

    Slice order: InstanceNumber, as in ``PydicomReader``. :class:`~monai_afpe.data.readers.SimpleITKReader`
    stacks the same folder by position along the slice normal, ascending, as MONAI's ``ITKReader`` does.
    Each reader keeps the order of the MONAI reader it replaces, so that swapping it in changes no array
    and no affine of a pipeline written for that reader. Where InstanceNumber rises against the slice
    normal the two arrays are flipped along the slice axis and so are the affines' slice columns: each
    voxel has the same world position through either reader. A series whose InstanceNumbers do not follow
    the positions is refused here (the positions do not advance in one direction in stack order), and
    read in position order by ``SimpleITKReader``.

    Multi-frame files are refused (use :class:`~monai_afpe.data.readers.EnhancedDicomReader` or
    :class:`~monai_afpe.data.readers.UltrasoundCineReader`), as are single files without
    ImagePositionPatient / ImageOrientationPatient, whose geometry ``PydicomReader`` would replace by an
    identity affine (an ultrasound image calibrated only by its regions is pointed to
    :class:`~monai_afpe.data.readers.UltrasoundImageReader`, a projection X-ray image, CR / DX / MG / XA / XRF, to
    :class:`~monai_afpe.data.readers.EnhancedDicomReader`).

    ``meta["spacing_units"]`` is ``("mm",) * spatial_dims``.

    Args:
        tolerance: largest deviation (mm) of a slice step from the median step accepted with a warning
            (the mean step is then used); larger deviations raise. Default 0: any real non-uniformity
            raises.
        kwargs: passed to :class:`~monai.data.PydicomReader` (``channel_dim``, ``affine_lps_to_ras``,
            ``swap_ij``, ``fname_regex``, ...).

    Raises:
        ValueError: ``tolerance`` is not a finite number >= 0.
        ImageMetadataError: from ``get_data``, naming the folder or file, the field and the offending
            files.
    """

    def __init__(self, tolerance: float = 0.0, **kwargs):
        super().__init__(tolerance=tolerance, **kwargs)
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
                :func:`~monai_afpe.data.readers.check_slice_geometry`), an image file lacks InstanceNumber, or the pixel data cannot be
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
                f"missing in image file(s) {format_list(unordered)}: no place in the stack (PydicomReader would skip them)",
            )
        # the stack order of PydicomReader: files with an InstanceNumber, sorted by it (stable)
        stack = sorted(
            ((ds, os.path.basename(str(n))) for ds, n in zip(datasets, names) if "InstanceNumber" in ds),
            key=lambda pair: pair[0].InstanceNumber,
        )
        if not stack:
            raise ImageMetadataError(source, "InstanceNumber (0020,0013)", "missing in every file: no stack order")
        for ds, name in stack:
            sop_class = str(ds.get("SOPClassUID") or "")
            if sop_class in PROJECTION_XRAY_STORAGE:
                raise projection_refusal(os.path.join(source, name), sop_class)
            if int(ds.get("NumberOfFrames") or 1) > 1:
                raise ImageMetadataError(
                    source,
                    "NumberOfFrames (0028,0008)",
                    f"{ds.NumberOfFrames} frames in {name}: not a single-slice file",
                )
        self.check_slices([SliceGeometry.from_dataset(ds, name) for ds, name in stack], source)

    def _check_file(self, ds: Any, source: PathLike) -> None:
        sop_class = str(ds.get("SOPClassUID") or "")
        if sop_class in PROJECTION_XRAY_STORAGE:
            raise projection_refusal(str(source), sop_class)
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
        self.check_slices([SliceGeometry.from_dataset(ds, os.path.basename(str(source)))], source)
