"""Readers that put the true physical spacing into the affine: NIfTI, DICOM series, enhanced, ultrasound and projection
X-ray DICOM (CR, DX, MG, XA, XRF), video, PNG / JPEG with a given pixel size.

AFPE scales (arXiv 2509.02488) follow the data's physical geometry, so every reader here validates the
geometry metadata it turns into an affine and raises :class:`ImageMetadataError` (naming the file and
the field) instead of guessing. :func:`load_image` picks the right reader for a path.
"""

from monai_afpe.data.readers.dicom_series import DicomSeriesReader
from monai_afpe.data.readers.enhanced_dicom import (
    ENHANCED_MULTIFRAME_STORAGE,
    PROJECTION_XRAY_STORAGE,
    EnhancedDicomReader,
    projection_pixel_spacing,
)
from monai_afpe.data.readers.load import NIFTI_SUFFIXES, ULTRASOUND_STORAGE, load_image, select_reader
from monai_afpe.data.readers.nifti import (
    NIFTI_UNITS,
    NiftiGeometryWarning,
    NiftiReader,
    nifti_affine,
    nifti_to_millimetres,
    stored_nifti_header,
)
from monai_afpe.data.readers.raster import RASTER_SUFFIXES, RasterImageReader, is_raster_file
from monai_afpe.data.readers.sitk_reader import SITK_SUFFIXES, SimpleITKReader
from monai_afpe.data.readers.slice_geometry import (
    DICOM_FIELDS,
    ENHANCED_DICOM_FIELDS,
    ROUNDING_TOLERANCE,
    SliceGeometry,
    check_slice_geometry,
    functional_group,
)
from monai_afpe.data.readers.ultrasound_cine import (
    ULTRASOUND_UNITS,
    UltrasoundCineReader,
    UltrasoundImageReader,
    frame_interval,
    ultrasound_pixel_spacing,
)
from monai_afpe.data.readers.validation import (
    ImageMetadataError,
    check_metadata_spacing,
    format_values,
)
from monai_afpe.data.readers.video import FRAME_COUNT_MISMATCH, VIDEO_SUFFIXES, DecodedVideo, VideoReader

__all__ = [
    "DICOM_FIELDS",
    "ENHANCED_DICOM_FIELDS",
    "ENHANCED_MULTIFRAME_STORAGE",
    "FRAME_COUNT_MISMATCH",
    "NIFTI_SUFFIXES",
    "NIFTI_UNITS",
    "PROJECTION_XRAY_STORAGE",
    "RASTER_SUFFIXES",
    "ROUNDING_TOLERANCE",
    "SITK_SUFFIXES",
    "ULTRASOUND_STORAGE",
    "ULTRASOUND_UNITS",
    "VIDEO_SUFFIXES",
    "DecodedVideo",
    "DicomSeriesReader",
    "EnhancedDicomReader",
    "ImageMetadataError",
    "NiftiGeometryWarning",
    "NiftiReader",
    "RasterImageReader",
    "SimpleITKReader",
    "SliceGeometry",
    "UltrasoundCineReader",
    "UltrasoundImageReader",
    "VideoReader",
    "check_metadata_spacing",
    "check_slice_geometry",
    "format_values",
    "frame_interval",
    "functional_group",
    "is_raster_file",
    "load_image",
    "nifti_affine",
    "nifti_to_millimetres",
    "projection_pixel_spacing",
    "select_reader",
    "stored_nifti_header",
    "ultrasound_pixel_spacing",
]
