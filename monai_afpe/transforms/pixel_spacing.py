"""Write a known pixel spacing into a MetaTensor's affine: per-item pixel size for videos, whose files carry none.

An AVI or MP4 file stores the frame rate but no physical pixel size, and
:class:`~monai_afpe.data.readers.VideoReader` takes one ``pixel_spacing`` per reader instance. When the
pixel size differs per video and is known from elsewhere (EchoNet-style ``FileList.csv`` with a
``PixelSpacing`` column, as :func:`~monai_afpe.data.adapters.load_echonet_datalist` passes it on as
``"pixel_spacing"``), :class:`SetPixelSpacingd` writes each item's value into the affine of its image, so
that :class:`~monai_afpe.transforms.ExtractSpacingd` and a physical-mode AFPE (arXiv 2509.02488) see the
true ``(dt [s], dy [mm], dx [mm])``. Place it right after loading, before any spatial transform.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, ensure_tuple

from monai_afpe.transforms.spacing import _filename, image_spatial_shape
from monai_afpe.validation import check_nonempty_string, check_per_axis

__all__ = ["SetPixelSpacing", "SetPixelSpacingd", "SetPixelSpacingD", "SetPixelSpacingDict"]


def _check_axes(spatial_axes: Sequence[int] | int) -> tuple[int, ...]:
    axes = ensure_tuple(spatial_axes)
    if (
        not axes
        or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) and a >= 0 for a in axes)
        or len(set(axes)) != len(axes)
    ):
        raise ValueError(
            f"spatial_axes must be distinct non-negative integers (spatial axes, channel excluded), got {spatial_axes!r}."
        )
    return tuple(int(a) for a in axes)


class SetPixelSpacing(Transform):
    """Set the spacing of some spatial axes of a channel-first MetaTensor by rescaling its affine columns.

    The direction of each affine column is kept and its length set to the given spacing, so
    :func:`~monai_afpe.transforms.image_spacing` then reads exactly that value along those axes; other axes,
    the origin and the pixel data are unchanged. The input is not modified.

    Args:
        pixel_spacing: spacing (mm) for each axis of ``spatial_axes``, or one value for all; may instead be
            given per call.
        spatial_axes: spatial axes to set (channel excluded); the default ``(1, 2)`` is ``(H, W)`` of a video
            ``(C, T, H, W)``.

    Example::

        video = LoadImage(reader=VideoReader(pixel_spacing=1.0), ensure_channel_first=True)("echo.avi")
        video = SetPixelSpacing()(video, pixel_spacing=0.7)  # affine diag(dt, 0.7, 0.7, 1)

    Raises:
        ValueError: invalid ``pixel_spacing`` or ``spatial_axes``.
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self, pixel_spacing: Sequence[float] | float | None = None, spatial_axes: Sequence[int] | int = (1, 2)
    ) -> None:
        self.spatial_axes = _check_axes(spatial_axes)
        self.pixel_spacing = (
            None
            if pixel_spacing is None
            else check_per_axis(pixel_spacing, len(self.spatial_axes), "pixel_spacing", unit="mm")
        )

    def __call__(self, img: MetaTensor, pixel_spacing: Sequence[float] | float | None = None) -> MetaTensor:
        """
        Args:
            img: channel-first MetaTensor, without pending lazy operations.
            pixel_spacing: spacing for this call; overrides the one given at construction.

        Raises:
            ValueError: ``img`` is not a MetaTensor or has pending operations, an axis does not exist, an
                affine column is zero, or no (or an invalid) spacing is given; messages name the file.
        """
        if not isinstance(img, MetaTensor):
            raise ValueError(f"SetPixelSpacing needs a MetaTensor with an affine, got {type(img).__name__}.")
        name = _filename(img)
        if pixel_spacing is None and self.pixel_spacing is None:
            raise ValueError(f"{name}: SetPixelSpacing got no pixel_spacing, neither at construction nor in the call.")
        spacing = (
            self.pixel_spacing
            if pixel_spacing is None
            else check_per_axis(pixel_spacing, len(self.spatial_axes), f"{name}: pixel_spacing", unit="mm")
        )
        if img.has_pending_operations:
            raise ValueError(
                f"{name}: SetPixelSpacing runs on images without pending lazy operations; place it before the "
                "lazy spatial transforms (right after loading)."
            )
        rank = len(image_spatial_shape(img))
        affine = img.affine.clone().to(torch.float64)
        if max(self.spatial_axes) >= min(rank, affine.shape[-1] - 1):
            raise ValueError(
                f"{name}: spatial_axes {self.spatial_axes} do not exist in an image of shape {tuple(img.shape)} "
                f"({rank} spatial axes, {affine.shape[-1]}x{affine.shape[-1]} affine)."
            )
        for axis, value in zip(self.spatial_axes, spacing):
            column = affine[:-1, axis]
            norm = torch.linalg.vector_norm(column)
            if not norm > 0:
                raise ValueError(f"{name}: field 'affine': column {axis} is zero, so it has no direction to scale.")
            affine[:-1, axis] = column * (value / norm)
        out = MetaTensor(img.as_tensor())
        out.copy_meta_from(img)
        out.affine = affine.to(img.affine.dtype)
        return out


class SetPixelSpacingd(MapTransform):
    """Dictionary-based :class:`SetPixelSpacing`: each item's spacing comes from ``data[spacing_key]``.

    For items without ``spacing_key``, ``default`` is used; without a default the image keeps the spacing
    its reader gave it (a video reader's 1.0 mm placeholder, say) and a warning names the file.

    Args:
        keys: keys of the MetaTensors to update.
        spacing_key: item key holding the spacing (mm), one value or one per axis of ``spatial_axes``;
            ``load_echonet_datalist`` fills ``"pixel_spacing"`` from a ``PixelSpacing`` column.
        spatial_axes: see :class:`SetPixelSpacing`.
        default: spacing for items that lack ``spacing_key`` (None: keep the image's, with a warning).
        allow_missing_keys: don't raise an exception if an image key is missing.

    Example::

        Compose([
            LoadImaged("image", reader=VideoReader(pixel_spacing=1.0, grayscale=True)),
            EnsureChannelFirstd("image"),
            SetPixelSpacingd("image", spacing_key="pixel_spacing"),
        ])
    """

    backend = SetPixelSpacing.backend

    def __init__(
        self,
        keys: KeysCollection,
        spacing_key: str = "pixel_spacing",
        spatial_axes: Sequence[int] | int = (1, 2),
        default: Sequence[float] | float | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.spacing_key = check_nonempty_string(spacing_key, "spacing_key")
        self.setter = SetPixelSpacing(default, spatial_axes)

    def __call__(self, data: Mapping[Hashable, MetaTensor]) -> dict[Hashable, MetaTensor]:
        d = dict(data)
        spacing = d.get(self.spacing_key)
        for key in self.key_iterator(d):
            if spacing is None and self.setter.pixel_spacing is None:
                image = d[key]
                name = _filename(image) if isinstance(image, MetaTensor) else f"key {key!r}"
                warnings.warn(
                    f"{name}: pixel spacing: the item has no {self.spacing_key!r} and SetPixelSpacingd has no default; "
                    "keeping the spacing in the image's affine (give the true pixel size in mm).",
                    stacklevel=2,
                )
                continue
            d[key] = self.setter(d[key], spacing)
        return d


SetPixelSpacingD = SetPixelSpacingDict = SetPixelSpacingd
