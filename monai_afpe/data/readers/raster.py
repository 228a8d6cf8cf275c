"""A MONAI ``ImageReader`` for PNG and JPEG files (a radiograph exported as a picture): ``(C, H, W)`` with a given pixel size.

A PNG or JPEG file states no physical pixel size: the resolution it may carry (PNG pHYs, JPEG JFIF density)
is for printing, not the size of a pixel in the patient, and is never used. The pixel size must be given
(``pixel_spacing``: known from the DICOM file the picture was exported from, or from the data set's
documentation); without it reading is an error, not a 1 mm guess, because AFPE scales (arXiv 2509.02488)
follow the spacing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from monai.config import PathLike
from monai.data.utils import is_supported_format
from monai.utils import ensure_tuple, optional_import, require_pkg

from monai_afpe.data.readers.reader_base import ChannelStackReader, image_metadata
from monai_afpe.data.readers.validation import ImageMetadataError
from monai_afpe.validation import check_per_axis

PILImage, has_pil = optional_import("PIL.Image")

__all__ = ["RASTER_SUFFIXES", "RasterImageReader", "is_raster_file"]

RASTER_SUFFIXES = ("png", "jpg", "jpeg")
"""File suffixes :meth:`RasterImageReader.verify_suffix` accepts."""

_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG (SOI marker and the next marker's first byte)
_GREY_MODES = {"L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def is_raster_file(path: PathLike) -> bool:
    """Whether ``path`` starts like a PNG or JPEG file (by its content, not its name)."""
    with open(path, "rb") as f:
        head = f.read(8)
    return any(head.startswith(signature) for signature in _SIGNATURES)


@require_pkg(pkg_name="PIL")
class RasterImageReader(ChannelStackReader):
    """Load a PNG or JPEG file as ``(C, H, W)`` with spacing ``(dy, dx) = pixel_spacing`` in mm.

    Grey images (8 or 16 bits: PIL modes ``L``, ``I;16``, ``I``, ``F``) give ``C = 1`` with their stored values;
    colour images ``C = 3`` (RGB; a palette, CMYK or YCbCr image is converted to RGB, an alpha channel is dropped).
    The affine is ``diag(dy, dx, 1, 1)`` over the array axes ``(H, W)``, not a patient affine
    (``meta["patient_affine"]`` is ``False``), ``meta["spacing_units"]`` is ``("mm", "mm")`` and
    ``meta["spacing_source"]`` is ``"pixel_spacing (given)"``.

    Usable with MONAI's loader: ``LoadImaged(keys="image", reader=RasterImageReader(pixel_spacing=0.143))``;
    ``load_image(path, pixel_spacing=...)`` and ``monai-afpe info --pixel-spacing`` pick it for ``.png``,
    ``.jpg`` and ``.jpeg`` files whose content is PNG or JPEG. For a per-item pixel size, read with any value and
    set each item's with :class:`~monai_afpe.transforms.SetPixelSpacingd` (``spatial_axes=(0, 1)``). Several
    files are concatenated along the channel axis.

    Args:
        pixel_spacing: ``(dy, dx)`` or one value, in mm: the size of a pixel in the patient.

    Raises:
        ValueError: ``pixel_spacing`` is not one or two finite numbers > 0.
        ImageMetadataError: from ``get_data``, naming the file: no ``pixel_spacing`` given (field
            ``pixel spacing``), the file cannot be decoded or holds several frames (field ``data``).
    """

    def __init__(self, pixel_spacing: Sequence[float] | float | None = None):
        super().__init__()
        self.pixel_spacing = (
            None if pixel_spacing is None else check_per_axis(pixel_spacing, 2, "pixel_spacing", unit="mm")
        )

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """Whether Pillow is installed and every name ends in ``.png``, ``.jpg`` or ``.jpeg``."""
        return has_pil and is_supported_format(filename, RASTER_SUFFIXES)

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs):
        """The file names; the files are decoded by ``get_data``, which names the file in its errors (an error from
        ``read`` would make MONAI's ``LoadImage`` try its other readers instead)."""
        names = [str(name) for name in ensure_tuple(data)]
        return names if len(names) > 1 else names[0]

    def get_one(self, img: str, index: int) -> tuple[np.ndarray, dict]:
        """``(C, H, W)`` array and metadata of one file."""
        source = img
        if self.pixel_spacing is None:
            raise ImageMetadataError(
                source,
                "pixel spacing",
                "a PNG / JPEG file states no pixel size (its dpi, if any, is for printing): give pixel_spacing= to "
                "the reader or to load_image, or --pixel-spacing to monai-afpe info",
            )
        try:
            with PILImage.open(source) as image:
                frames = int(getattr(image, "n_frames", 1))
                if frames > 1:
                    raise ImageMetadataError(source, "data", f"{frames} frames: not a single image")
                if image.mode == "1" or image.mode in ("LA", "La"):
                    image = image.convert("L")
                elif image.mode not in _GREY_MODES and image.mode != "RGB":
                    image = image.convert("RGB")
                array = np.array(image)
        except (OSError, SyntaxError, ValueError) as error:
            if isinstance(error, ImageMetadataError):
                raise
            raise ImageMetadataError(
                source, "data", f"cannot be decoded as PNG / JPEG ({type(error).__name__}: {error})"
            ) from error
        array = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
        dy, dx = self.pixel_spacing
        return array, image_metadata(dy, dx, array.shape[1:], spacing_source="pixel_spacing (given)")
