"""Load any supported path into a channel-first MetaTensor whose affine carries the true spacing.

One entry point for tools (``monai-afpe info``) and notebooks: NIfTI files, DICOM files and series
folders (classic slices, enhanced multi-frame of any SOP class, projection X-ray: CR / DX / MG / XA / XRF,
ultrasound cine and still images), MHA / NRRD, PNG / JPEG files (with a given pixel size) and videos. Pipelines use the readers directly with MONAI's
``LoadImaged(reader=...)``.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence

import numpy as np
from monai.config import DtypeLike, PathLike
from monai.data import ImageReader, MetaTensor
from monai.data.utils import is_supported_format
from monai.transforms import LoadImage
from monai.utils import optional_import

from monai_afpe.data.readers.dicom_series import DicomSeriesReader
from monai_afpe.data.readers.enhanced_dicom import (
    ENHANCED_MULTIFRAME_STORAGE,
    PROJECTION_XRAY_STORAGE,
    EnhancedDicomReader,
)
from monai_afpe.data.readers.nifti import NiftiReader
from monai_afpe.data.readers.raster import RASTER_SUFFIXES, RasterImageReader, is_raster_file
from monai_afpe.data.readers.sitk_reader import SITK_SUFFIXES, SimpleITKReader
from monai_afpe.data.readers.ultrasound_cine import UltrasoundCineReader, UltrasoundImageReader
from monai_afpe.data.readers.validation import ImageMetadataError
from monai_afpe.data.readers.video import VIDEO_SUFFIXES, VideoReader

pydicom, _ = optional_import("pydicom")

__all__ = ["NIFTI_SUFFIXES", "ULTRASOUND_STORAGE", "select_reader", "load_image"]

NIFTI_SUFFIXES = ("nii", "nii.gz")
ULTRASOUND_STORAGE = {
    "1.2.840.10008.5.1.4.1.1.6.1": "Ultrasound Image Storage",
    "1.2.840.10008.5.1.4.1.1.3.1": "Ultrasound Multi-frame Image Storage",
    "1.2.840.10008.5.1.4.1.1.6": "Ultrasound Image Storage (Retired)",
    "1.2.840.10008.5.1.4.1.1.3": "Ultrasound Multi-frame Image Storage (Retired)",
}
"""Ultrasound SOP classes (SOPClassUID -> name), single- and multi-frame: calibrated by their ultrasound regions."""


def select_reader(
    path: PathLike, pixel_spacing: Sequence[float] | float | None = None, tolerance: float = 0.0
) -> ImageReader:
    """The reader for ``path``, chosen from the file system, the suffix and, for DICOM, the header.

    - a folder: a DICOM series, :class:`~monai_afpe.data.readers.DicomSeriesReader`;
    - ``.avi``, ``.mp4``, ... (:data:`~monai_afpe.data.readers.VIDEO_SUFFIXES`):
      :class:`~monai_afpe.data.readers.VideoReader`;
    - a DICOM file (by its content, whatever its suffix), by its SOPClassUID first:
      :class:`~monai_afpe.data.readers.EnhancedDicomReader` for an enhanced multi-frame SOP class
      (:data:`~monai_afpe.data.readers.ENHANCED_MULTIFRAME_STORAGE`: Enhanced CT / MR / PET / US Volume,
      Legacy Converted, ...), a projection X-ray one (CR, DX, MG, intra-oral; XA / XRF, classic or enhanced:
      :data:`~monai_afpe.data.readers.PROJECTION_XRAY_STORAGE`), or any file with functional groups;
      for an ultrasound file (:data:`ULTRASOUND_STORAGE`, or modality US with several frames or with
      ultrasound regions) :class:`~monai_afpe.data.readers.UltrasoundCineReader` when it has more than
      one frame and :class:`~monai_afpe.data.readers.UltrasoundImageReader` (a 2D image) when it has one;
      :class:`~monai_afpe.data.readers.DicomSeriesReader` otherwise (a single slice);
    - ``.nii``, ``.nii.gz``: :class:`~monai_afpe.data.readers.NiftiReader` (the NIfTI-1 sform / qform /
      pixdim rule, never MONAI's header correction);
    - ``.mha``, ``.mhd``, ``.nrrd``, ...: :class:`~monai_afpe.data.readers.SimpleITKReader`;
    - ``.png``, ``.jpg``, ``.jpeg`` whose content is PNG or JPEG: :class:`~monai_afpe.data.readers.RasterImageReader`
      (``pixel_spacing`` needed).

    Args:
        path: file or folder.
        pixel_spacing: ``(dy, dx)`` in mm for videos and PNG / JPEG files (whose pixel size is unknown
            otherwise) and ultrasound files, cine or single image (instead of their regions); other formats
            state their own spacing and do not use it.
        tolerance: slice-step non-uniformity (mm) accepted with a warning in DICOM series and
            enhanced DICOM volumes.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageMetadataError: the file is empty (field ``file``).
        ValueError: the format is not supported.
    """
    name = str(path)
    if os.path.isdir(name):
        return DicomSeriesReader(tolerance=tolerance)
    if not os.path.isfile(name):
        raise FileNotFoundError(f"{name}: no such file or folder")
    if os.path.getsize(name) == 0:
        raise ImageMetadataError(name, "file", "empty (0 bytes)")
    if is_supported_format(name, VIDEO_SUFFIXES):
        return VideoReader(pixel_spacing=pixel_spacing)
    if not pydicom.misc.is_dicom(name):
        if is_supported_format(name, NIFTI_SUFFIXES):
            return NiftiReader()
        if is_supported_format(name, SITK_SUFFIXES):
            return SimpleITKReader(tolerance=tolerance)
        if is_supported_format(name, RASTER_SUFFIXES) and is_raster_file(name):
            return RasterImageReader(pixel_spacing=pixel_spacing)
        raise ValueError(
            f"{name}: unsupported format: expected a NIfTI, MHA / MHD, NRRD or DICOM file, a PNG / JPEG file (by its "
            f"content), a DICOM series folder or a video ({', '.join(VIDEO_SUFFIXES)})"
        )
    header = pydicom.dcmread(name, stop_before_pixels=True)
    sop_class = str(header.get("SOPClassUID") or "")
    frames = int(header.get("NumberOfFrames") or 1)
    if (
        sop_class in ENHANCED_MULTIFRAME_STORAGE
        or sop_class in PROJECTION_XRAY_STORAGE
        or "PerFrameFunctionalGroupsSequence" in header
        or "SharedFunctionalGroupsSequence" in header
    ):
        return EnhancedDicomReader(tolerance=tolerance)
    if sop_class in ULTRASOUND_STORAGE or (
        header.get("Modality") == "US" and (frames > 1 or "SequenceOfUltrasoundRegions" in header)
    ):
        if frames > 1:
            return UltrasoundCineReader(pixel_spacing=pixel_spacing)
        return UltrasoundImageReader(pixel_spacing=pixel_spacing)
    return DicomSeriesReader(tolerance=tolerance)


def load_image(
    path: PathLike,
    pixel_spacing: Sequence[float] | float | None = None,
    tolerance: float = 0.0,
    dtype: DtypeLike = np.float32,
) -> MetaTensor:
    """Load ``path`` with the reader :func:`select_reader` picks, as a channel-first MetaTensor.

    The affine is in millimetres along space and seconds along time (NIfTI files in metres or microns
    are converted by :class:`~monai_afpe.data.readers.NiftiReader`), and ``meta["spacing_units"]`` names
    the unit of every spatial array axis.

    Args:
        path: NIfTI / MHA / NRRD / DICOM / PNG / JPEG file, DICOM series folder, or video.
        pixel_spacing: see :func:`select_reader`.
        tolerance: see :func:`select_reader`.
        dtype: data type of the array.

    Raises:
        ImageMetadataError: bad geometry metadata (for NIfTI: zero, non-finite or singular sform, qform
            or pixdim, see :func:`~monai_afpe.data.readers.nifti_affine`), fewer than 2 spatial axes
            ("too few dimensions"), a spatial axis of length 0, or a file that cannot be read (empty,
            truncated, not of the format its suffix says), each naming the file and the field.
        ValueError: from the spacing check of ``monai_afpe.transforms.image_spacing`` (zero, negative or
            non-finite spacing in the affine), or an unsupported format.
        FileNotFoundError: ``path`` does not exist.
    """
    from monai_afpe.transforms import image_spacing

    name = str(path)
    reader = select_reader(name, pixel_spacing=pixel_spacing, tolerance=tolerance)
    try:
        img = LoadImage(image_only=True, ensure_channel_first=True, dtype=dtype)(name, reader=reader)
    except (EOFError, zlib.error, OSError) as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        # nibabel reads the voxels only now: gzip's EOFError names no file
        raise ImageMetadataError(
            name, "data", f"cannot be read, the file is truncated or damaged ({type(error).__name__}: {error})"
        ) from error
    if img.ndim < 3:
        raise ImageMetadataError(
            name, "shape", f"too few dimensions: {tuple(img.shape)} (channel first); at least 2 spatial axes are needed"
        )
    if 0 in img.shape[1:]:
        raise ImageMetadataError(name, "shape", f"no voxel: shape {tuple(img.shape)} (channel first) has an empty axis")
    img.meta.setdefault("spacing_units", ("mm",) * (img.ndim - 1))
    image_spacing(img)
    return img
