"""Shared parts of this package's readers: the loop that stacks several images as channels, pydicom reading and
decoding, the metadata of a (C, T, H, W) cine and of a (C, H, W) image without patient axes."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from monai.config import PathLike
from monai.data import ImageReader
from monai.data.image_reader import _copy_compatible_dict, _stack_images
from monai.utils import MetaKeys, ensure_tuple, optional_import

from monai_afpe.data.readers.validation import ImageMetadataError

pydicom, has_pydicom = optional_import("pydicom")

__all__ = ["ChannelStackReader", "PydicomDatasetReader", "cine_metadata", "image_metadata", "pixel_array"]


class ChannelStackReader(ImageReader):
    """An ``ImageReader`` whose ``get_data`` reads each image with :meth:`get_one` and joins several along the
    channel axis as MONAI's own readers do: concatenated along their channel axis, or stacked on a new first axis
    when they have none (``original_channel_dim`` not set), with the first image's metadata.

    The one place where this package uses MONAI's private stacking helpers (``_stack_images``,
    ``_copy_compatible_dict`` of ``monai.data.image_reader``). A subclass of another MONAI reader lists this
    class first, e.g. ``class NiftiReader(ChannelStackReader, NibabelReader)``.
    """

    def get_data(self, img) -> tuple[np.ndarray, dict]:
        """Array and metadata of what ``read`` returned: one image, or a list of them joined along the channel axis."""
        arrays: list[np.ndarray] = []
        compatible_meta: dict = {}
        images = img if isinstance(img, list) else [img]  # not ensure_tuple: Datasets and SimpleITK images are iterable
        for index, image in enumerate(images):
            array, meta = self.get_one(image, index)
            arrays.append(array)
            _copy_compatible_dict(meta, compatible_meta)
        return _stack_images(arrays, compatible_meta), compatible_meta

    @abstractmethod
    def get_one(self, img: Any, index: int) -> tuple[np.ndarray, dict]:
        """Array and metadata of one image.

        Args:
            img: the image, as ``read`` returned it.
            index: its position among the images ``read`` was given (for readers that remember their names).
        """


def pixel_array(ds, source: PathLike) -> np.ndarray:
    """``ds.pixel_array``, or an error naming ``source`` when the pixel data cannot be decoded (e.g. cut short).

    Raises:
        ImageMetadataError: field ``PixelData (7FE0,0010)``, with pydicom's reason.
    """
    try:
        return ds.pixel_array
    except (ValueError, AttributeError) as error:  # pydicom: too few bytes, no pixel data, unknown syntax
        raise ImageMetadataError(source, "PixelData (7FE0,0010)", f"cannot be decoded: {error}") from error


class PydicomDatasetReader(ChannelStackReader):
    """A :class:`ChannelStackReader` whose ``read`` returns pydicom datasets (one per file) and remembers the file names.

    Subclasses turn a dataset into an array in :meth:`~ChannelStackReader.get_one` and name the file,
    ``self._sources[index]``, in their errors.

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
