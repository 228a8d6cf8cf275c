"""Physical spacing (and its units) per array axis, read from a MetaTensor's current affine.

Spacing always follows the array axes (channel excluded) and is read from the affine the image has at
the point of the call, so it follows every MONAI spatial transform (orientation, resampling, resizing,
zooming, axis permutations). ``meta["pixdim"]`` and a DICOM reader's ``meta["spacing"]`` are never
used: neither is updated by spatial transforms (see docs/design.md §3.1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor
from monai.utils import ensure_tuple_rep

__all__ = ["DEFAULT_SPACING_UNIT", "spacing_from_affine", "image_spacing", "image_spatial_shape", "spacing_units"]

DEFAULT_SPACING_UNIT = "mm"
"""Unit of an affine's columns when a reader states none: NIfTI and DICOM affines are in millimetres."""


def spacing_from_affine(affine: NdarrayOrTensor, spatial_dims: int | None = None) -> torch.Tensor:
    """Spacing per array axis: the norms of the columns of the affine's linear part.

    The column norm is the physical distance between neighbouring voxels along an array axis, so this
    is exact for oblique affines (rotation times scaling) too. Every world row counts: a 2D slice in a
    3D world (a sagittal DICOM slice, say) has in-plane axes that point along z. For volumes it equals
    ``monai.data.utils.affine_to_spacing(affine, spatial_dims, suppress_zeros=False)``, which only reads
    the top-left ``r x r`` block and so gets such slices wrong; it also accepts a batch of affines.

    Args:
        affine: a ``(d, d)`` affine, or a batch ``(..., d, d)`` of them.
        spatial_dims: number of array axes ``r`` (``1 <= r < d``); spacing is computed from
            ``affine[..., :d - 1, :r]``. Defaults to ``d - 1``.

    Returns:
        float64 tensor of shape ``(..., r)``, on the affine's device; not validated (see :func:`image_spacing`).
    """
    affine = torch.as_tensor(affine, dtype=torch.float64)
    if affine.ndim < 2 or affine.shape[-1] != affine.shape[-2]:
        raise ValueError(f"affine must be a square matrix (or a batch of them), got shape {tuple(affine.shape)}.")
    rank = affine.shape[-1] - 1
    spatial_dims = rank if spatial_dims is None else spatial_dims
    if not 1 <= spatial_dims <= rank:
        raise ValueError(f"spatial_dims must be in [1, {rank}] for a {rank + 1}x{rank + 1} affine, got {spatial_dims}.")
    return torch.linalg.vector_norm(affine[..., :rank, :spatial_dims], dim=-2)


def _filename(img: MetaTensor) -> str:
    return str(img.meta.get("filename_or_obj", "<image without filename_or_obj>"))


def image_spatial_shape(img: MetaTensor) -> tuple[int, ...]:
    """Spatial shape (channel, and batch for a collated MetaTensor, excluded), after any pending lazy operations."""
    if img.has_pending_operations:
        return tuple(int(n) for n in img.peek_pending_shape())
    return tuple(img.shape[2:] if img.is_batch else img.shape[1:])


def image_spacing(img: MetaTensor) -> torch.Tensor:
    """Validated spacing of a channel-first MetaTensor, one value per spatial array axis.

    Read from the current affine (from :meth:`MetaTensor.peek_pending_affine` when lazy operations are
    still pending, so the value is the one the image will have once they are applied).

    Args:
        img: channel-first ``(C, *spatial)`` MetaTensor, or a collated batch ``(B, C, *spatial)``.

    Returns:
        float64 tensor ``(r,)`` (``(B, r)`` for a batch), ``r`` the number of spatial axes.

    Raises:
        ValueError: ``img`` is not a MetaTensor, has no spatial axis, has more spatial axes than its
            affine, or has a spacing that is not finite and > 0. Messages name the file
            (``meta["filename_or_obj"]``) and the field (``affine``).
    """
    if not isinstance(img, MetaTensor):
        raise ValueError(
            f"image spacing needs a MetaTensor with an affine (for example from monai.transforms.LoadImage), "
            f"got {type(img).__name__}."
        )
    rank = len(image_spatial_shape(img))
    if rank < 1:
        raise ValueError(
            f"{_filename(img)}: expected a channel-first array with at least one spatial axis, "
            f"got shape {tuple(img.shape)}."
        )
    affine = img.peek_pending_affine() if img.has_pending_operations else img.affine
    affine_rank = affine.shape[-1] - 1
    if rank > affine_rank:
        raise ValueError(
            f"{_filename(img)}: field 'affine' is {affine_rank + 1}x{affine_rank + 1}, too few dimensions for "
            f"the {rank} spatial axes of an array of shape {tuple(img.shape)}."
        )
    spacing = spacing_from_affine(affine, rank)
    if not (torch.isfinite(spacing).all() and (spacing > 0).all()):
        raise ValueError(
            f"{_filename(img)}: field 'affine' gives spacing {spacing.tolist()}; "
            "spacing must be finite and > 0 along every array axis."
        )
    return spacing


def spacing_units(img: MetaTensor, units: Sequence[str] | str = DEFAULT_SPACING_UNIT) -> tuple[str, ...]:
    """Unit of the spacing along each spatial array axis.

    Readers that know better (video and cine readers: seconds along time) state it in
    ``meta["spacing_units"]``, which wins; otherwise ``units`` is used, by default millimetres, the unit
    of NIfTI and DICOM affines. Units are not tracked through transforms that swap a time axis with a
    space axis; such transforms make no sense on video.

    Args:
        img: channel-first MetaTensor (not a batch).
        units: unit, or one unit per spatial axis, used when the metadata has none.

    Raises:
        ValueError: the metadata's ``spacing_units`` (or ``units``) does not give one string per spatial axis.
    """
    rank = len(image_spatial_shape(img))
    field, value = ("spacing_units", img.meta["spacing_units"]) if "spacing_units" in img.meta else ("units", units)
    try:
        result = ensure_tuple_rep(value, rank)
    except ValueError:
        result = ()
    if not result or not all(isinstance(u, str) and u for u in result):
        raise ValueError(
            f"{_filename(img)}: field {field!r} must give one unit string per spatial axis ({rank}), got {value!r}."
        )
    return result
