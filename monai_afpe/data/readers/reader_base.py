"""Shared parts of this package's readers: pydicom reading and decoding, the metadata of a (C, T, H, W) cine and of
a (C, H, W) image without patient axes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from monai.config import PathLike
from monai.data import ImageReader
from monai.utils import MetaKeys, ensure_tuple, optional_import

from monai_afpe.data.readers.validation import ImageMetadataError

pydicom, has_pydicom = optional_import("pydicom")

__all__ = ["PydicomDatasetReader", "cine_metadata", "image_metadata", "pixel_array"]


def pixel_array(ds, source: PathLike) -> np.ndarray:
    """``ds.pixel_array``, or an error naming ``source`` when the pixel data cannot be decoded (e.g. cut short).

    Raises:
        ImageMetadataError: field ``PixelData (7FE0,0010)``, with pydicom's reason.
    """
    try:
        return ds.pixel_array
    except (ValueError, AttributeError) as error:  # pydicom: too few bytes, no pixel data, unknown syntax
        raise ImageMetadataError(source, "PixelData (7FE0,0010)", f"cannot be decoded: {error}") from error


class PydicomDatasetReader(ImageReader):
    """An ``ImageReader`` whose ``read`` returns pydicom datasets (one per file) and remembers the file names.

    Subclasses turn the datasets into arrays in ``get_data`` and name ``self._sources[i]`` in their errors.

    Args:
        kwargs: passed to ``pydicom.dcmread``.
    """

    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = kwargs
        self._sources: list[str] = []

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """Whether pydicom is installed (DICOM files need not have a suffix)."""
        return has_pydicom

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs):
        """Read one pydicom dataset per file name (a list for several names)."""
        self._sources = [str(name) for name in ensure_tuple(data)]
        datasets = [pydicom.dcmread(name, **{**self.kwargs, **kwargs}) for name in self._sources]
        return datasets if len(datasets) > 1 else datasets[0]


def cine_metadata(dt: float, dy: float, dx: float, spatial_shape: Sequence[int], **extra) -> dict:
    """Metadata of a ``(C, T, H, W)`` cine: affine ``diag(dt, dy, dx, 1)``, units ``("s", "mm", "mm")``, plus ``extra``."""
    affine = np.diag([dt, dy, dx, 1.0])
    return {
        MetaKeys.ORIGINAL_AFFINE: affine,
        MetaKeys.AFFINE: affine.copy(),
        MetaKeys.SPATIAL_SHAPE: np.asarray(spatial_shape),
        MetaKeys.ORIGINAL_CHANNEL_DIM: 0,
        "spacing_units": ("s", "mm", "mm"),
        **extra,
    }


def image_metadata(dy: float, dx: float, spatial_shape: Sequence[int], **extra) -> dict:
    """Metadata of a ``(C, H, W)`` image without patient axes (an ultrasound or projection X-ray image): affine
    ``diag(dy, dx, 1, 1)``, units ``("mm", "mm")``, ``patient_affine`` ``False``, plus ``extra``."""
    affine = np.diag([dy, dx, 1.0, 1.0])
    return {
        MetaKeys.ORIGINAL_AFFINE: affine,
        MetaKeys.AFFINE: affine.copy(),
        MetaKeys.SPATIAL_SHAPE: np.asarray(spatial_shape),
        MetaKeys.ORIGINAL_CHANNEL_DIM: 0,
        "spacing_units": ("mm", "mm"),
        "patient_affine": False,
        **extra,
    }
