"""A MONAI ``ImageReader`` for NIfTI files that applies the NIfTI-1 standard's rule for the affine.

MONAI's :class:`~monai.data.NibabelReader` "corrects" a header whose pixdim disagrees with its affine
before the affine is read: a file whose sform (``sform_code`` 1) says 0.8 x 0.8 x 3 mm but whose pixdim
was left at 1 is then read as 1 x 1 x 1 mm, without a word. AFPE scales (arXiv 2509.02488) follow the
physical spacing, so :class:`NiftiReader` reads the header as it is stored in the file and takes the
affine the NIfTI-1 standard (``nifti1.h``, "3D IMAGE (VOLUME) ORIENTATION AND LOCATION IN SPACE")
prescribes:

1. ``sform_code > 0``: the sform, ``srow_x``, ``srow_y``, ``srow_z`` (method 3);
2. else ``qform_code > 0``: the qform, from ``quatern_b/c/d``, ``qoffset_x/y/z``, ``pixdim[1:4]`` and
   ``qfac = pixdim[0]`` (method 2);
3. else ``pixdim[1:4]`` alone (method 1, kept for ANALYZE 7.5 files), with a warning, as nibabel's
   ``get_base_affine`` builds it (x flipped, origin at the centre of the volume).

The chosen affine's spacing (the norms of its columns) is compared with ``pixdim``; when they disagree
a :class:`NiftiGeometryWarning` names both. Zero, non-finite or singular geometry, and form codes the
standard does not define, raise :class:`~monai_afpe.data.readers.ImageMetadataError` naming the file
and the field, as does a ``dim`` with an empty axis. The affine is expressed in millimetres
(``xyzt_units``; an unstated unit is taken as mm with a warning).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from monai.config import PathLike
from monai.data import NibabelReader
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple, optional_import

from monai_afpe.data.readers.reader_base import ChannelStackReader
from monai_afpe.data.readers.validation import ImageMetadataError, format_values
from monai_afpe.validation import check_tolerance

nib, _ = optional_import("nibabel")
ImageOpener, _ = optional_import("nibabel.openers", name="ImageOpener")
ImageFileError, _ = optional_import("nibabel.filebasedimages", name="ImageFileError")

__all__ = [
    "NIFTI_UNITS",
    "NiftiGeometryWarning",
    "NiftiReader",
    "nifti_affine",
    "nifti_to_millimetres",
    "stored_nifti_header",
]

NIFTI_UNITS = {"meter": 1000.0, "mm": 1.0, "micron": 1e-3}
"""Millimetres per unit of the NIfTI-1 spatial units (``xyzt_units & 0x07``: 1 meter, 2 mm, 3 micron)."""

_INDEPENDENCE = 1e-6  # smallest singular value of the unit-normalised columns of a non-singular affine


class NiftiGeometryWarning(UserWarning):
    """A NIfTI header whose geometry is read by a documented fallback, or whose fields disagree."""


def stored_nifti_header(path: PathLike, header_class: type | None = None):
    """The header of a NIfTI file as stored: ``nibabel.load`` "fixes" some fields (a zero ``pixdim`` becomes 1).

    Args:
        path: a ``.nii`` or ``.nii.gz`` file.
        header_class: ``nibabel.Nifti1Header`` or ``nibabel.Nifti2Header``; found from the stored
            ``sizeof_hdr`` (540: NIfTI-2, else NIfTI-1) when not given. Not with ``nibabel.load``, which
            builds the affine and fails on the very geometry this header is read to diagnose.
    """
    with ImageOpener(str(path)) as fileobj:
        if header_class is None:
            block = fileobj.read(4)
            sizes = {int(np.frombuffer(block, order + "i4")[0]) for order in "<>"} if len(block) == 4 else set()
            header_class = nib.Nifti2Header if 540 in sizes else nib.Nifti1Header
            fileobj.seek(0)
        return header_class.from_fileobj(fileobj, check=False)


def _form_code(header, field: str, source: str) -> int:
    code = int(header[field])
    if code not in nib.nifti1.xform_codes.value_set():
        known = ", ".join(f"{c} ({nib.nifti1.xform_codes.label[c]})" for c in nib.nifti1.xform_codes.value_set())
        raise ImageMetadataError(source, field, f"unknown code {code}; the NIfTI standard defines {known}")
    return code


def _qform(header, source: str) -> np.ndarray:
    """The qform; ``qfac = pixdim[0]`` other than -1 counts as 1, as ``nifti1.h`` says."""
    header = header.copy()
    header["pixdim"][0] = -1.0 if header["pixdim"][0] == -1 else 1.0
    zooms = header["pixdim"][1:4]
    if not np.all(np.isfinite(zooms)) or np.any(zooms <= 0):
        raise ImageMetadataError(
            source, "qform", f"pixdim[1:4] (the qform's voxel size) must be finite and > 0, got {format_values(zooms)}"
        )
    try:
        return header.get_qform()
    except ValueError as error:  # nibabel finds no real a = sqrt(1 - b² - c² - d²)
        quaternion = [float(header[f"quatern_{k}"]) for k in "bcd"]
        raise ImageMetadataError(
            source,
            "qform",
            f"quatern_b, quatern_c, quatern_d = {format_values(quaternion)} are not a rotation: "
            "they must be finite with b² + c² + d² <= 1",
        ) from error


def _check_dim(header, source: str) -> None:
    """Raise unless ``dim[0]`` is 1 to 7 and every axis it counts holds at least one voxel."""
    dim = [int(n) for n in header["dim"]]
    if not 1 <= dim[0] <= 7:
        raise ImageMetadataError(source, "dim", f"dim[0] = {dim[0]} axes; the NIfTI standard allows 1 to 7")
    empty = [axis for axis in range(1, dim[0] + 1) if dim[axis] < 1]
    if empty:
        shown = f"dim[1:{dim[0] + 1}] = {dim[1 : dim[0] + 1]}"
        raise ImageMetadataError(source, "dim", f"{shown}: axes {empty} hold no voxel; every axis needs >= 1")


def _check_affine(affine: np.ndarray, rank: int, source: str, field: str) -> np.ndarray:
    """Spacing of the first ``rank`` axes of ``affine``, or raise on non-finite, zero or singular geometry."""
    if not np.all(np.isfinite(affine)):
        raise ImageMetadataError(source, field, f"non-finite values in the affine {affine[:3].tolist()}")
    columns = affine[:3, :rank]
    spacing = np.linalg.norm(columns, axis=0)
    if np.any(spacing <= 0):
        axes = np.flatnonzero(spacing <= 0).tolist()
        raise ImageMetadataError(
            source,
            field,
            f"zero spacing along array axes {axes} ({format_values(spacing)}); every voxel axis needs a length > 0",
        )
    if np.linalg.svd(columns / spacing, compute_uv=False).min() < _INDEPENDENCE:
        raise ImageMetadataError(
            source,
            field,
            f"singular affine: the voxel axes {columns.T.tolist()} are linearly dependent; they must span the space",
        )
    return spacing


def nifti_affine(header, source: PathLike, rtol: float = 1e-3) -> tuple[np.ndarray, str]:
    """The voxel-to-world affine the NIfTI-1 standard prescribes for ``header``, and the field it came from.

    ``sform_code > 0``: the sform; else ``qform_code > 0``: the qform; else ``pixdim`` with a
    :class:`NiftiGeometryWarning`. A warning names both spacings when the chosen affine's column norms
    differ from ``pixdim[1:r+1]`` (``r = min(dim[0], 3)``, the spatial axes) by more than ``rtol``.
    The affine is in the file's spatial unit (see :func:`nifti_to_millimetres`).

    Args:
        header: a ``nibabel`` NIfTI-1 or NIfTI-2 header, as stored in the file (nibabel's ``load``
            replaces a zero ``pixdim`` by 1; read it with ``from_fileobj(..., check=False)``).
        source: the file, for messages.
        rtol: relative tolerance of the agreement between the affine's spacing and ``pixdim``.

    Returns:
        ``(affine, field)``: a float64 ``(4, 4)`` array and ``"sform"``, ``"qform"`` or ``"pixdim"``.

    Raises:
        ImageMetadataError: naming ``source`` and the field (``sform``, ``qform``, ``pixdim``,
            ``sform_code``, ``qform_code``, ``dim``) for a form code the standard does not define, zero,
            non-finite or singular geometry, or a ``dim`` with no voxel along an axis.
    """
    source = str(source)
    _check_dim(header, source)
    rank = int(np.clip(header["dim"][0], 1, 3))
    pixdim = np.asarray(header["pixdim"][1 : rank + 1], dtype=np.float64)
    sform_code, qform_code = _form_code(header, "sform_code", source), _form_code(header, "qform_code", source)
    if sform_code > 0:
        field, affine = "sform", header.get_sform()
    elif qform_code > 0:
        field, affine = "qform", _qform(header, source)
    else:
        field = "pixdim"
        if not np.all(np.isfinite(pixdim)) or np.any(pixdim <= 0):
            raise ImageMetadataError(
                source,
                field,
                f"no sform or qform (both codes 0) and pixdim[1:{rank + 1}] = {format_values(pixdim)}; "
                "the voxel size must be finite and > 0",
            )
        warnings.warn(
            f"{source}: pixdim: sform_code and qform_code are 0 (no orientation stated); spacing "
            f"{format_values(pixdim)} taken from pixdim (NIfTI-1 method 1, ANALYZE 7.5 orientation)",
            NiftiGeometryWarning,
            stacklevel=2,
        )
        affine = header.get_base_affine()
    affine = np.asarray(affine, dtype=np.float64)
    spacing = _check_affine(affine, rank, source, field)
    if field != "pixdim" and not np.allclose(spacing, pixdim, rtol=rtol, atol=0.0):
        warnings.warn(
            f"{source}: {field}: the {field} ({field}_code {int(header[field + '_code'])}) gives spacing "
            f"{format_values(spacing)} but pixdim[1:{rank + 1}] says {format_values(pixdim)}; "
            f"using the {field}, as the NIfTI-1 standard prescribes",
            NiftiGeometryWarning,
            stacklevel=2,
        )
    return affine, field


def nifti_to_millimetres(header, affine: np.ndarray, source: PathLike) -> np.ndarray:
    """``affine`` in millimetres, from the spatial unit in ``xyzt_units`` (not stated: mm, with a warning).

    Raises:
        ImageMetadataError: ``xyzt_units`` names a spatial unit the NIfTI-1 standard does not define.
    """
    code = int(header["xyzt_units"]) & 0x07
    unit = nib.nifti1.unit_codes.label.get(code)
    if unit is None:
        raise ImageMetadataError(
            source, "xyzt_units", f"unknown spatial unit code {code} (expected 1 meter, 2 mm or 3 micron)"
        )
    if unit == "unknown":
        message = f"{source}: xyzt_units: spatial unit not stated (0); assuming millimetres"
        warnings.warn(message, NiftiGeometryWarning, stacklevel=2)
        return affine
    affine = affine.copy()
    affine[:3] *= NIFTI_UNITS[unit]
    return affine


class NiftiReader(ChannelStackReader, NibabelReader):
    """Load NIfTI images with nibabel, the affine chosen by the NIfTI-1 standard's rule and given in mm.

    A drop-in replacement for MONAI's :class:`~monai.data.NibabelReader` (same array layout, channel
    handling and metadata keys: ``affine``, ``original_affine``, ``spatial_shape``, ``space``,
    ``original_channel_dim``, the header fields), except that the header is never rewritten: the affine
    is :func:`nifti_affine` of the header as stored, converted to millimetres with
    :func:`nifti_to_millimetres`. ``meta["spacing_units"]`` is ``"mm"`` per spatial axis. Several images
    are stacked as channels (a new first axis).

    Geometry is validated in :meth:`get_data`, so that MONAI's ``LoadImage`` reports the error rather
    than falling back to another reader (it does that when ``read`` fails).

    Args:
        channel_dim: the channel dimension of the image, as in ``NibabelReader``.
        as_closest_canonical: reorient the image to the closest canonical (RAS) axis order.
        squeeze_non_spatial_dims: squeeze non-spatial singleton dimensions, as in ``NibabelReader``.
        rtol: relative tolerance of the agreement between the affine's spacing and ``pixdim`` (a
            :class:`NiftiGeometryWarning` beyond it).
        kwargs: passed to ``nibabel.load``.
    """

    def __init__(
        self,
        channel_dim: str | int | None = None,
        as_closest_canonical: bool = False,
        squeeze_non_spatial_dims: bool = False,
        rtol: float = 1e-3,
        **kwargs,
    ):
        super().__init__(
            channel_dim=channel_dim,
            as_closest_canonical=as_closest_canonical,
            squeeze_non_spatial_dims=squeeze_non_spatial_dims,
            **kwargs,
        )
        self.rtol = check_tolerance(rtol, "rtol")

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs):
        """Read one nibabel image per file name (unchecked: :meth:`get_data` checks); a list for several names.

        The reader keeps no state between ``read`` and ``get_data``, so one instance serves the worker threads
        of a ``CacheDataset`` or ``ThreadDataLoader`` at once.

        Raises:
            ImageMetadataError: ``nibabel.load`` fails on geometry (it builds the affine, and cannot from a
                qform quaternion with ``b² + c² + d² > 1``); :func:`nifti_affine` of the stored header names it.
                Or the file is not a NIfTI file nibabel can open (empty, another format, a gzip suffix on an
                uncompressed file or the reverse): field ``file``.
        """
        options = {**self.kwargs, **kwargs}
        images = []
        for name in ensure_tuple(data):
            try:
                images.append(nib.load(name, **options))
            except ValueError:  # nibabel builds the affine on load: name the file and the field if it is at fault
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NiftiGeometryWarning)
                    nifti_affine(stored_nifti_header(name), name, self.rtol)
                raise
            except ImageFileError as error:
                raise ImageMetadataError(name, "file", f"not a NIfTI file nibabel can open ({error})") from error
        return images if len(images) > 1 else images[0]

    def get_one(self, img, index: int) -> tuple[np.ndarray, dict]:
        """Array and metadata of one image (``index`` is not used: the image knows its file).

        Raises:
            ImageMetadataError: see :func:`nifti_affine` and :func:`nifti_to_millimetres`.
        """
        name = img.get_filename()
        stored = stored_nifti_header(name, type(img.header))
        affine, _ = nifti_affine(stored, name, self.rtol)
        affine = nifti_to_millimetres(stored, affine, name)
        meta = self._get_meta_dict(img)
        if MetaKeys.PIXDIM in meta:
            meta[MetaKeys.ORIGINAL_PIXDIM] = np.array(meta[MetaKeys.PIXDIM], copy=True)
        meta[MetaKeys.ORIGINAL_AFFINE] = affine
        meta[MetaKeys.AFFINE] = affine.copy()
        meta["as_closest_canonical"] = self.as_closest_canonical
        if self.as_closest_canonical:
            img = nib.as_closest_canonical(type(img)(img.dataobj, affine, img.header))
            meta[MetaKeys.AFFINE] = np.array(img.affine, dtype=np.float64)
        meta[MetaKeys.SPATIAL_SHAPE] = self._get_spatial_shape(img)
        meta[MetaKeys.SPACE] = SpaceKeys.RAS
        meta["spacing_units"] = ("mm",) * len(meta[MetaKeys.SPATIAL_SHAPE])
        array = self._get_array_data(img, name)
        if self.squeeze_non_spatial_dims:
            for d in range(array.ndim, len(meta[MetaKeys.SPATIAL_SHAPE]), -1):
                if array.shape[d - 1] == 1:
                    array = array.squeeze(axis=d - 1)
        if self.channel_dim is None:
            no_channel = array.ndim == len(meta[MetaKeys.SPATIAL_SHAPE])
            meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = float("nan") if no_channel else -1
        else:
            meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = self.channel_dim
        return array, meta
